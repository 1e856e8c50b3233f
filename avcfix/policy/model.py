"""Typed, frozen values for a policy module (the ``.te`` subset avcfix reads and writes).

Every value normalises itself on construction (sets sorted and deduplicated,
statements in canonical order), so two modules that mean the same thing and
were written in the same way compare equal, and rendering is deterministic.
Opaque statements (refpolicy interface calls, ``ifdef``/``optional`` blocks,
statements avcfix does not model) keep their text verbatim and their order.

This module holds values only: no parsing (``te_parse``), no rendering
(``render``), no I/O.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TypedDict, Unpack

#: Control characters, DEL, and Unicode line/paragraph separators.
_UNSAFE_COMMENT_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

#: Longest comment line kept.
MAX_COMMENT_LENGTH = 4000


def clean_comment(text: str, limit: int = MAX_COMMENT_LENGTH) -> str:
    """Make ``text`` safe as the body of one ``#`` (or CIL ``;``) comment line.

    Newlines, carriage returns and every other control character become a
    space, so text from a log can never end the comment and start a statement.
    """
    cleaned = _UNSAFE_COMMENT_RE.sub(" ", str(text)).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3].rstrip() + "..."
    return cleaned


def _uniq_sorted(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))


def _uniq_ordered(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)


def _clean_comments(comments: Iterable[str]) -> tuple[str, ...]:
    return tuple(clean_comment(c) for c in comments)


class HeaderStyle(str, enum.Enum):
    """How the module header is written."""

    MODULE = "module"                # module NAME VERSION;
    POLICY_MODULE = "policy_module"  # policy_module(NAME, VERSION)  (refpolicy, m4)


class RuleKind(str, enum.Enum):
    """Access-vector rule keywords."""

    ALLOW = "allow"
    AUDITALLOW = "auditallow"
    DONTAUDIT = "dontaudit"
    NEVERALLOW = "neverallow"


class XpermKind(str, enum.Enum):
    """Extended-permission rule keywords."""

    ALLOWXPERM = "allowxperm"
    AUDITALLOWXPERM = "auditallowxperm"
    DONTAUDITXPERM = "dontauditxperm"
    NEVERALLOWXPERM = "neverallowxperm"


#: Sort rank of a rule kind inside one (source, target, class): an allow rule
#: is followed by its allowxperm, then the audit rules, then neverallow.
_KIND_RANK = {
    RuleKind.ALLOW: 0,
    XpermKind.ALLOWXPERM: 1,
    RuleKind.AUDITALLOW: 2,
    XpermKind.AUDITALLOWXPERM: 3,
    RuleKind.DONTAUDIT: 4,
    XpermKind.DONTAUDITXPERM: 5,
    RuleKind.NEVERALLOW: 6,
    XpermKind.NEVERALLOWXPERM: 7,
}

#: A rule's rendering order: source, target and class texts, kind rank, then
#: the permissions (av rule) or the operation (xperm rule).
SortKey = tuple[str, str, str, int, str]

#: The keyword for "the source type itself" in a target set.
SELF = "self"


@dataclass(frozen=True, slots=True)
class NameSet:
    """A set of names as written in a rule: ``a``, ``{ a b -c }``, ``~{ a }`` or ``*``."""

    names: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    complement: bool = False
    star: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", _uniq_sorted(self.names))
        object.__setattr__(self, "excluded", _uniq_sorted(self.excluded))

    @classmethod
    def of(cls, *names: str) -> NameSet:
        """A plain set of the given names."""
        return cls(tuple(names))

    @property
    def is_plain(self) -> bool:
        """True for a plain list of names (no ``~``, ``*`` or ``-name``)."""
        return not (self.complement or self.star or self.excluded)

    @property
    def single(self) -> str | None:
        """The one name of a plain one-name set, else ``None``."""
        return self.names[0] if self.is_plain and len(self.names) == 1 else None

    def union(self, other: NameSet) -> NameSet:
        """The union of two plain sets."""
        if not (self.is_plain and other.is_plain):
            raise ValueError("only plain name sets can be unioned")
        return NameSet(self.names + other.names)

    def __str__(self) -> str:
        if self.star:
            return "*"
        items = list(self.names) + [f"-{n}" for n in self.excluded]
        body = items[0] if len(items) == 1 and not self.excluded else "{ " + " ".join(items) + " }"
        return ("~" if self.complement else "") + body


@dataclass(frozen=True, slots=True)
class ClassPerms:
    """One ``class NAME { perms }`` line of a require block."""

    name: str
    perms: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "perms", _uniq_sorted(self.perms))


@dataclass(frozen=True, slots=True)
class Require:
    """A module's ``require { ... }`` block."""

    types: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    classes: tuple[ClassPerms, ...] = ()
    bools: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("types", "attributes", "roles", "bools"):
            object.__setattr__(self, name, _uniq_sorted(getattr(self, name)))
        merged: dict[str, set[str]] = {}
        for cp in self.classes:
            merged.setdefault(cp.name, set()).update(cp.perms)
        object.__setattr__(
            self, "classes", tuple(ClassPerms(n, tuple(p)) for n, p in sorted(merged.items()))
        )

    @property
    def is_empty(self) -> bool:
        """True when nothing is required."""
        return not (self.types or self.attributes or self.roles or self.classes or self.bools)

    def class_perms(self, name: str) -> tuple[str, ...]:
        """The required permissions of class ``name`` (empty when not required)."""
        for cp in self.classes:
            if cp.name == name:
                return cp.perms
        return ()


