"""Merge policy modules into one: rules deduplicated, permissions unioned,
requires recomputed.

Two access-vector rules merge when they have the same kind, sources, targets
and classes (as written) and plain permission sets: the result has the union
of the permissions, so overlapping audit2allow outputs give one rule per
(source, target, class). Rules with ``~``/``*`` permission sets merge only
with identical rules. Declarations merge by name, opaque statements by text
(first occurrence first), comments are kept once each, in order. Merging a
module with itself changes nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from avcfix.errors import UsageError
from avcfix.names.identifiers import check_identifier, check_version
from avcfix.policy.model import (
    AttributeDecl,
    AvRule,
    Declaration,
    Module,
    Opaque,
    Require,
    RoleTypes,
    Rule,
    TypeAttribute,
    TypeDecl,
    XpermRule,
)
from avcfix.policy.render import rule_te
from avcfix.policy.requires import compute_require


def _contains_block(block: tuple[str, ...], part: tuple[str, ...]) -> bool:
    n = len(part)
    return any(block[i:i + n] == part for i in range(len(block) - n + 1))


def _merge_comments(*blocks: Sequence[str]) -> tuple[str, ...]:
    """Join comment blocks, each kept whole and once: a block already contained
    in the result adds nothing, one that contains the result replaces it.
    (Lines are not deduplicated one by one: ``#`` separator lines repeat.)"""
    out: tuple[str, ...] = ()
    for block in blocks:
        block = tuple(block)
        if not block or _contains_block(out, block):
            continue
        out = block if _contains_block(block, out) else out + block
    return out


#: What makes two rules one: kind, sources, targets, classes, then the
#: permission set when not plain, or the xperm operation and complement.
RuleKey = tuple[Hashable, ...]


def _rule_key(rule: Rule) -> RuleKey:
    base = (rule.kind, rule.sources, rule.targets, rule.classes)
    if isinstance(rule, AvRule):
        return base if rule.perms.is_plain else base + (rule.perms,)
    return base + (rule.operation, rule.complement) + (() if not rule.complement else (rule.ranges,))


def _merge_rule(a: Rule, b: Rule) -> Rule:
    comments = _merge_comments(a.comments, b.comments)
    if isinstance(a, AvRule) and isinstance(b, AvRule):
        perms = a.perms.union(b.perms) if a.perms.is_plain else a.perms
        return AvRule(a.kind, a.sources, a.targets, a.classes, perms, comments)
    assert isinstance(a, XpermRule) and isinstance(b, XpermRule)
    ranges = a.ranges if a.complement else a.ranges + b.ranges
    return XpermRule(a.kind, a.sources, a.targets, a.classes, a.operation, ranges, a.complement, comments)


def _decl_key(decl: Declaration) -> tuple[str, str]:
    if isinstance(decl, TypeDecl):
        return ("type", decl.name)
    if isinstance(decl, AttributeDecl):
        return ("attribute", decl.name)
    if isinstance(decl, TypeAttribute):
        return ("typeattribute", decl.type)
    return ("role", decl.role)


def _merge_decl(a: Declaration, b: Declaration) -> Declaration:
    comments = _merge_comments(a.comments, b.comments)
    if isinstance(a, TypeDecl) and isinstance(b, TypeDecl):
        return TypeDecl(a.name, a.attributes + b.attributes, a.aliases + b.aliases, comments)
    if isinstance(a, TypeAttribute) and isinstance(b, TypeAttribute):
        return TypeAttribute(a.type, a.attributes + b.attributes, comments)
    if isinstance(a, RoleTypes) and isinstance(b, RoleTypes):
        return RoleTypes(a.role, a.types + b.types, comments)
    assert isinstance(a, AttributeDecl)  # the same key: the same kind of declaration
    return AttributeDecl(a.name, comments)


def _union_requires(modules: Sequence[Module]) -> Require:
    reqs = [m.require for m in modules]
    return Require(
        types=tuple(n for r in reqs for n in r.types),
        attributes=tuple(n for r in reqs for n in r.attributes),
        roles=tuple(n for r in reqs for n in r.roles),
        classes=tuple(c for r in reqs for c in r.classes),
        bools=tuple(n for r in reqs for n in r.bools),
    )


def merge_modules(modules: Sequence[Module], name: str | None = None, version: str | None = None) -> Module:
    """Merge ``modules`` into one (see the module docstring).

    The name, version and header style default to the first module's.
    """
    if not modules:
        raise UsageError("nothing to merge: no modules given")
    first = modules[0]
    name = check_identifier(name, "module name", "module") if name is not None else first.name
    version = check_version(version) if version is not None else first.version

    rules: dict[RuleKey, Rule] = {}
    decls: dict[tuple[str, str], Declaration] = {}
    opaque: dict[str, Opaque] = {}
    for module in modules:
        for rule in module.rules:
            key = _rule_key(rule)
            rules[key] = _merge_rule(rules[key], rule) if key in rules else rule
        for decl in module.declarations:
            key = _decl_key(decl)
            decls[key] = _merge_decl(decls[key], decl) if key in decls else decl
        for op in module.opaque:
            if op.text in opaque:
                old = opaque[op.text]
                opaque[op.text] = Opaque(op.text, _merge_comments(old.comments, op.comments))
            else:
                opaque[op.text] = op
    merged = Module(
        name=name,
        version=version,
        rules=tuple(rules.values()),
        declarations=tuple(decls.values()),
        opaque=tuple(opaque.values()),
        comments=_merge_comments(*(m.comments for m in modules)),
        style=first.style,
    )
    return merged.with_changes(require=compute_require(merged, _union_requires(modules)))


@dataclass(frozen=True, slots=True)
class RuleChanges:
    """Rule lines (``.te`` text, comments left out) added and removed between two modules."""

    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """True when any rule line was added or removed."""
        return bool(self.added or self.removed)


def rule_changes(old: Module, new: Module) -> RuleChanges:
    """What changed in the rules from ``old`` to ``new`` (sorted lines)."""
    before = {rule_te(r) for r in old.rules}
    after = {rule_te(r) for r in new.rules}
    return RuleChanges(tuple(sorted(after - before)), tuple(sorted(before - after)))


def bump_version(version: str) -> str:
    """The next module version: ``1.0`` -> ``1.1``, ``1.9`` -> ``1.10``, ``2`` -> ``2.1``."""
    check_version(version)
    parts = version.split(".")
    if len(parts) == 1:
        return f"{version}.1"
    return ".".join(parts[:-1] + [str(int(parts[-1]) + 1)])

