"""IndexFacts: the :class:`~avcfix.explain.protocol.Facts` questions answered
from the policy index (:mod:`avcfix.index.build`) by look-up.

The reasons follow libsepol's access computation as libselinux's audit2why
uses it, step by step:

1. the contexts must be valid (user, role, type, role-type and user-role
   associations, MLS range and the user's range): otherwise RBAC;
2. TE: the allow rules of every (source attribute, target attribute) pair of
   the class, conditional ones when their condition holds;
3. constraints of the class that name the permission;
4. RBAC: a process transition to another role needs a role allow rule;
5. typebounds.

A TE denial is then checked one boolean at a time, as audit2why does: each
boolean whose flip makes the whole computation pass is a BOOLEAN fix; with
none, a dontaudit rule makes it DONTAUDIT, else TE_RULE (plus the pairs of
booleans that together allow it, as :class:`~avcfix.index.setools_facts.PolicyFacts`
reports). ``tests/integration/test_index_reasons.py`` holds this equal to audit2why on
every group of the shared corpus, with both policies.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from avcfix.audit.model import Context
from avcfix.explain.constraint import constraint_differs
from avcfix.explain.model import Reason
from avcfix.explain.protocol import (
    AccessKey,
    Analysis,
    BoolSetting,
    Verdict,
    class_analysis,
    unknown_class_analysis,
    unknown_type_analysis,
)
from avcfix.index import evaluate
from avcfix.index.build import ALLOW, DONTAUDIT, Inputs, parse_ranges
from avcfix.index.cache import Opened
from avcfix.index.queries import AdvisorQueries

#: Most booleans considered when looking for a pair that allows an access
#: (as :data:`avcfix.index.setools_facts.MAX_PAIR_BOOLEANS`).
MAX_PAIR_BOOLEANS = 16

#: (kind, perms mask, cond id, block) of one te row.
Row = tuple[int, int, int, int]


class IndexFacts(AdvisorQueries):
    """Answers from one policy index (an open SQLite database)."""

    def __init__(self, opened: Opened, inputs: Inputs) -> None:
        self.db: sqlite3.Connection = opened.db
        self.opened = opened
        self.path = inputs.policy
        self.file_contexts = inputs.file_contexts
        self.policy_xml = inputs.policy_xml
        self.lookups = 0
        #: Notes on how the index was obtained (kept off the terminal).
        self.diagnostics: list[str] = list(opened.notes)
        db = self.db
        self.meta: dict[str, str] = dict(db.execute("SELECT k, v FROM meta"))
        self._mls = self.meta.get("mls") == "1"
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._attr_ids: set[int] = set()
        self._permissive: set[int] = set()
        self._bounds: dict[int, int] = {}
        for tid, name, attr, permissive, bounds in db.execute("SELECT id, name, attr, permissive, bounds FROM types"):
            self._ids[name] = tid
            self._names[tid] = name
            if attr:
                self._attr_ids.add(tid)
            if permissive:
                self._permissive.add(tid)
            if bounds:
                self._bounds[tid] = bounds
        for alias, tid in db.execute("SELECT alias, type FROM aliases"):
            self._ids.setdefault(alias, tid)
        self._classes: dict[str, tuple[int, dict[str, int], tuple[str, ...]]] = {}
        for cid, name, perms in db.execute("SELECT id, name, perms FROM classes"):
            names = tuple(perms.split())
            self._classes[name] = (cid, {p: 1 << i for i, p in enumerate(names)}, names)
        self._bools: dict[str, bool] = {n: bool(s) for n, s in db.execute("SELECT name, state FROM booleans")}
        self._analyses: dict[AccessKey, Analysis] = {}
        self._attr_cache: dict[int, frozenset[int]] = {}
        self._member_cache: dict[int, tuple[int, ...]] = {}
        self._conds: dict[int, tuple[list[str], tuple[str, ...], str]] | None = None
        self._te_cache: dict[tuple[int, int, int], list[Row]] = {}
        self._active_cache: dict[tuple[int, int], bool] = {}
        self._ctx_problems: dict[str, Verdict | None] = {}
        self._constraints: dict[int, list[tuple[int, int, list[Any]]]] | None = None
        self._constraint_memo: dict[tuple[str, str, int, int, int], str | None] = {}
        self._expanded: dict[tuple[str, str], frozenset[str]] = {}
        self._sens: dict[str, int] | None = None
        self._cats: dict[str, int] | None = None
        self._init_queries()

    # ------------------------------------------------------------------ basics

    @property
    def mls(self) -> bool:
        return self._mls

    def close(self) -> None:
        self._close_queries()
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> IndexFacts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tid(self, name: str) -> int | None:
        """The id of a type (aliases resolved) or attribute named ``name``."""
        return self._ids.get(name)

    def _type_id(self, name: str) -> int | None:
        """The id of a type (not an attribute) named ``name``, aliases resolved."""
        tid = self._ids.get(name)
        return None if tid is None or tid in self._attr_ids else tid

    def _attrs(self, tid: int) -> frozenset[int]:
        """The type and every attribute it has (libsepol's type_attr_map)."""
        found = self._attr_cache.get(tid)
        if found is None:
            found = frozenset(a for (a,) in self.db.execute("SELECT attr FROM typeattr WHERE type = ?", (tid,)))
            found = found | {tid}
            self._attr_cache[tid] = found
        return found

    def _members(self, tid: int) -> tuple[int, ...]:
        """The types an attribute stands for (a type stands for itself), by id."""
        found = self._member_cache.get(tid)
        if found is None:
            if tid in self._attr_ids:
                found = tuple(t for (t,) in self.db.execute(
                    "SELECT type FROM typeattr WHERE attr = ? ORDER BY type", (tid,)))
            else:
                found = (tid,)
            self._member_cache[tid] = found
        return found

    def _perm_names(self, tclass: str, mask: int) -> frozenset[str]:
        _cid, _bits, names = self._classes[tclass]
        return frozenset(n for i, n in enumerate(names) if mask >> i & 1)

    def _cond(self, cond_id: int) -> tuple[list[str], tuple[str, ...], str]:
        """(postfix tokens, booleans, text) of a conditional expression."""
        if self._conds is None:
            self._conds = {cid: (json.loads(expr), tuple(names.split()), text)
                           for cid, expr, text, names in self.db.execute("SELECT id, expr, text, booleans FROM conds")}
        return self._conds[cond_id]

    def _in_force(self, cond_id: int, block: int, state: dict[str, bool] | None = None) -> bool:
        """True when a rule (cond 0: unconditional) applies under ``state`` (default: the policy's)."""
        if not cond_id:
            return True
        if state is None:  # the policy's own values: cached per (condition, block)
            found = self._active_cache.get((cond_id, block))
            if found is None:
                found = self._active_cache[(cond_id, block)] = (
                    evaluate.eval_cond(self._cond(cond_id)[0], self._bools) == bool(block))
            return found
        return evaluate.eval_cond(self._cond(cond_id)[0], state) == bool(block)

    def _te_rows(self, stid: int, ttid: int, cid: int) -> list[Row]:
        """Every allow/auditallow/dontaudit row for (source type, target type, class), attributes expanded."""
        key = (stid, ttid, cid)
        found = self._te_cache.get(key)
        if found is None:
            sattrs = sorted(self._attrs(stid))
            tattrs = sorted(self._attrs(ttid))
            q = (f"SELECT kind, perms, cond, block FROM te WHERE cls = ? AND src IN ({','.join('?' * len(sattrs))}) "
                 f"AND tgt IN ({','.join('?' * len(tattrs))})")
            found = list(self.db.execute(q, (cid, *sattrs, *tattrs)))
            self._te_cache[key] = found
        return found

    def _mask(self, rows: list[Row], kind: int, state: dict[str, bool] | None = None) -> int:
        mask = 0
        for k, perms, cond, block in rows:
            if k == kind and self._in_force(cond, block, state):
                mask |= perms
        return mask

    # ---------------------------------------------------------------- analysis

    def analyze(self, keys: Sequence[AccessKey]) -> dict[AccessKey, Analysis]:
        """Analyse every distinct key once (cached)."""
        for key in sorted({k for k in keys if k not in self._analyses},
                          key=lambda k: (k.scontext, k.tcontext, k.tclass, k.perms)):
            self.lookups += 1
            self._analyses[key] = self._analyze_one(key)
        return {k: self._analyses[k] for k in keys}

    def _analyze_one(self, key: AccessKey) -> Analysis:
        scon = Context.parse(key.scontext)
        tcon = Context.parse(key.tcontext)
        unknown = unknown_type_analysis(key, scon, tcon, lambda name: self._type_id(name) is not None)
        if unknown is not None:
            return unknown
        assert scon is not None and tcon is not None  # else unknown_type_analysis answered
        # both types exist: unknown_type_analysis checked them
        stid, ttid = self._ids[scon.type], self._ids[tcon.type]
        permissive = stid in self._permissive
        cls = self._classes.get(key.tclass)
        if cls is None:
            return unknown_class_analysis(key, permissive)
        cid, bits, _names = cls
        ctx_problem = (self._context_problem(scon) or self._context_problem(tcon)
                       or self._sid_problem(scon, key.scontext) or self._sid_problem(tcon, key.tcontext))
        return class_analysis(key, permissive, bits, ctx_problem,
                              lambda perm: self._verdict(scon, tcon, stid, ttid, key.tclass, cid, bits[perm], perm))

    def _verdict(self, scon: Context, tcon: Context, stid: int, ttid: int, tclass: str, cid: int,
                 bit: int, perm: str) -> Verdict:
        rows = self._te_rows(stid, ttid, cid)
        allowed = self._mask(rows, ALLOW)
        if allowed & bit:
            later = self._after_te(scon, tcon, stid, ttid, tclass, cid, bit, allowed)
            if later is None:
                return Verdict(Reason.ALLOWED_NOW, detail="this policy allows the access now "
                               "(the policy or a boolean changed since it was logged)")
            return later
        # TE denies: audit2why flips one boolean at a time and keeps those after which nothing
        # denies (constraints, RBAC and bounds do not depend on booleans: checked once, when needed)
        found: list[tuple[str, bool]] = []
        candidates = self._rule_booleans(rows, bit)
        if candidates and self._after_te(scon, tcon, stid, ttid, tclass, cid, bit, allowed) is None:
            for name in candidates:
                trial = dict(self._bools)
                trial[name] = not trial.get(name, False)
                if self._mask(rows, ALLOW, trial) & bit:
                    found.append((name, trial[name]))
        if found:
            return Verdict(Reason.BOOLEAN, booleans=tuple(((n, v),) for n, v in sorted(found)))
        if self._mask(rows, DONTAUDIT) & bit:
            return Verdict(Reason.DONTAUDIT, detail="a dontaudit rule hides this denial; it was only "
                           "logged because dontaudit rules were disabled (semodule -DB)")
        pairs = self._boolean_pairs(stid, ttid, cid, bit)
        if pairs:
            return Verdict(Reason.BOOLEAN, booleans=pairs, detail="no single boolean allows this; these pairs do")
        return Verdict(Reason.TE_RULE)

    def _rule_booleans(self, rows: list[Row], bit: int) -> list[str]:
        names: set[str] = set()
        for kind, perms, cond, _block in rows:
            if kind == ALLOW and cond and perms & bit:
                names.update(self._cond(cond)[1])
        return sorted(names)

    def _boolean_pairs(self, stid: int, ttid: int, cid: int, bit: int) -> tuple[tuple[BoolSetting, ...], ...]:
        """Pairs of boolean changes that together enable a conditional allow rule for ``bit``
        (the rules' own booleans, at most MAX_PAIR_BOOLEANS of them, by name)."""
        rows = [r for r in self._te_rows(stid, ttid, cid) if r[0] == ALLOW and r[2] and r[1] & bit]
        names = sorted({n for r in rows for n in self._cond(r[2])[1]})[:MAX_PAIR_BOOLEANS]
        if len(names) < 2:
            return ()
        state = {n: self._bools.get(n, False) for n in names}
        found = []
        for a, b in itertools.combinations(names, 2):
            trial = dict(self._bools, **{a: not state[a], b: not state[b]})
            if any(self._in_force(cond, block, trial) for _k, _p, cond, block in rows):
                found.append(((a, trial[a]), (b, trial[b])))
        return tuple(found)

    def _after_te(self, scon: Context, tcon: Context, stid: int, ttid: int, tclass: str, cid: int,
                  bit: int, allowed: int) -> Verdict | None:
        """The verdict of the steps after TE (constraints, RBAC, bounds), ``None`` when they pass;
        ``allowed``: the permissions TE allows on the class."""
        failed = self._failed_constraint(scon, tcon, cid, bit, tclass, allowed)
        if failed is not None:
            text = failed
            s, t = self._fit_mls(scon), self._fit_mls(tcon)
            return Verdict(Reason.CONSTRAINT, detail=text, differs=constraint_differs(text, s, t))
        if tclass == "process" and scon.role != tcon.role:
            _cid, bits, _n = self._classes[tclass]
            if bit & (bits.get("transition", 0) | bits.get("dyntransition", 0)):
                ok = self.db.execute("SELECT 1 FROM role_allow WHERE src = ? AND tgt = ?",
                                     (scon.role, tcon.role)).fetchone()
                if ok is None:
                    return Verdict(Reason.RBAC, detail="a role allow rule or role-type association is missing")
        parent = self._bounds.get(stid)
        if parent is not None:
            tparent = self._bounds.get(ttid, ttid)
            if not self._mask(self._te_rows(parent, tparent, cid), ALLOW) & bit:
                return Verdict(Reason.BOUNDS, detail="typebounds forbid the domain more than its parent has")
        return None

    # -------------------------------------------------------------- constraints

    def _levels(self) -> tuple[dict[str, int], dict[str, int]]:
        if self._sens is None or self._cats is None:
            self._sens = dict(self.db.execute("SELECT name, ord FROM sens"))
            self._cats = dict(self.db.execute("SELECT name, ord FROM cats"))
        return self._sens, self._cats

    def _failed_constraint(self, scon: Context, tcon: Context, cid: int, bit: int, tclass: str,
                           allowed: int) -> str | None:
        """libsepol's text for the constraints that fail, when one of them denies ``bit``; else ``None``.

        As libsepol's context_struct_compute_av: the class's constraints are
        evaluated in order, each one whose permissions meet the permissions
        still allowed (TE's, less those earlier constraints removed); a failed
        one removes its permissions, and its text is reported, whether or not
        it names ``bit`` (audit2why prints them all)."""
        if self._constraints is None:
            table: dict[int, list[tuple[int, int, list[Any]]]] = {}
            for c, perms, mls, expr, _text in self.db.execute(
                    "SELECT cls, perms, mls, expr, text FROM constraints ORDER BY rowid"):
                table.setdefault(c, []).append((perms, mls, json.loads(expr)))
            self._constraints = table
        todo = self._constraints.get(cid, ())
        if not any(perms & bit for perms, _mls, _tokens in todo):
            return None
        memo_key = (str(scon), str(tcon), cid, bit, allowed)
        if memo_key in self._constraint_memo:
            return self._constraint_memo[memo_key]
        found = self._eval_constraints(scon, tcon, todo, bit, tclass, allowed)
        self._constraint_memo[memo_key] = found
        return found

    def _eval_constraints(self, scon: Context, tcon: Context, todo: Sequence[tuple[int, int, list[Any]]],
                          bit: int, tclass: str, allowed: int) -> str | None:
        levels: dict[str, evaluate.Level] = {}
        if self._mls:
            sens, cats = self._levels()
            for prefix, con in (("1", scon), ("2", tcon)):
                rng = evaluate.parse_range(con.level or "s0", sens, cats)
                if rng is not None:
                    levels["l" + prefix], levels["h" + prefix] = rng
        values = {"u1": scon.user, "u2": tcon.user, "r1": scon.role, "r2": tcon.role,
                  "t1": self._names[self._type_id(scon.type) or 0], "t2": self._names[self._type_id(tcon.type) or 0]}
        ctx = evaluate.ConstraintContext(values, levels, self._expand_names)
        remaining = allowed | bit
        texts: list[str] = []
        for perms, mls, tokens in todo:
            if not perms & remaining:
                continue
            ok, text = evaluate.eval_constraint(tokens, ctx)
            if not ok:
                remaining &= ~perms
                names = sorted(self._perm_names(tclass, perms))
                shown = names[0] if len(names) == 1 else "{ " + " ".join(names) + " }"
                texts.append(f"{'mlsconstrain' if mls else 'constrain'} {tclass} {shown} {text}; Constraint DENIED")
        return "\n".join(texts) if not remaining & bit else None

    def _expand_names(self, kind: str, name: str) -> frozenset[str]:
        """The names a constraint's name stands for (a type attribute expanded; cached)."""
        found = self._expanded.get((kind, name))
        if found is None:
            tid = self._tid(name) if kind == "t" else None
            found = (frozenset({name}) if tid is None
                     else frozenset(self._names[m] for m in self._members(tid)))
            self._expanded[(kind, name)] = found
        return found

    # ------------------------------------------------------ context validity

    def _fit_mls(self, ctx: Context) -> str:
        """The context as this policy expects it: a level added or dropped."""
        if self._mls:
            return str(Context(ctx.user, ctx.role, ctx.type, ctx.level or "s0"))
        return str(Context(ctx.user, ctx.role, ctx.type))

    def _user(self, name: str) -> tuple[frozenset[str], str | None] | None:
        row = self.db.execute("SELECT roles, range FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else (frozenset(row[0].split()), row[1])

    def _context_problem(self, ctx: Context) -> Verdict | None:
        """A verdict when user, role or level cannot be valid (as PolicyFacts checks them)."""
        key = "c:" + str(ctx)
        if key not in self._ctx_problems:
            self._ctx_problems[key] = self._check_context(ctx)
        return self._ctx_problems[key]

    def _check_context(self, ctx: Context) -> Verdict | None:
        user = self._user(ctx.user)
        if user is None:
            return Verdict(Reason.RBAC, detail=f"SELinux user {ctx.user} not defined in this policy",
                           differs=("user",))
        if self.db.execute("SELECT 1 FROM roles WHERE name = ?", (ctx.role,)).fetchone() is None:
            return Verdict(Reason.RBAC, detail=f"role {ctx.role} not defined in this policy", differs=("role",))
        if ctx.role != "object_r":
            if ctx.role not in user[0]:
                return Verdict(Reason.RBAC, detail=f"user {ctx.user} is not authorized for role {ctx.role}",
                               differs=("user", "role"))
            tid = self._type_id(ctx.type)
            if tid is not None and self.db.execute("SELECT 1 FROM role_types WHERE role = ? AND type = ?",
                                                   (ctx.role, tid)).fetchone() is None:
                return Verdict(Reason.RBAC, detail=f"role {ctx.role} is not associated with type {ctx.type} "
                               f"(missing: role {ctx.role} types {ctx.type};)", differs=("role",))
        if self._mls and ctx.level is not None:
            problem = self._range_problem(ctx.level)
            if problem:
                return Verdict(Reason.CONSTRAINT, detail=f"level {ctx.level} is not valid in this policy: {problem}",
                               differs=("level",))
        return None

    def _range_problem(self, text: str) -> str | None:
        sens, cats = self._levels()
        rng = evaluate.parse_range(text, sens, cats, loose=True)  # as setools' lookup_range
        if rng is None:
            return "unknown sensitivity or category"
        low, high = rng
        if not evaluate.dom(high, low):
            return "the high level does not dominate the low level"
        for level in (low, high):
            if not level[1] <= self._level_cats(level[0]):
                return "a category is not allowed with its sensitivity"
        return None

    def _level_cats(self, sens_ord: int) -> frozenset[int]:
        sens, _cats = self._levels()
        names = [n for n, o in sens.items() if o == sens_ord]
        for n in names:
            row = self.db.execute("SELECT cats FROM levels WHERE sens = ?", (n,)).fetchone()
            if row is not None:
                return parse_ranges(row[0])
        return frozenset()

    def _sid_problem(self, ctx: Context, original: str) -> Verdict | None:
        """What libsepol's context_to_sid rejects beyond :meth:`_check_context`: a
        category range whose end is not above its start (``c5.c3``, ``c5.c5``,
        which setools accepts),
        and a range outside the user's MLS range (roles other than object_r)."""
        key = "s:" + str(ctx)
        if key not in self._ctx_problems:
            found = None
            if self._mls:
                user = self._user(ctx.user)
                sens, cats = self._levels()
                ctx_range = evaluate.parse_range(ctx.level or "s0", sens, cats)
                user_range = evaluate.parse_range(user[1], sens, cats) if user and user[1] else None
                if ctx_range is None or (ctx.role != "object_r" and user_range is not None and not (
                        evaluate.dom(ctx_range[0], user_range[0]) and evaluate.dom(user_range[1], ctx_range[1]))):
                    found = Verdict(Reason.RBAC, detail=f"{self._fit_mls(ctx)} is not a valid context in this "
                                    "policy (the user may not have this role, or the level is outside the "
                                    "user's range)", differs=("user", "role"))
            self._ctx_problems[key] = found
        return self._ctx_problems[key]