@dataclass(frozen=True, slots=True)
class AvRule:
    """``allow|auditallow|dontaudit|neverallow SOURCES TARGETS:CLASSES PERMS;``"""

    kind: RuleKind
    sources: NameSet
    targets: NameSet
    classes: NameSet
    perms: NameSet
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", RuleKind(self.kind))
        object.__setattr__(self, "comments", _clean_comments(self.comments))

    @property
    def sort_key(self) -> SortKey:
        """Rendering order: by source, target, class, then kind."""
        return (str(self.sources), str(self.targets), str(self.classes), _KIND_RANK[self.kind], str(self.perms))


@dataclass(frozen=True, slots=True)
class XpermRule:
    """``allowxperm SOURCES TARGETS:CLASSES OPERATION { 0x.. 0x..-0x.. };``

    ``ranges`` holds inclusive (low, high) pairs, merged and sorted.
    """

    kind: XpermKind
    sources: NameSet
    targets: NameSet
    classes: NameSet
    operation: str
    ranges: tuple[tuple[int, int], ...]
    complement: bool = False
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", XpermKind(self.kind))
        object.__setattr__(self, "ranges", merge_ranges(self.ranges))
        object.__setattr__(self, "comments", _clean_comments(self.comments))

    @property
    def sort_key(self) -> SortKey:
        """Rendering order: right after the allow rule of the same source, target and class."""
        return (str(self.sources), str(self.targets), str(self.classes), _KIND_RANK[self.kind], self.operation)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sort inclusive integer ranges and join the ones that overlap or touch."""
    out: list[list[int]] = []
    for lo, hi in sorted((min(a, b), max(a, b)) for a, b in ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


@dataclass(frozen=True, slots=True)
class TypeDecl:
    """``type NAME [alias ...] [, attr, ...];``"""

    name: str
    attributes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _uniq_sorted(self.attributes))
        object.__setattr__(self, "aliases", _uniq_sorted(self.aliases))
        object.__setattr__(self, "comments", _clean_comments(self.comments))


@dataclass(frozen=True, slots=True)
class AttributeDecl:
    """``attribute NAME;``"""

    name: str
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "comments", _clean_comments(self.comments))


@dataclass(frozen=True, slots=True)
class TypeAttribute:
    """``typeattribute TYPE attr, ...;``"""

    type: str
    attributes: tuple[str, ...]
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _uniq_sorted(self.attributes))
        object.__setattr__(self, "comments", _clean_comments(self.comments))


@dataclass(frozen=True, slots=True)
class RoleTypes:
    """``role ROLE types { ... };`` (or ``role ROLE;`` when ``types`` is empty)."""

    role: str
    types: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", _uniq_sorted(self.types))
        object.__setattr__(self, "comments", _clean_comments(self.comments))


@dataclass(frozen=True, slots=True)
class Opaque:
    """A statement kept verbatim: a refpolicy interface call such as
    ``init_daemon_domain(x_t, x_exec_t)``, an ``ifdef``/``optional``/``if`` block,
    or a statement avcfix does not model (``type_transition``...)."""

    text: str
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", self.text.strip())
        object.__setattr__(self, "comments", _clean_comments(self.comments))

    @property
    def domain(self) -> str | None:
        """The first argument of an interface call when it is a plain name
        (``corenet_tcp_bind_http_port(httpd_t)`` -> ``httpd_t``): the domain
        section the call is rendered in, as audit2allow -R does. ``None`` for
        anything else (``ifdef(`x', ...)``, blocks, statements)."""
        m = _CALL_DOMAIN_RE.match(self.text)
        return m.group(1) if m else None


#: ``name(first_arg`` followed by ``,`` or ``)``, first_arg a plain identifier.
_CALL_DOMAIN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\(\s*([A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)\s*[,)]")


Rule = AvRule | XpermRule
Declaration = TypeDecl | AttributeDecl | TypeAttribute | RoleTypes
Statement = AvRule | XpermRule | TypeDecl | AttributeDecl | TypeAttribute | RoleTypes | Opaque


class ModuleChanges(TypedDict, total=False):
    """The fields ``Module.with_changes`` may replace."""

    name: str
    version: str
    require: Require
    rules: tuple[Rule, ...]
    declarations: tuple[Declaration, ...]
    opaque: tuple[Opaque, ...]
    comments: tuple[str, ...]
    style: HeaderStyle


@dataclass(frozen=True, slots=True)
class Module:
    """A policy module: header, comments, require block, declarations, opaque
    statements and rules, each kind kept in canonical order."""

    name: str
    version: str = "1.0"
    require: Require = field(default_factory=Require)
    rules: tuple[Rule, ...] = ()
    declarations: tuple[Declaration, ...] = ()
    opaque: tuple[Opaque, ...] = ()
    comments: tuple[str, ...] = ()
    style: HeaderStyle = HeaderStyle.MODULE

    def __post_init__(self) -> None:
        object.__setattr__(self, "style", HeaderStyle(self.style))
        object.__setattr__(self, "comments", _clean_comments(self.comments))
        object.__setattr__(self, "rules", tuple(sorted(set(self.rules), key=_rule_order)))
        object.__setattr__(
            self, "declarations", tuple(sorted(set(self.declarations), key=_declaration_order))
        )
        seen: dict[str, Opaque] = {}
        for op in self.opaque:
            seen.setdefault(op.text, op)
        # Calls on a domain that has rules go to that domain's section (sorted
        # like the rules); everything else keeps its order, before the sections.
        rule_domains = {str(r.sources) for r in self.rules}
        declared = self.declared_types

        def section(op: Opaque) -> tuple[bool, str]:
            name = _section(op, rule_domains, declared)
            return (name is not None, name or "")

        object.__setattr__(self, "opaque", tuple(sorted(seen.values(), key=section)))

    def section_of(self, op: Opaque) -> str | None:
        """The domain section an opaque statement is rendered in (audit2allow -R
        style): the first argument of an interface call, when the module has
        rules for it or does not declare it (calls on types declared here, like
        ``files_type(x_t)``, stay with the declarations). ``None``: not in a section."""
        return _section(op, {str(r.sources) for r in self.rules}, self.declared_types)

    def with_changes(self, **changes: Unpack[ModuleChanges]) -> Module:
        """A copy with some fields replaced (normalised again)."""
        return replace(self, **changes)

    @property
    def av_rules(self) -> tuple[AvRule, ...]:
        """The access-vector rules (allow, dontaudit...), in order."""
        return tuple(r for r in self.rules if isinstance(r, AvRule))

    @property
    def xperm_rules(self) -> tuple[XpermRule, ...]:
        """The extended-permission rules (allowxperm...), in order."""
        return tuple(r for r in self.rules if isinstance(r, XpermRule))

    @property
    def declared_types(self) -> frozenset[str]:
        """Types (and their aliases) this module declares."""
        out: set[str] = set()
        for d in self.declarations:
            if isinstance(d, TypeDecl):
                out.add(d.name)
                out.update(d.aliases)
        return frozenset(out)

    @property
    def declared_attributes(self) -> frozenset[str]:
        """Attributes this module declares."""
        return frozenset(d.name for d in self.declarations if isinstance(d, AttributeDecl))

    @property
    def attribute_names(self) -> frozenset[str]:
        """Attributes the module names, required or declared."""
        return frozenset(self.require.attributes) | self.declared_attributes

    @property
    def domains(self) -> tuple[str, ...]:
        """The source-set texts of the rules, in section order."""
        return tuple(_uniq_ordered(str(r.sources) for r in self.rules))


def _section(op: Opaque, rule_domains: set[str], declared: frozenset[str]) -> str | None:
    domain = op.domain
    if domain is None or (domain not in rule_domains and domain in declared):
        return None
    return domain


def _rule_order(rule: Rule) -> tuple[str, str, str, int, str, str]:
    return rule.sort_key + (repr(rule),)


_DECL_RANK = {TypeDecl: 0, AttributeDecl: 1, TypeAttribute: 2, RoleTypes: 3}


def _declaration_order(decl: Declaration) -> tuple[int, str, str]:
    name = decl.name if isinstance(decl, (TypeDecl, AttributeDecl)) else (
        decl.type if isinstance(decl, TypeAttribute) else decl.role
    )
    return (_DECL_RANK[type(decl)], name, repr(decl))
