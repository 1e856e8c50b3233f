"""The target policy as the toolchain sees it: one binary policy file read with setools.

The toolchain asks three questions of the policy a module is built for or
installed into: is it MLS/MCS (``checkmodule -M``), which of the names a module
requires does it lack (a clear message instead of libsemanage's CIL line), and
which permissions do its allow rules grant (verification after an install).
It is the toolchain's one view of a binary policy through setools, kept with
the other policy readers in :mod:`avcfix.index`; the core never imports setools.
:class:`TargetPolicy` is the reference; :class:`TargetCache` answers from the
policy index the caller shares when there is one
(:class:`avcfix.index.target.IndexTarget`, the same answers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from avcfix.errors import PolicyError
from avcfix.index.bindings import require

if TYPE_CHECKING:
    from avcfix.index.target import IndexTarget

#: A rule of setools' policy (TERule, AVRuleXperm): setools has no type information.
SetoolsRule = Any

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RuleKey:
    """One (source type, target type, class) triple; ``target`` may be ``self``."""

    source: str
    target: str
    tclass: str


@dataclass(frozen=True, slots=True)
class Names:
    """Names a module refers to, by kind (sorted tuples)."""

    types: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.types or self.attributes or self.classes or self.roles)

    def describe(self) -> str:
        """``type foo_t, class bar`` for a message."""
        parts = [f"type {n}" for n in self.types]
        parts += [f"attribute {n}" for n in self.attributes]
        parts += [f"class {n}" for n in self.classes]
        parts += [f"role {n}" for n in self.roles]
        return ", ".join(parts)


class TargetPolicy:
    """A binary policy opened with setools (read only, opened once per use)."""

    __slots__ = ("path", "_pol")

    def __init__(self, path: Path) -> None:
        setools = require("setools", "checking a module against its target policy")  # the toolchain's one view
        self.path = Path(path)
        if not self.path.is_file():
            raise PolicyError(f"{self.path}: no such policy file")
        try:
            self._pol = setools.SELinuxPolicy(str(self.path))
        except Exception as exc:  # setools raises several unrelated types
            raise PolicyError(f"{self.path}: not a readable binary policy ({exc})") from exc

    @property
    def mls(self) -> bool:
        """True when the policy is MLS or MCS (``checkmodule`` then needs ``-M``)."""
        return bool(self._pol.mls)

    def defines(self, name: str) -> bool:
        """Whether ``name`` is a type, attribute, alias, class, permission, role or
        user of this policy."""
        if name in self.permissions():
            return True
        for lookup in (self._pol.lookup_type_or_attr, self._pol.lookup_class,
                       self._pol.lookup_role, self._pol.lookup_user):
            try:
                lookup(name)
                return True
            except Exception:  # setools' InvalidSymbol family
                continue
        return False

    def permissions(self) -> frozenset[str]:
        """Every permission name of every class (own and inherited from a common)."""
        perms: set[str] = set()
        for cls in self._pol.classes():
            perms.update(str(p) for p in cls.perms)
            try:
                perms.update(str(p) for p in cls.common.perms)
            except Exception:  # a class without a common
                pass
        return frozenset(perms)

    def missing_permissions(self, wanted: Iterable[tuple[str, Iterable[str]]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(class, perms)`` pairs whose permissions the policy's class lacks
        (sorted; classes the policy lacks altogether are left to :meth:`missing`)."""
        out = []
        for cname, perms in sorted((c, tuple(p)) for c, p in wanted):
            try:
                cls = self._pol.lookup_class(cname)
            except Exception:  # unknown class: reported by missing()
                continue
            have = {str(p) for p in cls.perms}
            try:
                have.update(str(p) for p in cls.common.perms)
            except Exception:  # a class without a common
                pass
            lacking = tuple(sorted(set(perms) - have))
            if lacking:
                out.append((cname, lacking))
        return tuple(out)

    def missing(self, names: Names) -> Names:
        """The subset of ``names`` this policy does not define."""
        types = {str(t) for t in self._pol.types()}
        attrs = {str(a) for a in self._pol.typeattributes()}
        classes = {str(c) for c in self._pol.classes()}
        roles = {str(r) for r in self._pol.roles()}
        return Names(
            types=tuple(sorted(n for n in set(names.types) if n not in types and n != "self")),
            attributes=tuple(sorted(n for n in set(names.attributes) if n not in attrs)),
            classes=tuple(sorted(n for n in set(names.classes) if n not in classes)),
            roles=tuple(sorted(n for n in set(names.roles) if n not in roles)),
        )

    def granted(self, keys: Iterable[RuleKey], ruletype: str = "allow") -> dict[RuleKey, frozenset[str]]:
        """The permissions that ``ruletype`` rules grant for each key.

        Rules written on attributes count for every type in them, ``self``
        matches a rule whose target is the source itself, and a conditional
        rule counts only when its booleans, at the values the policy sets,
        enable it. One pass over the policy's rules answers every key.
        """
        return self._granted(keys, ruletype, lambda rule: {str(p) for p in rule.perms})

    def granted_ioctls(self, keys: Iterable[RuleKey]) -> dict[RuleKey, frozenset[int]]:
        """The ioctl commands that ``allowxperm ... ioctl`` rules grant for each key."""
        def cmds(rule: SetoolsRule) -> set[int]:
            return {int(c) for c in rule.perms} if str(rule.xperm_type) == "ioctl" else set()

        return self._granted(keys, "allowxperm", cmds)

    def _granted(self, keys: Iterable[RuleKey], ruletype: str,
                 perms_of: Callable[[SetoolsRule], set[_T]]) -> dict[RuleKey, frozenset[_T]]:
        """One pass over the rules of ``ruletype``; ``perms_of(rule)`` gives what a rule grants."""
        wanted = sorted(set(keys), key=lambda k: (k.source, k.target, k.tclass))
        granted: dict[RuleKey, set[_T]] = {k: set() for k in wanted}
        if not wanted:
            return {}
        # name of a type or attribute -> the wanted type names it stands for
        expand: dict[str, set[str]] = {}
        for name in {k.source for k in wanted} | {k.target for k in wanted if k.target != "self"}:
            expand.setdefault(name, set()).add(name)
            try:
                ptype = self._pol.lookup_type(name)
            except Exception:  # unknown type: it gets no permissions
                continue
            for attr in ptype.attributes():
                expand.setdefault(str(attr), set()).add(name)
        by_class: dict[str, list[RuleKey]] = {}
        for k in wanted:
            by_class.setdefault(k.tclass, []).append(k)
        for rule in self._pol.terules():
            if str(rule.ruletype) != ruletype:
                continue
            keys_c = by_class.get(str(rule.tclass))
            if not keys_c:
                continue
            srcs = expand.get(str(rule.source))
            if not srcs:
                continue
            tname = str(rule.target)
            tgts = expand.get(tname, set())
            if tname != "self" and not tgts:
                continue
            if not _enabled(rule):
                continue
            perms = perms_of(rule)
            for k in keys_c:
                if k.source not in srcs:
                    continue
                if k.target == "self":
                    hit = tname == "self" or k.source in tgts
                else:
                    hit = k.target in tgts or (tname == "self" and k.target == k.source)
                if hit:
                    granted[k] |= perms
        return {k: frozenset(v) for k, v in granted.items()}


