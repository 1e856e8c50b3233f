"""Compute a module's ``require`` block from what its statements use.

A name used by a rule and not declared by the module must be required; a
class must be required with every permission a rule names. Whether a bare
name is a type or an attribute cannot be told from a rule, so the previous
require block (``keep``) decides, and names in attribute position
(``typeattribute T ATTR``, ``type T, ATTR``) are attributes. Names of the
previous block that opaque statements (macro calls, ``ifdef`` blocks) use are
kept, and so are booleans (rules do not mention them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from avcfix.policy.model import (
    SELF,
    AttributeDecl,
    AvRule,
    ClassPerms,
    Module,
    Require,
    RoleTypes,
    TypeAttribute,
    TypeDecl,
)

_TOKEN_RE = re.compile(r"[A-Za-z0-9_.\-]+")


def _opaque_tokens(module: Module) -> frozenset[str]:
    tokens: set[str] = set()
    for op in module.opaque:
        tokens.update(_TOKEN_RE.findall(op.text))
    return frozenset(tokens)


def compute_require(module: Module, keep: Require | None = None) -> Require:
    """The require block ``module`` needs (see the module docstring)."""
    keep = keep if keep is not None else module.require
    declared_types = set(module.declared_types)
    declared_attrs = set(module.declared_attributes)
    declared_roles = {d.role for d in module.declarations if isinstance(d, RoleTypes) and not d.types}

    type_names: set[str] = set()
    attr_names: set[str] = set()
    roles: set[str] = set()
    classes: dict[str, set[str]] = {}

    def use_types(names: Iterable[str]) -> None:
        type_names.update(n for n in names if n != SELF)

    for rule in module.rules:
        use_types(rule.sources.names + rule.sources.excluded)
        use_types(rule.targets.names + rule.targets.excluded)
        if isinstance(rule, AvRule):
            perms = rule.perms.names + rule.perms.excluded
        else:
            perms = (rule.operation,)
        for cls in rule.classes.names + rule.classes.excluded:
            classes.setdefault(cls, set()).update(perms)
    for decl in module.declarations:
        if isinstance(decl, TypeDecl):
            attr_names.update(decl.attributes)
        elif isinstance(decl, TypeAttribute):
            type_names.add(decl.type)
            attr_names.update(decl.attributes)
        elif isinstance(decl, RoleTypes) and decl.types:
            roles.add(decl.role)
            type_names.update(decl.types)
        elif isinstance(decl, AttributeDecl):
            pass

    known_attrs = set(keep.attributes) | attr_names
    used = (type_names | attr_names) - declared_types - declared_attrs
    types = {n for n in used if n not in known_attrs}
    attributes = {n for n in used if n in known_attrs}
    roles -= declared_roles

    tokens = _opaque_tokens(module)
    types.update(n for n in keep.types if n in tokens and n not in declared_types)
    attributes.update(n for n in keep.attributes if n in tokens and n not in declared_attrs)
    roles.update(n for n in keep.roles if n in tokens and n not in declared_roles)
    for cp in keep.classes:
        if cp.name in tokens:
            classes.setdefault(cp.name, set()).update(cp.perms)
    classes = {name: perms for name, perms in classes.items() if perms}

    return Require(
        types=tuple(types),
        attributes=tuple(attributes),
        roles=tuple(roles),
        classes=tuple(ClassPerms(n, tuple(p)) for n, p in classes.items()),
        bools=keep.bools,
    )


def with_computed_require(module: Module, keep: Require | None = None) -> Module:
    """``module`` with its require block recomputed by :func:`compute_require`."""
    return module.with_changes(require=compute_require(module, keep))
