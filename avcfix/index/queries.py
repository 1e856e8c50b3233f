"""The advisors' questions over the policy index (a mixin of IndexFacts).

Every answer equals :class:`~avcfix.index.setools_facts.PolicyFacts`' (setools and
libselinux), which ``tests/integration/test_index_queries.py`` checks on both policies
over the inputs of the shared corpus and of the advice cases. Rules are read
with one query per (domain, class) or (type, class) and cached on the
instance; permission sets stay bit masks until an answer names them.
file_contexts lookups (``expected_type``, ``expected_file_type``) still ask
libselinux's ``selabel`` (opened lazily, closed with the facts); the
file_contexts entries, genfs and run-time types come from the index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from avcfix.explain.candidates import (
    MAX_ATTRIBUTE_EXPANSION,
    MAX_LABEL_EXPANSION,
    NOT_DATA_ATTRIBUTES,
    rank_by_name,
    rank_ports,
)
from avcfix.explain.generic import (
    GENERIC_FILE_TYPES,
    GENERIC_PORT_TYPES,
    UNCONFINED_ATTRIBUTE,
    UNCONFINED_DOMAIN_NAMES,
)
from avcfix.explain.labelfiles import CLASS_MODE, FileLabeler, fc_literal_dir
from avcfix.explain.protocol import BoolSetting, PolicyRule, rule_order
from avcfix.index import evaluate
from avcfix.index.bindings import require
from avcfix.index.build import ALLOW, parse_ranges

if TYPE_CHECKING:
    from pathlib import Path

#: (target id, perms mask, cond id, block) of one allow row of a (domain, class).
DomainRow = tuple[int, int, int, int]


class AdvisorQueries:
    """The advisor questions of :class:`~avcfix.explain.protocol.Facts`.

    Mixed into :class:`~avcfix.index.facts.IndexFacts`, whose primitives
    (``db``, ``_ids``, ``_names``, ``_attr_ids``, ``_classes``, ``_bools``,
    ``_attrs``, ``_members``, ``_cond``, ``_in_force``, ``_te_rows``) it uses.
    """

    # Provided by IndexFacts (declared for the type checker).
    db: Any
    file_contexts: Any
    _ids: dict[str, int]
    _names: dict[int, str]
    _attr_ids: set[int]
    _classes: dict[str, tuple[int, dict[str, int], tuple[str, ...]]]
    _bools: dict[str, bool]
    _in_force: Callable[..., bool]
    path: Path

    if TYPE_CHECKING:  # IndexFacts' primitives (it defines them; mypy checks that they match)
        def _type_id(self, name: str) -> int | None: ...
        def _attrs(self, tid: int) -> frozenset[int]: ...
        def _members(self, tid: int) -> tuple[int, ...]: ...
        def _perm_names(self, tclass: str, mask: int) -> frozenset[str]: ...
        def _cond(self, cond_id: int) -> tuple[list[str], tuple[str, ...], str]: ...
        def _te_rows(self, stid: int, ttid: int, cid: int) -> list[tuple[int, int, int, int]]: ...

    def _init_queries(self) -> None:
        self._q: dict[Any, Any] = {}
        self._labeler = FileLabeler(self.file_contexts)
        self._domain_rows_cache: dict[tuple[int, int], list[DomainRow]] = {}
        self._attr_size_cache: dict[int, int] | None = None
        self._class_names: dict[int, str] = {cid: name for name, (cid, _b, _n) in self._classes.items()}

    def _close_queries(self) -> None:
        self._labeler.close()

    # ------------------------------------------------------------- primitives

    def _id_of(self, name: str) -> int | None:
        """The id of the attribute named ``name`` (or of the type), ``None`` when absent."""
        return self._ids.get(name)

    def _domain_rows(self, stid: int, cid: int) -> list[DomainRow]:
        """Every allow row whose source is ``stid`` or one of its attributes, for class ``cid``."""
        key = (stid, cid)
        found = self._domain_rows_cache.get(key)
        if found is None:
            srcs = sorted(self._attrs(stid))
            q = (f"SELECT tgt, perms, cond, block FROM te WHERE cls = ? AND kind = {ALLOW} "
                 f"AND src IN ({','.join('?' * len(srcs))})")
            found = self._domain_rows_cache[key] = list(self.db.execute(q, (cid, *srcs)))
        return found

    def _perm_mask(self, tclass: str, perms: Sequence[str]) -> int | None:
        """The bit mask of ``perms`` in ``tclass``; ``None`` when the class or a permission is unknown."""
        cls = self._classes.get(tclass)
        if cls is None:
            return None
        bits = cls[1]
        mask = 0
        for p in perms:
            bit = bits.get(p)
            if bit is None:
                return None
            mask |= bit
        return mask

    def _names_of(self, tclass: str, mask: int) -> frozenset[str]:
        return self._perm_names(tclass, mask)

    def _has(self, tid: int, attr: str) -> bool:
        """True when type ``tid`` has attribute ``attr`` (or is named ``attr``)."""
        aid = self._ids.get(attr)
        return aid is not None and aid in self._attrs(tid)

    def _has_any(self, tid: int, attrs: frozenset[str]) -> bool:
        mine = self._attrs(tid)
        return any(self._ids.get(a) in mine for a in attrs)

    def _attr_sizes(self) -> dict[int, int]:
        if self._attr_size_cache is None:
            self._attr_size_cache = dict(self.db.execute("SELECT attr, count(*) FROM typeattr GROUP BY attr"))
        return self._attr_size_cache

    def _size(self, tid: int) -> int:
        """How many types an attribute stands for (1 for a type)."""
        if tid not in self._attr_ids:
            return 1
        return self._attr_sizes().get(tid, 0)

    def _expand_ids(self, tid: int) -> tuple[int, ...]:
        return self._members(tid)

    # ------------------------------------------------------------------ names

    def canonical_type(self, name: str) -> str | None:
        """The type ``name`` stands for (aliases resolved), ``None`` when unknown."""
        tid = self._type_id(name)
        return self._names[tid] if tid is not None else None

    def has_type(self, name: str) -> bool:
        """True when ``name`` is a type (or alias) of this policy."""
        return self._type_id(name) is not None

    def type_attributes(self, type_name: str) -> frozenset[str]:
        """The attributes of ``type_name`` (without the type itself)."""
        tid = self._type_id(type_name)
        if tid is None:
            return frozenset()
        return frozenset(self._names[a] for a in self._attrs(tid) if a != tid)

    def attribute_size(self, attr: str) -> int:
        """How many types carry attribute ``attr`` (0 when it is not one)."""
        aid = self._ids.get(attr)
        if aid is None or aid not in self._attr_ids:
            return 0
        return self._attr_sizes().get(aid, 0)

    def type_members(self, name: str) -> tuple[str, ...]:
        """Types of an attribute (sorted); ``(canonical,)`` for a type or alias; ``()`` if unknown."""
        tid = self._ids.get(name)
        if tid is None:
            return ()
        if tid not in self._attr_ids:
            return (self._names[tid],)
        key = ("members", tid)
        found = self._q.get(key)
        if found is None:
            found = self._q[key] = tuple(sorted(self._names[m] for m in self._expand_ids(tid)))
        return found

    def is_unconfined(self, type_name: str) -> bool:
        """True for domains with the unconfined attribute (or named like one)."""
        if type_name in UNCONFINED_DOMAIN_NAMES:
            return True
        tid = self._type_id(type_name)
        if tid is None:
            return type_name == UNCONFINED_ATTRIBUTE
        return self._has(tid, UNCONFINED_ATTRIBUTE)

    # --------------------------------------------------------------- booleans

    def boolean_state(self, name: str) -> bool | None:
        """The boolean's value in the policy file, or ``None`` when it does not exist."""
        return self._bools.get(name)

    def boolean_description(self, name: str) -> str | None:
        """Description from policy.xml (selinux-policy-dev), when it was there at build time."""
        row = self.db.execute("SELECT text FROM descriptions WHERE name = ?", (name,)).fetchone()
        return row[0] if row is not None else None

    # ----------------------------------------------------------------- labels

    def port_ranges(self, type_name: str) -> tuple[tuple[str, int, int], ...]:
        """portcon entries (protocol, low, high) labelling ports ``type_name``."""
        portcon: dict[str, tuple[tuple[str, int, int], ...]] | None = self._q.get("portcon")
        if portcon is None:
            table: dict[str, list[tuple[str, int, int]]] = {}
            for proto, low, high, tname in self.db.execute("SELECT proto, low, high, type FROM portcon"):
                table.setdefault(tname, []).append((proto, low, high))
            portcon = self._q["portcon"] = {k: tuple(sorted(v)) for k, v in table.items()}
        canonical = self.canonical_type(type_name)
        return portcon.get(canonical if canonical is not None else type_name, ())

    # ---------------------------------------- permission completion (policy.complete)

    def class_permissions(self, tclass: str) -> frozenset[str] | None:
        """Every permission of class ``tclass`` (common included); ``None`` for an unknown class."""
        cls = self._classes.get(tclass)
        return frozenset(cls[2]) if cls is not None else None

    def _setools_policy(self) -> Any:
        """A setools view of the same policy file, opened on first use (the index has no
        type_transition, nodecon or initial-SID rows; only completion asks)."""
        pol = self._q.get("setools")
        if pol is None:
            setools = require("setools", "completing permissions from a binary policy")
            pol = self._q["setools"] = setools.SELinuxPolicy(str(self.path))
        return pol

    def type_transition(self, domain: str, target: str, tclass: str, name: str | None = None) -> str | None:
        """See :meth:`avcfix.explain.protocol.Facts.type_transition`."""
        from avcfix.explain.seqfacts import type_transition

        return type_transition(self._setools_policy(), domain, target, tclass, name)

    def node_type(self, family: str | None, address: str | None) -> str | None:
        """See :meth:`avcfix.explain.protocol.Facts.node_type`."""
        from avcfix.explain.seqfacts import node_type

        return node_type(self._setools_policy(), family, address)

    def port_type(self, proto: str, port: int) -> str | None:
        """See :meth:`avcfix.explain.protocol.Facts.port_type` (portcon rows from the index)."""
        from avcfix.explain.seqfacts import port_type

        rows = self.db.execute("SELECT proto, low, high, type FROM portcon WHERE proto = ? AND low <= ? AND high >= ?",
                               (proto, port, port)).fetchall()
        return port_type(rows, self._setools_policy(), proto, port)

    def _genfs(self) -> frozenset[str]:
        found = self._q.get("genfs")
        if found is None:
            found = self._q["genfs"] = frozenset(t for (t,) in self.db.execute("SELECT type FROM genfs")) - {"root_t"}
        return found

    def fixed_label(self, type_name: str) -> bool:
        """True when relabelling one file to file_contexts is impossible or wrong:
        genfscon types (root_t excepted) and the policy root's customizable and
        run-time types (as :meth:`PolicyFacts.fixed_label`)."""
        found = self._q.get("fixed")
        if found is None:
            runtime = frozenset(t for (t,) in self.db.execute("SELECT type FROM runtime_types"))
            found = self._q["fixed"] = self._genfs() | runtime
        return type_name in found

    def _fc_rows(self) -> tuple[tuple[str, str, str], ...]:
        found: tuple[tuple[str, str, str], ...] | None = self._q.get("fc")
        if found is None:
            found = self._q["fc"] = tuple(self.db.execute("SELECT regex, flag, type FROM fc ORDER BY seq"))
        return found

    def fc_entries(self, type_name: str) -> tuple[tuple[str, str], ...]:
        """The file_contexts entries that give ``type_name``: (regex, flag), in file order."""
        index: dict[str, tuple[tuple[str, str], ...]] | None = self._q.get("fc_index")
        if index is None:
            table: dict[str, list[tuple[str, str]]] = {}
            for regex, flag, ftype in self._fc_rows():
                table.setdefault(ftype, []).append((regex, flag))
            index = self._q["fc_index"] = {k: tuple(v) for k, v in table.items()}
        return index.get(type_name, ())

    def fc_dirs(self) -> tuple[tuple[str, str, str], ...]:
        """The file_contexts entries as (regex's literal directory prefix, regex, type)."""
        found = self._q.get("fc_dirs")
        if found is None:
            found = self._q["fc_dirs"] = tuple((fc_literal_dir(r), r, t) for r, _f, t in self._fc_rows())
        return found

    def _selabel(self, path: str, mode: int) -> str | None:
        key = ("selabel", path, mode)
        if key not in self._q:
            self._q[key] = self._labeler.type_of(path, mode)
        found: str | None = self._q[key]
        return found

    def expected_type(self, path: str) -> str | None:
        """The type the policy's file_contexts (with .local, .homedirs, .subs*) gives ``path``."""
        return self._selabel(path, 0)

    def expected_file_type(self, path: str, file_class: str | None = None) -> str | None:
        """The type file_contexts gives ``path`` as an object of ``file_class`` (``dir``, ``file``...)."""
        return self._selabel(path, CLASS_MODE.get(file_class or "", 0))

    # ------------------------------------------------------------ access now

    def _granted_mask(self, stid: int, ttid: int, cid: int, state: dict[str, bool] | None = None) -> int:
        mask = 0
        for kind, perms, cond, block in self._te_rows(stid, ttid, cid):
            if kind != ALLOW or mask | perms == mask:
                continue
            if self._in_force(cond, block, state):
                mask |= perms
        return mask

    def _triple(self, domain: str, target: str, tclass: str) -> tuple[int, int, int] | None:
        stid = self._type_id(domain)
        ttid = self._type_id(target)
        cls = self._classes.get(tclass)
        if stid is None or ttid is None or cls is None:
            return None
        return stid, ttid, cls[0]

    def granted_perms(self, domain: str, target: str, tclass: str) -> frozenset[str]:
        """The permissions ``domain`` has on ``target``:``tclass`` with the policy
        file's boolean values (attributes expanded); empty for unknown names."""
        key = ("granted", domain, target, tclass)
        found = self._q.get(key)
        if found is None:
            t = self._triple(domain, target, tclass)
            found = frozenset() if t is None else self._names_of(tclass, self._granted_mask(*t))
            self._q[key] = found
        return found

    def allows(self, domain: str, target: str, tclass: str, perms: Sequence[str]) -> bool:
        """True when ``domain`` may ``perms`` on ``target``:``tclass`` now (booleans as in the policy file)."""
        return bool(perms) and set(perms) <= self.granted_perms(domain, target, tclass)

    def enabling_booleans(self, domain: str, target: str, tclass: str,
                          perms: Sequence[str]) -> tuple[BoolSetting, ...]:
        """The single boolean changes after each of which ``domain`` may ``perms``
        on ``target``:``tclass`` (empty when it already may, or no one boolean does)."""
        key = ("enabling", domain, target, tclass, tuple(sorted(set(perms))))
        found = self._q.get(key)
        if found is None:
            out: list[BoolSetting] = []
            t = self._triple(domain, target, tclass)
            want = self._perm_mask(tclass, list(perms))
            if perms and t is not None and want is not None and not self.allows(domain, target, tclass, perms):
                rows = self._te_rows(*t)
                names = sorted({n for kind, _p, cond, _b in rows if kind == ALLOW and cond
                                for n in self._cond(cond)[1]})
                for name in names:
                    trial = dict(self._bools)
                    trial[name] = not trial.get(name, False)
                    if self._granted_mask(*t, state=trial) & want == want:
                        out.append((name, trial[name]))
            found = self._q[key] = tuple(out)
        return found

    # ------------------------------------------------------- candidate types

    def _specific_targets(self, rows: list[tuple[int, bool]], kind_attr: str,
                          generic: frozenset[str]) -> list[tuple[bool, str]]:
        """(direct, type) for rule targets that carry ``kind_attr`` and are not generic."""
        out: dict[str, bool] = {}
        for tgt, _unused in rows:
            if tgt in self._attr_ids:
                if self._size(tgt) > MAX_ATTRIBUTE_EXPANSION:
                    continue
                members, direct = self._expand_ids(tgt), False
            else:
                members, direct = (tgt,), True
            for m in members:
                n = self._names[m]
                if n in generic or not self._has(m, kind_attr) or self._has_any(m, NOT_DATA_ATTRIBUTES):
                    continue
                out[n] = out.get(n, False) or direct
        return [(d, n) for n, d in out.items()]

    def _rows_for(self, domain: str, tclass: str) -> list[DomainRow] | None:
        stid = self._type_id(domain)
        cls = self._classes.get(tclass)
        if stid is None:
            return None
        if cls is None:
            return []
        return self._domain_rows(stid, cls[0])

    def port_types(self, domain: str, tclass: str, perm: str) -> tuple[str, ...]:
        """Specific port types ``domain`` may already ``perm`` (name_bind/name_connect) on ``tclass``."""
        rows = self._rows_for(domain, tclass)
        if rows is None:
            return ()
        bit = self._perm_mask(tclass, [perm]) if rows else None
        if not bit:
            return rank_ports([], self.port_ranges)
        picked = [(tgt, True) for tgt, perms, cond, block in rows if perms & bit and self._in_force(cond, block)]
        return rank_ports(self._specific_targets(picked, "port_type", GENERIC_PORT_TYPES), self.port_ranges)

    def file_types(self, domain: str, tclass: str, perms: tuple[str, ...]) -> tuple[str, ...]:
        """Specific file types ``domain`` may already access on ``tclass`` with every one of ``perms``."""
        rows = self._rows_for(domain, tclass)
        if rows is None:
            return ()
        want = self._perm_mask(tclass, perms) if rows else None
        if want is None:
            return rank_by_name(domain, [])
        granted: dict[int, int] = {}
        for tgt, mask, cond, block in rows:
            if self._in_force(cond, block):
                granted[tgt] = granted.get(tgt, 0) | mask
        picked = [(tgt, True) for tgt, mask in sorted(granted.items(), key=lambda x: self._names[x[0]])
                  if mask & want == want]
        return rank_by_name(domain, self._specific_targets(picked, "file_type", GENERIC_FILE_TYPES))

    def label_candidates(self, domain: str, tclass: str,
                         perms: Sequence[str]) -> tuple[tuple[str, frozenset[str]], ...]:
        """Every specific file type ``domain`` may access on ``tclass`` with all
        ``perms`` now, with everything it may do to it, sorted by name (as
        :meth:`PolicyFacts.label_candidates`)."""
        key = ("candidates", domain, tclass, tuple(sorted(set(perms))))
        found: tuple[tuple[str, frozenset[str]], ...] | None = self._q.get(key)
        if found is not None:
            return found
        out: list[tuple[str, frozenset[str]]] = []
        rows = self._rows_for(domain, tclass)
        want = self._perm_mask(tclass, list(perms))
        if rows and perms and want is not None:
            ids: set[int] = set()
            for tgt, mask, cond, block in rows:
                if not mask & want or not self._in_force(cond, block):
                    continue
                members = self._expand_ids(tgt)
                if len(members) <= MAX_LABEL_EXPANSION:
                    ids.update(members)
            genfs = self._genfs()
            security = self._ids.get("security_file_type")
            file_type = self._ids.get("file_type")
            for name, tid in sorted((self._names[t], t) for t in ids):
                attrs = self._attrs(tid)
                if name in GENERIC_FILE_TYPES or file_type not in attrs or security in attrs:
                    continue
                if name in genfs:
                    continue
                granted = self.granted_perms(domain, name, tclass)
                if set(perms) <= granted:
                    out.append((name, granted))
        found = self._q[key] = tuple(out)
        return found

    def types_with_access(self, domain: str, tclass: str,
                          perms: tuple[str, ...]) -> dict[str, tuple[tuple[str, bool], ...]]:
        """File types ``domain`` may access on ``tclass`` with every one of ``perms``: type ->
        the boolean settings needed (empty: allowed now), as :meth:`PolicyFacts.types_with_access`."""
        rows = self._rows_for(domain, tclass)
        if rows is None:
            return {}
        want = self._perm_mask(tclass, perms) if rows else None
        if want is None:
            return {}
        have: dict[tuple[str, tuple[tuple[str, bool], ...]], int] = {}
        for tgt, mask, cond, block in rows:
            need: tuple[tuple[str, bool], ...] = ()
            if not self._in_force(cond, block):
                tokens, bools, _text = self._cond(cond)
                if len(bools) != 1:
                    continue
                flipped = {bools[0]: not self._bools.get(bools[0], False)}
                if evaluate.eval_cond(tokens, flipped) != bool(block):
                    continue
                need = ((bools[0], flipped[bools[0]]),)
            if tgt in self._attr_ids:
                if self._size(tgt) > MAX_ATTRIBUTE_EXPANSION:
                    continue
                members = self._expand_ids(tgt)
            else:
                members = (tgt,)
            for m in members:
                k = (self._names[m], need)
                have[k] = have.get(k, 0) | mask
        now: dict[str, int] = {}
        for (n, need), p in have.items():
            if not need:
                now[n] = now.get(n, 0) | p
        found: dict[str, tuple[tuple[str, bool], ...]] = {}
        for (n, need), p in sorted(have.items(), key=lambda x: x[0]):
            tid = self._ids[n]
            if not self._has(tid, "file_type") or self._has_any(tid, NOT_DATA_ATTRIBUTES):
                continue
            if (p | now.get(n, 0)) & want == want:
                if n not in found or (found[n] and not need):
                    found[n] = need
        return found

    # ------------------------------------------------------------------ xperm

    def xperm_denied(self, domain: str, target: str, tclass: str, cmds: Sequence[int]) -> tuple[int, ...]:
        """The commands of ``cmds`` left out by the allowxperm ioctl rules for (domain, target, class);
        empty when no such rule restricts the triple."""
        t = self._triple(domain, target, tclass)
        if t is None:
            return ()
        stid, ttid, cid = t
        key = ("xperm", stid, ttid, cid)
        allowed = self._q.get(key)
        if key not in self._q:
            srcs = sorted(self._attrs(stid))
            tgts = sorted(self._attrs(ttid))
            q = (f"SELECT cmds FROM xperms WHERE cls = ? AND kind = {ALLOW} AND xtype = 'ioctl' "
                 f"AND src IN ({','.join('?' * len(srcs))}) AND tgt IN ({','.join('?' * len(tgts))})")
            found = [parse_ranges(c) for (c,) in self.db.execute(q, (cid, *srcs, *tgts))]
            allowed = self._q[key] = frozenset().union(*found) if found else None
        if allowed is None:
            return ()
        return tuple(sorted(c for c in set(cmds) if c not in allowed))

    # ------------------------------------------------------ rules as evidence

    def _policy_rule(self, src: int, tgt: int, cid: int, mask: int, cond: int, block: int) -> PolicyRule:
        key = ("rule", src, tgt, cid, mask, cond, block)
        found = self._q.get(key)
        if found is None:
            tclass = self._class_names[cid]
            if cond:
                _tokens, bools, text = self._cond(cond)
            else:
                bools, text = (), ""
            src_attr, tgt_attr = src in self._attr_ids, tgt in self._attr_ids
            found = self._q[key] = PolicyRule(
                self._names[src], self._names[tgt], tclass, tuple(sorted(self._names_of(tclass, mask))),
                source_size=self._size(src), target_size=self._size(tgt),
                source_is_attr=src_attr, target_is_attr=tgt_attr,
                condition=text, block=bool(block), booleans=tuple(bools), active=self._in_force(cond, block))
        return found

    def allow_rules(self, domain: str, tclass: str, perm: str) -> tuple[PolicyRule, ...]:
        """Allow rules (conditional ones too) applying to ``domain`` that grant ``perm`` on ``tclass``."""
        key = ("allow_rules", domain, tclass, perm)
        found = self._q.get(key)
        if found is None:
            out: set[PolicyRule] = set()
            stid = self._type_id(domain)
            cls = self._classes.get(tclass)
            bit = cls[1].get(perm) if cls is not None else None
            if stid is not None and cls is not None and bit:
                srcs = sorted(self._attrs(stid))
                q = (f"SELECT DISTINCT src, tgt, perms, cond, block FROM te WHERE cls = ? AND kind = {ALLOW} "
                     f"AND perms & ? AND src IN ({','.join('?' * len(srcs))})")
                for src, tgt, mask, cond, block in self.db.execute(q, (cls[0], bit, *srcs)):
                    out.add(self._policy_rule(src, tgt, cls[0], mask, cond, block))
            found = self._q[key] = tuple(sorted(out, key=rule_order))
        return found

    def _conds_with(self, name: str) -> list[int]:
        """The conditions that read boolean ``name``."""
        index: dict[str, list[int]] | None = self._q.get("cond_index")
        if index is None:
            index = {}
            for cid, names in self.db.execute("SELECT id, booleans FROM conds"):
                for n in names.split():
                    index.setdefault(n, []).append(cid)
            self._q["cond_index"] = index
        return index.get(name, [])

    def boolean_rules(self, settings: Sequence[BoolSetting], domain: str) -> tuple[PolicyRule, ...]:
        """Conditional allow rules applying to ``domain`` that ``settings`` turn on."""
        wanted = tuple(sorted((str(n), bool(v)) for n, v in settings))
        key = ("boolean_rules", wanted, domain)
        found = self._q.get(key)
        if found is None:
            out: set[PolicyRule] = set()
            stid = self._type_id(domain)
            conds = sorted({c for n, _v in wanted for c in self._conds_with(n)})
            if stid is not None and conds:
                turned: list[tuple[int, int]] = []
                for c in conds:
                    _tokens, bools, _text = self._cond(c)
                    state = {b: self._bools.get(b, False) for b in bools}
                    state.update((k, v) for k, v in wanted if k in state)
                    for block in (1, 0):
                        if not self._in_force(c, block) and self._in_force(c, block, state):
                            turned.append((c, block))
                if turned:
                    srcs = sorted(self._attrs(stid))
                    want = set(turned)
                    q = (f"SELECT DISTINCT src, tgt, cls, perms, cond, block FROM te WHERE kind = {ALLOW} "
                         f"AND cond IN ({','.join('?' * len({c for c, _b in turned}))}) "
                         f"AND src IN ({','.join('?' * len(srcs))})")
                    for src, tgt, cid, mask, cond, block in self.db.execute(
                            q, (*sorted({c for c, _b in turned}), *srcs)):
                        if (cond, block) in want:
                            out.add(self._policy_rule(src, tgt, cid, mask, cond, block))
            found = self._q[key] = tuple(sorted(out, key=rule_order))
        return found

    def granted_domains(self, type_name: str, tclass: str, perm: str) -> tuple[str, ...]:
        """Domains whose allow rules name ``type_name`` itself for ``perm`` on ``tclass``."""
        ttid = self._type_id(type_name)
        cls = self._classes.get(tclass)
        if ttid is None:
            return ()
        key = ("granted_domains", ttid, tclass, perm)
        found = self._q.get(key)
        if found is None:
            bit = cls[1].get(perm) if cls is not None else None
            doms: set[int] = set()
            if cls is not None and bit:
                for (src,) in self.db.execute(
                        # the index named: without it (no ANALYZE statistics) the planner reads every
                        # rule of the class through te_by_src (15x slower, measured on Debian's policy)
                        f"SELECT DISTINCT src FROM te INDEXED BY te_by_tgt WHERE cls = ? AND tgt = ? "
                        f"AND kind = {ALLOW} AND perms & ?",
                        (cls[0], ttid, bit)):
                    doms.update(self._expand_ids(src))
            found = self._q[key] = tuple(sorted(self._names[d] for d in doms))
        return found
