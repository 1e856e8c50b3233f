"""``avcfix build --style refpolicy``: the module as a policy maintainer would ship it.

The generator's raw module (allow rules, deduplicated and merged) stays the
source of truth for what is needed. This module turns it into a refpolicy
``.te`` (:mod:`avcfix.policy.refpolicy`): interface calls, pattern macros and
raw rules chosen by :func:`avcfix.policy.refpolicy.match.match` from the
interface database of the target policy's devel tree
(:mod:`avcfix.toolchain.refpolicy_db`).

Merging into an existing ``MODULE.te`` (refpolicy style or raw): what the
existing text grants is read by expanding it with m4 and the same headers;
only the needed access it does not grant yet is matched and added. The
existing interface calls and other statements are kept verbatim (with their
comments); its raw allow rules are pooled with the new raw access and
written again (one rule per target and class, the permission set chosen
anew); its ``gen_require`` names are kept. Nothing new: the file is not
written and the version stays; otherwise the version goes up by one step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from avcfix.policy.merge import _merge_comments, bump_version
from avcfix.policy.model import SELF, AvRule, Module, NameSet, Rule, RuleKind
from avcfix.policy.refpolicy.access import tokens
from avcfix.policy.refpolicy.match import Database, Plan, match
from avcfix.policy.refpolicy.render import RefModule, render_refpolicy
from avcfix.policy.render import rule_te
from avcfix.policy.te_parse import parse_te
from avcfix.toolchain import refpolicy_db

Quad = tuple[str, str, str, str]


class PlanEntry(TypedDict):
    """One interface, pattern or raw rule of a plan, for ``build --json`` (:func:`_report`)."""

    kind: str
    name: str
    statement: str
    covers: list[str]
    adds: list[str]


@dataclass
class RefBuild:
    """The refpolicy text to write and what it covers."""

    text: str
    changed: bool
    version: str
    diff: tuple[str, ...]
    #: the allow rules that must be granted (the log's, and the old raw rules), for the check and verification
    verify: Module
    report: list[PlanEntry]
    tree: refpolicy_db.DevelTree


def _quads(rules: Iterable[Rule], db: Database | None = None) -> tuple[set[Quad], list[Rule]]:
    """Allow-rule access of plain one-source rules (perm macros expanded); the other rules."""
    out: set[Quad] = set()
    rest: list[Rule] = []
    for r in rules:
        if not (isinstance(r, AvRule) and r.kind is RuleKind.ALLOW and all(
                s.is_plain for s in (r.sources, r.targets, r.classes, r.perms))):
            rest.append(r)
            continue
        perms = db.expand_perms(r.perms.names) if db is not None else frozenset(r.perms.names)
        for s in r.sources.names:
            for t in r.targets.names:
                for c in r.classes.names:
                    for p in perms:
                        out.add((s, SELF if t == s else t, c, p))
    return out, rest


def _statement_lines(text: str) -> set[str]:
    """The policy statements of a ``.te`` for the diff: no comments, no header, no gen_require block."""
    out: set[str] = set()
    in_require = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("gen_require(") or s.startswith("require {"):
            in_require = not (s.endswith("')") or s.endswith("}"))
            continue
        if in_require:
            in_require = not (s == "')" or s.startswith("}"))
            continue
        if s and not s.startswith(("#", "policy_module(", "module ")):
            out.add(s)
    return out


def _old_require(existing: Module) -> tuple[set[str], set[str], dict[str, set[str]]]:
    """Names of the existing gen_require/require blocks: (types, attributes, classes)."""
    types, attrs = set(existing.require.types), set(existing.require.attributes)
    classes = {c.name: set(c.perms) for c in existing.require.classes}
    for op in existing.opaque:
        if not op.text.startswith("gen_require"):
            continue
        toks = tokens(op.text[len("gen_require"):].replace("`", " ").replace("'", " "))
        i = 0
        while i < len(toks):
            kw = toks[i]
            j = i + 1
            while j < len(toks) and toks[j] != ";":
                j += 1
            names = [t for t in toks[i + 1:j] if t not in ("{", "}", ",", "(", ")")]
            if kw == "type":
                types.update(names)
            elif kw == "attribute":
                attrs.update(names)
            elif kw == "class" and names:
                classes.setdefault(names[0], set()).update(names[1:])
            i = j + 1
    return types, attrs, classes


def _verify_module(name: str, quads: set[Quad]) -> Module:
    groups: dict[tuple[str, str, str], set[str]] = {}
    for s, t, c, p in quads:
        groups.setdefault((s, t, c), set()).add(p)
    rules = tuple(AvRule(RuleKind.ALLOW, NameSet.of(s), NameSet.of(t), NameSet.of(c), NameSet(tuple(ps)))
                  for (s, t, c), ps in groups.items())
    from avcfix.policy.requires import with_computed_require

    return with_computed_require(Module(name=name, rules=rules))


def _line(domain: str, t: str, c: str, perms: Iterable[str]) -> str:
    ps = sorted(perms)
    body = ps[0] if len(ps) == 1 else "{ " + " ".join(ps) + " }"
    return f"allow {domain} {domain if t == SELF else t}:{c} {body};"


def _report(plan: Plan) -> list[PlanEntry]:
    out: list[PlanEntry] = []
    for use in plan.uses:
        groups: dict[tuple[str, str], set[str]] = {}
        for t, c, p in use.covers:
            groups.setdefault((t, c), set()).add(p)
        out.append({"kind": use.kind, "name": use.name, "statement": use.text,
                    "covers": [_line(plan.domain, t, c, ps) for (t, c), ps in sorted(groups.items())],
                    "adds": []})
    for raw in plan.raw:
        out.append({"kind": "perm_set" if raw.macro else "raw", "name": raw.macro or "",
                    "statement": raw.text(plan.domain),
                    "covers": [_line(plan.domain, raw.target, raw.cls, raw.perms)],
                    "adds": [_line(plan.domain, raw.target, raw.cls, raw.adds)] if raw.adds else []})
    return out


def prepare(new: Module, te_path: Path, name: str, root: Path | None, widen: bool = False) -> RefBuild:
    """The refpolicy ``.te`` for the generated module ``new`` merged into ``te_path``
    when it exists (see the module docstring). ``widen``: the matcher's widening
    rules apply (:func:`avcfix.policy.refpolicy.match.match`; ``build --complete``)."""
    tree = refpolicy_db.devel_tree(root)
    db = Database(refpolicy_db.load_database(tree))
    old_text = ""
    existing: Module | None = None
    granted: set[Quad] = set()
    if te_path.exists():
        old_text = te_path.read_text(encoding="utf-8")
        existing = parse_te(old_text, str(te_path))
        granted = set(refpolicy_db.expand_module(tree, old_text).access)
    needed, other_new = _quads(new.rules)
    missing = needed - granted
    old_lines = _statement_lines(old_text)
    extra_new = [r for r in other_new if rule_te(r) not in old_lines]
    verify = _verify_module(name, needed)
    if existing is not None and not missing and not extra_new and existing.name == name:
        return RefBuild(old_text, False, existing.version, (), verify, [], tree)

    mod = RefModule(name=name, version=bump_version(existing.version) if existing is not None else new.version)
    pool: set[Quad] = set(missing)
    evidence: dict[tuple[str, str, str], tuple[str, ...]] = {}

    def add_evidence(rules: Iterable[Rule]) -> None:
        for r in rules:
            if isinstance(r, AvRule) and r.comments:
                for s in r.sources.names:
                    for t in r.targets.names:
                        for c in r.classes.names:
                            key = (s, SELF if t == s else t, c)
                            evidence[key] = _merge_comments(evidence.get(key, ()), r.comments)

    if existing is not None:
        old_raw, old_other = _quads(existing.rules, db)
        pool |= old_raw
        add_evidence(existing.rules)
        mod.comments = _merge_comments(existing.comments, new.comments)
        mod.kept = [(op.text, op.comments) for op in existing.opaque if not op.text.startswith("gen_require")]
        mod.extra = [(rule_te(r), r.comments) for r in old_other]
        mod.keep_types, mod.keep_attributes, mod.keep_classes = _old_require(existing)
        # the old raw rules are written again: what the kept statements grant stays granted
        kept_text = "\n".join(t for t, _ in mod.kept)
        granted_kept = set(refpolicy_db.expand_module(
            tree, f"policy_module({name}, 1.0)\n{kept_text}\n").access) if mod.kept else set()
        pool -= granted_kept
    else:
        mod.comments = new.comments
    add_evidence(new.rules)
    mod.evidence = evidence
    for r in extra_new:
        mod.extra.append((rule_te(r), r.comments))
        mod.extra_types.update(n for s in (r.sources, r.targets) for n in s.names if n != SELF)
        perms = r.perms.names if isinstance(r, AvRule) else (r.operation,)
        for c in r.classes.names:
            mod.extra_classes.setdefault(c, set()).update(perms)
    report: list[PlanEntry] = []
    for domain in sorted({q[0] for q in pool}):
        want = {(t, c, p) for s, t, c, p in pool if s == domain}
        allowed = want | {(t, c, p) for s, t, c, p in granted | needed if s == domain}
        plan = match(domain, want, db, allowed, widen=widen)
        mod.plans.append(plan)
        report += _report(plan)
    text = render_refpolicy(mod, db)
    new_lines = _statement_lines(text)
    diff = tuple([f"- {x}" for x in sorted(old_lines - new_lines)] + [f"+ {x}" for x in sorted(new_lines - old_lines)])
    return RefBuild(text, True, mod.version, diff, verify, report, tree)
