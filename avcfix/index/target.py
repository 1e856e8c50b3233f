"""The toolchain's questions about a target policy, answered from its index.

:class:`IndexTarget` has the interface of
:class:`avcfix.index.setools_target.TargetPolicy` (setools), and the same
answers, which ``tests/integration/test_index_target.py`` checks on real modules and
policies: which names the policy defines, which of a module's required
names and class permissions it lacks (before an install), and which
permissions its allow and allowxperm rules grant for (source, target, class)
triples (the verification after an install).

It wraps an open :class:`~avcfix.index.facts.IndexFacts` without owning it:
the loop and ``avcfix build`` share one index per policy file between the
explainer, the check before an install and the verification after it, and
its owner closes it.

One quirk of the setools implementation is kept on purpose: a type alias
given as a rule's source or target matches the rules written on the
attributes of its type, not those written on the type itself (setools'
rules name the type, never the alias).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from avcfix.index.build import ALLOW, AUDITALLOW, DONTAUDIT, parse_ranges

_KINDS = {"allow": ALLOW, "auditallow": AUDITALLOW, "dontaudit": DONTAUDIT}


class IndexTarget:
    """A target policy as the toolchain sees it, read from a policy index."""

    __slots__ = ("facts", "path", "_names", "_perms")

    def __init__(self, facts: Any) -> None:
        self.facts = facts
        self.path = Path(facts.path)
        self._names: dict[str, frozenset[str]] | None = None
        self._perms: frozenset[str] | None = None

    @property
    def mls(self) -> bool:
        return bool(self.facts.mls)

    def _sets(self) -> dict[str, frozenset[str]]:
        """Names by kind: types (no aliases), attributes, aliases, classes, roles, users."""
        if self._names is None:
            db = self.facts.db
            types: set[str] = set()
            attrs: set[str] = set()
            for name, attr in db.execute("SELECT name, attr FROM types"):
                (attrs if attr else types).add(name)
            self._names = {
                "types": frozenset(types),
                "attributes": frozenset(attrs),
                "aliases": frozenset(a for (a,) in db.execute("SELECT alias FROM aliases")),
                "classes": frozenset(self.facts._classes),
                "roles": frozenset(r for (r,) in db.execute("SELECT name FROM roles")),
                "users": frozenset(u for (u,) in db.execute("SELECT name FROM users")),
            }
        return self._names

    def permissions(self) -> frozenset[str]:
        """Every permission name of every class (own and inherited from a common)."""
        if self._perms is None:
            self._perms = frozenset(p for _cid, _bits, names in self.facts._classes.values() for p in names)
        return self._perms

    def defines(self, name: str) -> bool:
        """Whether ``name`` is a type, attribute, alias, class, permission, role or user."""
        if name in self.permissions():
            return True
        sets = self._sets()
        return any(name in sets[k] for k in ("types", "attributes", "aliases", "classes", "roles", "users"))

    def missing_permissions(self, wanted: Iterable[tuple[str, Iterable[str]]]
                            ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(class, perms)`` pairs whose permissions the policy's class lacks (sorted;
        unknown classes are left to :meth:`missing`)."""
        out = []
        for cname, perms in sorted((c, tuple(p)) for c, p in wanted):
            cls = self.facts._classes.get(cname)
            if cls is None:
                continue
            lacking = tuple(sorted(set(perms) - set(cls[1])))
            if lacking:
                out.append((cname, lacking))
        return tuple(out)

    def missing(self, names: Any) -> Any:
        """The subset of ``names`` (a :class:`~avcfix.index.setools_target.Names`) this policy does not define."""
        from avcfix.index.setools_target import Names

        sets = self._sets()
        return Names(
            types=tuple(sorted(n for n in set(names.types) if n not in sets["types"] and n != "self")),
            attributes=tuple(sorted(n for n in set(names.attributes) if n not in sets["attributes"])),
            classes=tuple(sorted(n for n in set(names.classes) if n not in sets["classes"])),
            roles=tuple(sorted(n for n in set(names.roles) if n not in sets["roles"])),
        )

    # ----------------------------------------------------------- granted

    def _matching(self, name: str) -> tuple[int, ...]:
        """The ids a rule's source or target may have to count for ``name``: a type
        and its attributes; an attribute itself; an alias only its type's attributes."""
        f = self.facts
        tid = f._ids.get(name)
        if tid is None:
            return ()
        if tid in f._attr_ids:
            return (tid,)
        found = f._attrs(tid)
        if f._names.get(tid) != name:  # an alias (see the module docstring)
            found = found - {tid}
        return tuple(sorted(found))

    def _rows(self, key: Any, sql: str) -> list[tuple[Any, ...]]:  # sqlite3 rows: untyped
        """Rows of ``sql`` (``... WHERE cls = ? AND src IN (%s) AND tgt IN (%s)``) for one key."""
        cls = self.facts._classes.get(key.tclass)
        if cls is None:
            return []
        srcs = self._matching(key.source)
        tgts = srcs if key.target == "self" else self._matching(key.target)
        if not srcs or not tgts:
            return []
        q = sql % (",".join("?" * len(srcs)), ",".join("?" * len(tgts)))
        return list(self.facts.db.execute(q, (cls[0], *srcs, *tgts)))

    def granted(self, keys: Iterable[Any], ruletype: str = "allow") -> dict[Any, frozenset[str]]:
        """The permissions that ``ruletype`` rules grant for each key (attributes
        expanded, ``self``, conditional rules only when the policy's booleans enable them)."""
        kind = _KINDS[ruletype]
        out: dict[Any, frozenset[str]] = {}
        for key in sorted(set(keys), key=lambda k: (k.source, k.target, k.tclass)):
            mask = 0
            for perms, cond, block in self._rows(
                    key, f"SELECT perms, cond, block FROM te WHERE kind = {kind} AND cls = ? "
                         "AND src IN (%s) AND tgt IN (%s)"):
                if mask | perms != mask and self.facts._in_force(cond, block):
                    mask |= perms
            out[key] = self.facts._perm_names(key.tclass, mask) if mask else frozenset()
        return out

    def granted_ioctls(self, keys: Iterable[Any]) -> dict[Any, frozenset[int]]:
        """The ioctl commands that ``allowxperm ... ioctl`` rules grant for each key."""
        out: dict[Any, frozenset[int]] = {}
        for key in sorted(set(keys), key=lambda k: (k.source, k.target, k.tclass)):
            cmds: set[int] = set()
            for (text,) in self._rows(
                    key, f"SELECT cmds FROM xperms WHERE kind = {ALLOW} AND xtype = 'ioctl' AND cls = ? "
                         "AND src IN (%s) AND tgt IN (%s)"):
                cmds |= parse_ranges(text)
            out[key] = frozenset(cmds)
        return out
