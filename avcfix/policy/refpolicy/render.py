"""Render a refpolicy-style module: ``policy_module``, one ``gen_require``,
then per domain its interface calls, pattern macros and raw allow rules.

Deterministic: domains sorted, interface calls in the matcher's order (most
coverage first, then name), raw rules by target and class. Statements kept
from an existing ``.te`` (hand-written calls, blocks) come first, verbatim.

Comment lines carry the evidence of the rules they stand for. Log text is
attacker-controlled and the ``.te`` goes through m4: every comment is one
line (:func:`~avcfix.policy.model.clean_comment`) and has m4's quote
characters (`` ` `` and ``'``) replaced by ``"``, so it can never close a
quoted argument the text is placed in; at top level m4 copies a ``#``
comment to the end of its line without expanding it. Names never come from
comments: types and classes were checked by the generator (no m4 word).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from avcfix.policy.model import SELF, clean_comment
from avcfix.policy.refpolicy.match import Database, Plan

INDENT = "\t"


def safe_comment(text: str) -> str:
    """One comment line's body, with no newline and no m4 quote character."""
    return clean_comment(text).replace("`", '"').replace("'", '"')


def _comments(lines: Iterable[str]) -> list[str]:
    out = []
    for c in lines:
        c = safe_comment(c)
        out.append(f"# {c}" if c else "#")
    return out


@dataclass
class RefModule:
    """What a refpolicy-style ``.te`` holds."""

    name: str
    version: str
    comments: tuple[str, ...] = ()
    #: statements kept verbatim from an existing module (text, comments)
    kept: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    #: names the kept statements require (from the old gen_require)
    keep_types: set[str] = field(default_factory=set)
    keep_attributes: set[str] = field(default_factory=set)
    keep_classes: dict[str, set[str]] = field(default_factory=dict)
    plans: list[Plan] = field(default_factory=list)
    #: evidence comments per (domain, target, class)
    evidence: dict[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)
    #: other rules (dontaudit, allowxperm...) as .te text, with their comments
    extra: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    #: names the extra rules need (types, classes with permissions)
    extra_types: set[str] = field(default_factory=set)
    extra_classes: dict[str, set[str]] = field(default_factory=dict)


def require_of(mod: RefModule, db: Database) -> tuple[list[str], dict[str, set[str]], list[str]]:
    """(types, {class: perms}, attributes) the module's own raw rules and pattern macros name."""
    types: set[str] = set(mod.keep_types) | set(mod.extra_types)
    classes: dict[str, set[str]] = {c: set(p) for c, p in mod.keep_classes.items()}
    for c, ps in mod.extra_classes.items():
        classes.setdefault(c, set()).update(ps)
    for plan in mod.plans:
        for use in plan.uses:
            if use.kind == "pattern":
                types.update(use.args)
                for _t, c, p in db.pattern_access(use.name, use.args[1], use.args[2]):
                    classes.setdefault(c, set()).add(p)
            else:
                types.add(plan.domain)
        for raw in plan.raw:
            types.update((plan.domain, raw.target))
            classes.setdefault(raw.cls, set()).update(raw.granted)
    types.discard(SELF)
    attributes = sorted(mod.keep_attributes - types)
    return sorted(types - mod.keep_attributes), classes, attributes


def render_refpolicy(mod: RefModule, db: Database) -> str:
    """The module as refpolicy ``.te`` text, ending with one newline."""
    blocks: list[list[str]] = [[f"policy_module({mod.name}, {mod.version})"]]
    if mod.comments:
        blocks.append(_comments(mod.comments))
    types, classes, attributes = require_of(mod, db)
    req = [f"{INDENT}type {t};" for t in types] + [f"{INDENT}attribute {a};" for a in attributes]
    req += [f"{INDENT}class {c} " + (next(iter(ps)) if len(ps) == 1 else "{ " + " ".join(sorted(ps)) + " }") + ";"
            for c, ps in sorted(classes.items()) if ps]
    if req:
        blocks.append(["gen_require(`"] + req + ["')"])
    if mod.kept:
        lines: list[str] = []
        for text, comments in mod.kept:
            lines += _comments(comments) + [text]
        blocks.append(lines)
    for plan in sorted(mod.plans, key=lambda p: p.domain):
        lines = ["########################################", "#", f"# {plan.domain} local policy", "#"]
        for use in plan.uses:
            seen: list[str] = []
            for t, c in sorted({(t, c) for t, c, _ in use.covers}):
                for line in mod.evidence.get((plan.domain, t, c), ()):
                    if line not in seen:
                        seen.append(line)
            lines += [""] + _comments(seen) + [use.text]
        for raw in plan.raw:
            notes = list(mod.evidence.get((plan.domain, raw.target, raw.cls), ()))
            if raw.adds:
                notes.append(f"{raw.macro} adds {' '.join(raw.adds)} beyond the log ({raw.rule})")
            lines += [""] + _comments(notes) + [raw.text(plan.domain)]
        blocks.append(lines)
    if mod.extra:
        lines = []
        for text, comments in mod.extra:
            lines += _comments(comments) + [text]
        blocks.append(lines)
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"
