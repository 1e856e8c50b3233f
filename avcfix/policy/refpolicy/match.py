"""Match a domain's needed access against refpolicy interfaces and macros.

Needed access N: the module's allow rules for one domain D, as (target,
class, permission) tuples (``self`` for D itself). The matcher chooses, in
this order:

1. **interfaces** (from the devel tree's database,
   :mod:`avcfix.toolchain.refpolicy_db`): only interfaces whose whole access
   with ``$1 = D`` (every rule, those inside ``optional``/``if``/tunable
   blocks included) is a subset of N ("exact"). Greedy: the interface that
   covers the most still-needed tuples first (its unconditional rules count
   as coverage, conditional ones do not), ties broken by name. Interfaces
   refused by the database (anything but allow rules for ``$1``) are never
   used.
2. **pattern macros** (``read_files_pattern(D, dir_t, file_t)``...): only
   when the whole expansion is a subset of N, with the same greedy rule
   (ties: name, then arguments).
3. **raw rules** for the rest, one per (target, class): the permission set
   macro whose permissions equal the needed ones exactly, when its name is
   for that class (``read_lnk_file_perms`` for ``lnk_file``); else a wider
   permission set under the rules of :data:`WIDENING` below; else the
   permissions listed.

Nothing is ever wider than N, so the module never grants more than
``audit2allow -R``'s where that one is exact. With permission completion
(``build --style refpolicy --complete``, the same switch that adds the rest
of a proved access sequence: docs/completion.md) one more step applies: a
:data:`WIDENING` rule. Each rule
names a refpolicy permission set that stands for ONE access pattern and the
pattern's defining permission; the needed permissions must contain the
defining permission and be a subset of the set, and the set adds only what
that pattern always goes with in refpolicy (support/obj_perm_sets.spt):

======================  ====================  ==========  =======================================
class                   set                   defining    why the extra permissions are the pattern
======================  ====================  ==========  =======================================
file, lnk_file,         ``read_C_perms``      read        reading a file in refpolicy is always
chr_file, blk_file,                                       ``{ getattr open read lock ioctl }``
fifo_file, sock_file                                      (lnk_file: ``{ getattr read }``): stat,
                                                          lock and ioctl on a descriptor opened for
                                                          reading reveal nothing read does not
dir                     ``list_dir_perms``    read        listing = ``{ getattr search open read
                                                          lock ioctl }``: a directory read needs
                                                          search to use the names it lists
dir                     ``search_dir_perms``  search      path walk = ``{ getattr search open }``
======================  ====================  ==========  =======================================

(``read`` on a dir takes ``list_dir_perms``; ``search`` without ``read`` takes
``search_dir_perms``.) The rendered ``.te`` says in a comment what a widened
set adds and which rule allowed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

from avcfix.policy.model import SELF

Triple = tuple[str, str, str]

#: The file-like classes of the read widening rule.
FILE_CLASSES = ("file", "lnk_file", "chr_file", "blk_file", "fifo_file", "sock_file")

#: (classes, set name template, defining permission): see the module docstring.
WIDENING: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (FILE_CLASSES, "read_{cls}_perms", "read"),
    (("dir",), "list_dir_perms", "read"),
    (("dir",), "search_dir_perms", "search"),
)

#: Qualifiers that, put before a class name, name another class (``lnk`` + ``file``).
_CLASS_QUALIFIERS = ("lnk", "chr", "blk", "fifo", "sock", "stream", "dgram", "netlink", "unix", "tcp", "udp",
                     "rawip", "packet", "key", "appletalk")


@dataclass(frozen=True, slots=True)
class Use:
    """One interface call or pattern macro in the plan."""

    kind: str  # "interface" or "pattern"
    name: str
    args: tuple[str, ...]
    #: needed tuples it grants (unconditionally)
    covers: tuple[Triple, ...]
    #: tuples beyond N (always empty for interfaces and patterns: they are exact)
    adds: tuple[Triple, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.name}({', '.join(self.args)})"


@dataclass(frozen=True, slots=True)
class Raw:
    """One raw allow rule: target, class, needed permissions, the macro written (or None)."""

    target: str
    cls: str
    perms: tuple[str, ...]
    macro: str | None = None
    #: permissions the macro adds beyond the needed ones (a WIDENING rule)
    adds: tuple[str, ...] = ()
    rule: str = ""  # the WIDENING rule's text, for the comment

    def text(self, domain: str) -> str:
        if self.macro:
            body = self.macro
        else:
            body = self.perms[0] if len(self.perms) == 1 else "{ " + " ".join(self.perms) + " }"
        return f"allow {domain} {self.target}:{self.cls} {body};"

    @property
    def granted(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.perms) | set(self.adds)))


@dataclass
class Plan:
    """What the matcher chose for one domain."""

    domain: str
    uses: list[Use] = field(default_factory=list)
    raw: list[Raw] = field(default_factory=list)


class InterfaceEntry(TypedDict):
    """One interface of the database: why it is refused ("" when usable), and
    the (target, class, permission) triples of its usable expansion."""

    refused: str
    certain: NotRequired[list[list[str]]]
    conditional: NotRequired[list[list[str]]]


class DatabasePayload(TypedDict):
    """The JSON payload of refpolicy_db.build_database."""

    schema: int
    include: str
    m4param: list[str]
    interfaces: dict[str, InterfaceEntry]
    perm_sets: dict[str, list[str]]
    patterns: dict[str, list[list[str]]]


class Database:
    """The interface database as the matcher reads it (see refpolicy_db.build_database)."""

    def __init__(self, payload: DatabasePayload) -> None:
        self.interfaces: dict[str, tuple[frozenset[Triple], frozenset[Triple]]] = {}
        for name, v in payload.get("interfaces", {}).items():
            if v.get("refused"):
                continue
            certain = frozenset((t, c, p) for t, c, p in v.get("certain", ()))
            cond = frozenset((t, c, p) for t, c, p in v.get("conditional", ()))
            if certain:
                self.interfaces[name] = (certain, cond)
        self.refused: dict[str, str] = {n: v["refused"] for n, v in payload.get("interfaces", {}).items()
                                        if v.get("refused")}
        self.perm_sets: dict[str, frozenset[str]] = {n: frozenset(p) for n, p in payload.get("perm_sets", {}).items()}
        self.patterns: dict[str, tuple[tuple[str, str, str], ...]] = {
            n: tuple((t, c, p) for t, c, p in v) for n, v in payload.get("patterns", {}).items()}
        # an index: interfaces by one of their tuples (the smallest), to find candidates fast
        self._by_key: dict[Triple, list[str]] = {}
        for name, (certain, cond) in self.interfaces.items():
            self._by_key.setdefault(min(certain | cond), []).append(name)

    def candidates(self, needed: frozenset[Triple]) -> list[str]:
        """Interfaces whose whole access (conditional included) is a subset of ``needed``."""
        out = []
        for key in needed:
            for name in self._by_key.get(key, ()):
                certain, cond = self.interfaces[name]
                if certain <= needed and cond <= needed:
                    out.append(name)
        return sorted(out)

    def pattern_access(self, name: str, a: str, b: str) -> frozenset[Triple]:
        return frozenset(((a if t == "$2" else b), c, p) for t, c, p in self.patterns[name])

    def expand_perms(self, names: Iterable[str]) -> frozenset[str]:
        """Permission names with every permission-set macro replaced by its permissions."""
        out: set[str] = set()
        for n in names:
            out |= self.perm_sets.get(n, {n})
        return frozenset(out)


def _set_for_class(name: str, cls: str) -> bool:
    """Whether the permission set ``name`` is named for class ``cls``."""
    suffix = f"_{cls}_perms"
    if not name.endswith(suffix):
        return False
    verb = name[: -len(suffix)]
    return bool(verb) and verb.rsplit("_", 1)[-1] not in _CLASS_QUALIFIERS


def choose_perms(db: Database, target: str, cls: str, perms: frozenset[str], widen: bool = False) -> Raw:
    """The raw rule for (target, class, perms): exact set, widened set (only with
    ``widen``), or the list."""
    exact = sorted((len(n), n) for n, ps in db.perm_sets.items() if ps == perms and _set_for_class(n, cls))
    if exact and len(perms) > 1:
        return Raw(target, cls, tuple(sorted(perms)), exact[0][1])
    for classes, template, defining in WIDENING if widen else ():
        if cls not in classes:
            continue
        name = template.format(cls=cls)
        ps = db.perm_sets.get(name)
        if ps is None or defining not in perms or not perms <= ps:
            continue
        adds = tuple(sorted(ps - perms))
        rule = f"rule: {name} is the refpolicy set for {cls} access needing {defining}"
        return Raw(target, cls, tuple(sorted(perms)), name, adds, rule if adds else "")
    return Raw(target, cls, tuple(sorted(perms)))


def match(domain: str, needed: Iterable[Triple], db: Database,
          allowed: Iterable[Triple] | None = None, widen: bool = False) -> Plan:
    """The plan for ``domain`` and its needed access (see the module docstring).
    ``allowed`` (default: ``needed``) is N for the subset tests: access the
    module grants already (a merge) may be granted again, not covered again.
    ``widen``: the :data:`WIDENING` rules apply (``build --complete``); without
    it nothing is wider than N."""
    remaining = set(needed)
    need = frozenset(allowed) | frozenset(remaining) if allowed is not None else frozenset(remaining)
    plan = Plan(domain)
    cands = db.candidates(need)
    while True:
        best = None
        for name in cands:
            gain = len(db.interfaces[name][0] & remaining)
            if gain and (best is None or gain > best[0]):
                best = (gain, name)
        if best is None:
            break
        name = best[1]
        covers = db.interfaces[name][0] & remaining
        plan.uses.append(Use("interface", name, (domain,), tuple(sorted(covers))))
        remaining -= covers
    targets = sorted({t for t, _, _ in remaining})
    while remaining:
        best_p = None
        for name in sorted(db.patterns):
            for a in targets:
                for b in targets:
                    acc = db.pattern_access(name, a, b)
                    if not acc <= need:
                        continue
                    gain = len(acc & remaining)
                    if gain and (best_p is None or gain > best_p[0]):
                        best_p = (gain, name, a, b, acc)
        if best_p is None:
            break
        _, name, a, b, acc = best_p
        covers = acc & remaining
        plan.uses.append(Use("pattern", name, (domain, a, b), tuple(sorted(covers))))
        remaining -= covers
    groups: dict[tuple[str, str], set[str]] = {}
    for t, c, p in remaining:
        groups.setdefault((t, c), set()).add(p)
    for (t, c), ps in sorted(groups.items()):
        plan.raw.append(choose_perms(db, t, c, frozenset(ps), widen))
    return plan


def needed_of(rules: Iterable[tuple[str, str, str, Iterable[str]]], domain: str) -> set[Triple]:
    """(target, class, perm) tuples of ``domain``'s (source, target, class, perms) rules;
    a target equal to the domain becomes ``self``."""
    out: set[Triple] = set()
    for s, t, c, ps in rules:
        if s != domain:
            continue
        for p in ps:
            out.add((SELF if t == s else t, c, p))
    return out