#: A policy file's identity: absolute path, device, inode, size, mtime and ctime (ns).
_Identity = tuple[str, int, int, int, int, int]


class TargetCache:
    """The target policy, read once per policy file.

    ``avcfix build`` and the loop's installer keep one: the check before an
    install and the verification after it each ask for the policy file, and
    the rebuilt policy the verification reads is the next install's target.

    ``facts``: ``facts(path)`` gives the open policy facts of ``path`` that
    the caller shares (the loop's and ``build``'s
    :class:`~avcfix.facts.CurrentFacts`), or ``None`` for another
    file. When they are a policy index
    (:class:`~avcfix.index.facts.IndexFacts`), the answers come from it
    (:class:`~avcfix.index.target.IndexTarget`), and setools is not opened:
    the rebuilt policy's index is built once, for the verification and the
    next explain. Otherwise (no ``facts``, another file, or
    ``AVCFIX_FACTS=setools``) the file is opened with setools
    (:class:`TargetPolicy`), and kept while it is unchanged (same path,
    inode, size and modification time); only the latest is kept. ``opens``
    counts the setools opens.
    """

    __slots__ = ("opens", "_key", "_policy", "_facts", "_index")

    def __init__(self, facts: Callable[[Path], object] | None = None) -> None:
        self.opens = 0
        self._key: _Identity | None = None
        self._policy: TargetPolicy | None = None
        self._facts = facts
        self._index: tuple[object, IndexTarget] | None = None  # (facts, their IndexTarget)

    @staticmethod
    def _identity(path: Path) -> _Identity | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def get(self, path: Path) -> TargetPolicy | IndexTarget:
        """The target policy at ``path``: a :class:`TargetPolicy` or an ``IndexTarget`` (same interface)."""
        # AVCFIX_FACTS=setools: the facts are setools' own (open_facts), never asked for the target
        if self._facts is not None and os.environ.get("AVCFIX_FACTS", "index") != "setools":
            facts = self._facts(Path(path))
            if facts is not None and getattr(facts, "db", None) is not None:  # a policy index
                if self._index is None or self._index[0] is not facts:
                    from avcfix.index.target import IndexTarget

                    self._index = (facts, IndexTarget(facts))
                return self._index[1]
        key = self._identity(Path(path))
        if key is not None and key == self._key and self._policy is not None:
            return self._policy
        self._key, self._policy = None, None  # the old policy is not kept while the new one is read
        policy = TargetPolicy(path)
        self.opens += 1
        self._key, self._policy = key, policy
        return policy


def _enabled(rule: SetoolsRule) -> bool:
    """Whether a rule is in effect with the booleans at their values in the policy
    (an unconditional rule always is)."""
    try:
        cond = rule.conditional
    except AttributeError:  # setools' RuleNotConditional
        return True
    state = {str(b): bool(b.state) for b in cond.booleans}
    return bool(cond.evaluate(**state)) == bool(rule.conditional_block)


def policy_is_mls(path: Path) -> bool:
    """Whether the binary policy at ``path`` is MLS/MCS (read from the file, not the host)."""
    return TargetPolicy(path).mls
