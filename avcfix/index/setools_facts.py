"""Policy facts: the ONE module that opens a binary policy.

It answers every question the explanation engine asks (:class:`Facts`), with
setools (python3-setools) for names, rules, booleans and attributes, and
libselinux's ``selinux.audit2why`` for the kernel's own reason computation
(TE rule, boolean, constraint, RBAC, bounds, dontaudit). file_contexts are read
offline with libselinux's ``selabel`` from an explicit path, never from the
live host unless the host's policy was chosen.

Caches live on the :class:`PolicyFacts` instance (never module-level); the
``lookups`` counter counts distinct access analyses.

libselinux's audit2why holds one process-wide policy between ``init`` and
``finish``; :meth:`PolicyFacts.analyze` brackets each batch with both, so two
PolicyFacts objects never see each other's policy.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avcfix.audit.model import Context
from avcfix.errors import PolicyError
from avcfix.explain.booldesc import parse_descriptions
from avcfix.explain.candidates import (
    MAX_ATTRIBUTE_EXPANSION,
    MAX_LABEL_EXPANSION,
    NOT_DATA_ATTRIBUTES,
    rank_by_name,
    rank_ports,
)
from avcfix.explain.constraint import constraint_differs
from avcfix.explain.generic import (
    GENERIC_FILE_TYPES,
    GENERIC_PORT_TYPES,
    UNCONFINED_ATTRIBUTE,
    UNCONFINED_DOMAIN_NAMES,
)
from avcfix.explain.labelfiles import CLASS_MODE, FileLabeler, fc_entries, fc_literal_dir, runtime_types
from avcfix.explain.model import Reason
from avcfix.explain.protocol import (
    AccessKey,
    Analysis,
    BoolSetting,
    PolicyRule,
    Verdict,
    class_analysis,
    rule_order,
    unknown_class_analysis,
    unknown_type_analysis,
)
from avcfix.index.bindings import require

#: Where refpolicy's devel package puts the boolean descriptions.
DEFAULT_POLICY_XML = Path("/usr/share/selinux/devel/policy.xml")

#: Most booleans considered when looking for a pair that allows an access.
MAX_PAIR_BOOLEANS = 16

@dataclass(frozen=True, slots=True)
class _RuleView:
    """What the fact queries need from one allow rule."""

    target: str
    target_is_attr: bool
    tclass: str
    perms: frozenset[str]
    conditional: Any  # setools Conditional or None
    block: bool


@dataclass(slots=True)
class _FileLabelCache:
    """The file-label advisors' answers, by query (see :meth:`PolicyFacts._fl`)."""

    #: (path, file mode) -> expected_file_type
    expected: dict[tuple[str, int], str | None] = field(default_factory=dict)
    #: attribute or type -> _expand
    expand: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: _bool_defaults
    bools: dict[str, bool] | None = None
    #: (domain, target, class) -> granted_perms
    granted: dict[tuple[str, str, str], frozenset[str]] = field(default_factory=dict)
    #: (domain, target, class, perms) -> enabling_booleans
    enabling: dict[tuple[str, str, str, tuple[str, ...]], tuple[BoolSetting, ...]] = field(default_factory=dict)
    #: (domain, class, perms) -> label_candidates
    candidates: dict[tuple[str, str, tuple[str, ...]], tuple[tuple[str, frozenset[str]], ...]] = field(
        default_factory=dict)
    #: _genfs_only
    genfs: frozenset[str] | None = None
    #: _fc_lines
    fc_lines: tuple[tuple[str, str, str], ...] | None = None
    #: type -> fc_entries
    fc_index: dict[str, tuple[tuple[str, str], ...]] | None = None


class PolicyFacts:
    """Answers from one binary policy (and optionally its file_contexts)."""

    __slots__ = (
        "path", "file_contexts", "policy_xml", "lookups", "_policy", "_analyses",
        "_rules", "_descriptions", "_labeler", "_types", "_type_attrs",
        "_ctx_problems", "diagnostics", "_cond_rules",
        "_genfs_types", "_xperm_rules", "_attr_sizes", "_fc_dirs",
        "_fl_cache",  # file-label advisors (h13-files): filled lazily by _fl()
        "_members", "_bool_index", "_portcon", "_allow_cache", "_enabled_cache",
        "_by_target", "_users",
    )

    def __init__(self, path: Path, file_contexts: Path | None = None,
                 policy_xml: Path | None = DEFAULT_POLICY_XML) -> None:
        setools = require("setools", "reading a binary policy")

        self.path = Path(path)
        self.file_contexts = Path(file_contexts) if file_contexts is not None else None
        self.policy_xml = policy_xml
        self.lookups = 0
        if not self.path.is_file():
            raise PolicyError(f"policy file not found or not a file: {self.path}")
        try:
            self._policy = setools.SELinuxPolicy(str(self.path))
        except (OSError, ValueError, setools.exception.SEToolsException) as exc:
            raise PolicyError(f"cannot read binary policy {self.path}: {exc}") from exc
        self._analyses: dict[AccessKey, Analysis] = {}
        self._rules: dict[tuple[str, str], list[Any]] | None = None
        self._cond_rules: dict[tuple[str, str], list[_RuleView]] | None = None
        self._descriptions: dict[str, str] | None = None
        self._labeler = FileLabeler(self.file_contexts)
        self._types: dict[str, Any] | None = None
        self._type_attrs: dict[str, frozenset[str]] = {}
        self._ctx_problems: dict[Context, Verdict | None] = {}
        #: What libsepol printed while analysing (kept off the terminal).
        self.diagnostics: list[str] = []
        self._genfs_types: frozenset[str] | None = None
        self._xperm_rules: dict[tuple[str, str], list[tuple[str, frozenset[int]]]] | None = None
        self._attr_sizes: dict[str, int] = {}
        self._fc_dirs: tuple[tuple[str, str, str], ...] | None = None
        # boolean and port_label advisors (h13-bool)
        self._members: dict[str, tuple[str, ...]] = {}
        self._bool_index: dict[str, list[tuple[Any, bool, Any]]] | None = None
        self._portcon: dict[str, tuple[tuple[str, int, int], ...]] | None = None
        self._allow_cache: dict[tuple[str, str, str], tuple[PolicyRule, ...]] = {}
        self._enabled_cache: dict[tuple[tuple[BoolSetting, ...], str], tuple[PolicyRule, ...]] = {}
        self._by_target: dict[tuple[str, str], list[Any]] | None = None
        self._users: dict[tuple[str, str, str], tuple[str, ...]] = {}

    # ------------------------------------------------------------------ basics

    @property
    def mls(self) -> bool:
        """MLS/MCS state of the policy file (not the host)."""
        return bool(self._policy.mls)

    def close(self) -> None:
        """Release the file_contexts handle (the policy is freed with the object)."""
        self._labeler.close()

    def __enter__(self) -> PolicyFacts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _type(self, name: str) -> Any:
        """The setools Type for ``name`` (aliases resolved), or ``None``."""
        if self._types is None:
            table: dict[str, Any] = {}
            for t in self._policy.types():
                table[str(t)] = t
                for alias in t.aliases():
                    table.setdefault(str(alias), t)
            self._types = table
        return self._types.get(name)

    def canonical_type(self, name: str) -> str | None:
        """The type ``name`` stands for (an alias resolved: ``innd_var_run_t`` ->
        ``innd_runtime_t``), or ``None`` when the policy has no such type."""
        t = self._type(name)
        return str(t) if t is not None else None

    def has_type(self, name: str) -> bool:
        """True when ``name`` is a type (or alias) of this policy."""
        return self._type(name) is not None

    def _type_names(self, name: str) -> frozenset[str]:
        """``name`` (canonical) and every attribute it has."""
        found = self._type_attrs.get(name)
        if found is None:
            t = self._type(name)
            found = frozenset({name}) if t is None else frozenset({str(t)} | {str(a) for a in t.attributes()})
            self._type_attrs[name] = found
        return found

    # ---------------------------------------------------------------- analysis

    def analyze(self, keys: Sequence[AccessKey]) -> dict[AccessKey, Analysis]:
        """Analyse every distinct key once (cached); audit2why is opened once per batch."""
        todo = sorted({k for k in keys if k not in self._analyses},
                      key=lambda k: (k.scontext, k.tcontext, k.tclass, k.perms))
        if todo:
            a2w = require("selinux.audit2why", "the setools facts (AVCFIX_FACTS=setools)")

            with _captured_stderr(self.diagnostics):
                try:
                    a2w.init(str(self.path))
                except (SystemError, RuntimeError, OSError) as exc:
                    _finish_quietly(a2w)
                    raise PolicyError(f"libselinux audit2why cannot load {self.path}: {exc}") from exc
                try:
                    for key in todo:
                        self.lookups += 1
                        self._analyses[key] = self._analyze_one(a2w, key)
                finally:
                    a2w.finish()
        return {k: self._analyses[k] for k in keys}

    def _analyze_one(self, a2w: Any, key: AccessKey) -> Analysis:
        scon = Context.parse(key.scontext)
        tcon = Context.parse(key.tcontext)
        unknown = unknown_type_analysis(key, scon, tcon, self.has_type)
        if unknown is not None:
            return unknown
        assert scon is not None and tcon is not None  # else unknown_type_analysis answered
        permissive = bool(self._type(scon.type).ispermissive)
        known = self._class_perms(key.tclass)
        if known is None:
            return unknown_class_analysis(key, permissive)
        ctx_problem = self._context_problem(scon) or self._context_problem(tcon)
        scontext, tcontext = self._fit_mls(scon), self._fit_mls(tcon)
        return class_analysis(key, permissive, known, ctx_problem,
                              lambda perm: self._audit2why(a2w, scontext, tcontext, key.tclass, perm))

    def _class_perms(self, tclass: str) -> frozenset[str] | None:
        import setools  # __init__ required it

        try:
            cls = self._policy.lookup_class(tclass)
        except (setools.exception.InvalidClass, ValueError):
            return None
        perms = set(cls.perms)
        try:
            perms |= set(cls.common.perms)
        except setools.exception.NoCommon:
            pass
        return frozenset(perms)

    def _context_problem(self, ctx: Context) -> Verdict | None:
        """A verdict when user, role or level cannot be valid in this policy (cached)."""
        if ctx not in self._ctx_problems:
            self._ctx_problems[ctx] = self._check_context(ctx)
        return self._ctx_problems[ctx]

    def _check_context(self, ctx: Context) -> Verdict | None:
        import setools  # __init__ required it

        try:
            user = self._policy.lookup_user(ctx.user)
        except (setools.exception.InvalidUser, ValueError):
            return Verdict(Reason.RBAC, detail=f"SELinux user {ctx.user} not defined in this policy",
                           differs=("user",))
        try:
            role = self._policy.lookup_role(ctx.role)
        except (setools.exception.InvalidRole, ValueError):
            return Verdict(Reason.RBAC, detail=f"role {ctx.role} not defined in this policy", differs=("role",))
        if ctx.role != "object_r":
            if ctx.role not in {str(r) for r in user.roles}:
                return Verdict(Reason.RBAC, detail=f"user {ctx.user} is not authorized for role {ctx.role}",
                               differs=("user", "role"))
            canonical = self._type(ctx.type)
            if canonical is not None and str(canonical) not in {str(t) for t in role.types()}:
                return Verdict(Reason.RBAC, detail=f"role {ctx.role} is not associated with type {ctx.type} "
                               f"(missing: role {ctx.role} types {ctx.type};)", differs=("role",))
        if self.mls and ctx.level is not None:
            try:
                self._policy.lookup_range(ctx.level)
            except (setools.exception.InvalidRange, setools.exception.InvalidLevel, ValueError, KeyError) as exc:
                return Verdict(Reason.CONSTRAINT, detail=f"level {ctx.level} is not valid in this policy: {exc}",
                               differs=("level",))
        return None

    def _fit_mls(self, ctx: Context) -> str:
        """The context as this policy expects it: a level added or dropped."""
        if self.mls:
            return str(Context(ctx.user, ctx.role, ctx.type, ctx.level or "s0"))
        return str(Context(ctx.user, ctx.role, ctx.type))

    def _audit2why(self, a2w: Any, scontext: str, tcontext: str, tclass: str, perm: str) -> Verdict:
        try:
            rc, extra = a2w.analyze(scontext, tcontext, tclass, [perm])
        except (ValueError, TypeError, RuntimeError, OSError) as exc:
            return Verdict(Reason.TE_RULE, detail=f"audit2why could not analyse this access: {exc}")
        if rc == a2w.ALLOW:
            return Verdict(Reason.ALLOWED_NOW, detail="this policy allows the access now "
                           "(the policy or a boolean changed since it was logged)")
        if rc == a2w.DONTAUDIT:
            return Verdict(Reason.DONTAUDIT, detail="a dontaudit rule hides this denial; it was only "
                           "logged because dontaudit rules were disabled (semodule -DB)")
        if rc == a2w.BOOLEAN:
            alts = tuple(((str(name), bool(value)),) for name, value in sorted(extra or ()))
            return Verdict(Reason.BOOLEAN, booleans=alts)
        if rc == a2w.CONSTRAINT:
            text = str(extra or "").strip()
            return Verdict(Reason.CONSTRAINT, detail=text,
                           differs=constraint_differs(text, scontext, tcontext))
        if rc == a2w.RBAC:
            return Verdict(Reason.RBAC, detail="a role allow rule or role-type association is missing")
        if rc == a2w.BOUNDS:
            return Verdict(Reason.BOUNDS, detail="typebounds forbid the domain more than its parent has")
        if rc in (a2w.BADSCON, a2w.BADTCON):
            which = scontext if rc == a2w.BADSCON else tcontext
            return Verdict(Reason.RBAC, detail=f"{which} is not a valid context in this policy "
                           "(the user may not have this role, or the level is outside the user's range)",
                           differs=("user", "role"))
        if rc == a2w.TERULE:
            pairs = self._boolean_pairs(scontext, tcontext, tclass, perm)
            if pairs:
                return Verdict(Reason.BOOLEAN, booleans=pairs,
                               detail="no single boolean allows this; these pairs do")
            return Verdict(Reason.TE_RULE)
        return Verdict(Reason.TE_RULE, detail=f"audit2why returned {rc}; treated as a missing rule")

    # ------------------------------------------------------------ rule index

    def _rules_by_source(self) -> dict[tuple[str, str], list[Any]]:
        """Allow rules (setools objects) by (source type/attribute, class), built once on first need."""
        if self._rules is None:
            from setools.policyrep import TERuletype

            allow = TERuletype.allow
            index: dict[tuple[str, str], list[Any]] = {}
            for rule in self._policy.terules():
                if rule.ruletype == allow:
                    index.setdefault((str(rule.source), str(rule.tclass)), []).append(rule)
            self._rules = index
        return self._rules

    @staticmethod
    def _view(rule: Any) -> _RuleView:
        from setools.policyrep import TypeAttribute

        try:
            cond, block = rule.conditional, bool(rule.conditional_block)
        except Exception:  # setools raises RuleNotConditional
            cond, block = None, True
        return _RuleView(str(rule.target), isinstance(rule.target, TypeAttribute), str(rule.tclass),
                         frozenset(str(p) for p in rule.perms), cond, block)

    def _cond_rules_by_source(self) -> dict[tuple[str, str], list[_RuleView]]:
        """Conditional allow rules only, by (source, class): a small index for boolean pairs."""
        if self._cond_rules is None:
            from setools.policyrep import TERuletype, TypeAttribute

            index: dict[tuple[str, str], list[_RuleView]] = {}
            for cond in self._policy.conditionals():
                for block, rules in ((True, cond.true_rules()), (False, cond.false_rules())):
                    for rule in rules:
                        if rule.ruletype != TERuletype.allow:
                            continue
                        index.setdefault((str(rule.source), str(rule.tclass)), []).append(_RuleView(
                            str(rule.target), isinstance(rule.target, TypeAttribute), str(rule.tclass),
                            frozenset(str(p) for p in rule.perms), cond, block))
            self._cond_rules = index
        return self._cond_rules

    def _rules_for(self, domain: str, tclass: str, conditional_only: bool = False) -> list[_RuleView]:
        names = sorted(self._type_names(domain))
        if conditional_only:
            cond = self._cond_rules_by_source()
            return [r for s in names for r in cond.get((s, tclass), ())]
        index = self._rules_by_source()
        return [self._view(r) for s in names for r in index.get((s, tclass), ())]

    def _boolean_pairs(self, scontext: str, tcontext: str, tclass: str,
                       perm: str) -> tuple[tuple[BoolSetting, ...], ...]:
        """Pairs of boolean changes that together enable a rule granting ``perm``."""
        s, t = Context.parse(scontext), Context.parse(tcontext)
        if s is None or t is None:
            return ()
        targets = self._type_names(t.type)
        rules = [r for r in self._rules_for(s.type, tclass, conditional_only=True)
                 if perm in r.perms and r.target in targets]
        names = sorted({str(b) for r in rules for b in r.conditional.booleans})[:MAX_PAIR_BOOLEANS]
        if len(names) < 2:
            return ()
        state = {n: bool(self._policy.lookup_boolean(n).state) for n in names}
        found = []
        for a, b in itertools.combinations(names, 2):
            trial = dict(state, **{a: not state[a], b: not state[b]})
            if any(bool(r.conditional.evaluate(**trial)) == r.block for r in rules):
                found.append(((a, trial[a]), (b, trial[b])))
        return tuple(found)

    # ------------------------------------------------------- advice questions

    def _specific_targets(self, rules: list[_RuleView], kind_attr: str,
                          generic: frozenset[str]) -> list[tuple[bool, str]]:
        """(direct, type) for rule targets that carry ``kind_attr`` and are not generic."""
        out: dict[str, bool] = {}
        for r in rules:
            if r.target_is_attr:
                attr = self._policy.lookup_type_or_attr(r.target)
                members = list(attr.expand())
                if len(members) > MAX_ATTRIBUTE_EXPANSION:
                    continue
                names = [str(m) for m in members]
                direct = False
            else:
                names, direct = [r.target], True
            for n in names:
                attrs = self._type_names(n)
                if n in generic or kind_attr not in attrs or attrs & NOT_DATA_ATTRIBUTES:
                    continue
                out[n] = out.get(n, False) or direct
        return [(d, n) for n, d in out.items()]

    def port_types(self, domain: str, tclass: str, perm: str) -> tuple[str, ...]:
        """Specific port types ``domain`` may already ``perm`` (name_bind/name_connect) on ``tclass``."""
        if self._type(domain) is None:
            return ()
        rules = [r for r in self._rules_for(domain, tclass) if perm in r.perms and self._active(r)]
        return rank_ports(self._specific_targets(rules, "port_type", GENERIC_PORT_TYPES), self.port_ranges)

    def _active(self, rule: _RuleView) -> bool:
        """True when the rule is in force with the policy file's boolean values."""
        if rule.conditional is None:
            return True
        return bool(rule.conditional.evaluate(**self._bool_state(rule))) == rule.block

    def file_types(self, domain: str, tclass: str, perms: tuple[str, ...]) -> tuple[str, ...]:
        """Specific file types ``domain`` may already access on ``tclass`` with every one of ``perms``."""
        if self._type(domain) is None:
            return ()
        granted: dict[tuple[str, bool], set[str]] = {}
        for r in self._rules_for(domain, tclass):
            if not self._active(r):
                continue
            granted.setdefault((r.target, r.target_is_attr), set()).update(r.perms)
        rules = [_RuleView(t, is_attr, tclass, frozenset(p), None, True)
                 for (t, is_attr), p in sorted(granted.items()) if set(perms) <= p]
        return rank_by_name(domain, self._specific_targets(rules, "file_type", GENERIC_FILE_TYPES))

    def _bool_state(self, rule: _RuleView) -> dict[str, bool]:
        return {str(b): bool(b.state) for b in rule.conditional.booleans}

    def fixed_label(self, type_name: str) -> bool:
        """True when relabelling one file to file_contexts is impossible or wrong.

        Types given by genfscon (per filesystem: nfs_t, cifs_t, proc_t...;
        root_t excepted), and types the policy root lists as customizable or
        assigned at run time (``contexts/customizable_types``,
        ``virtual_image_context``, ``virtual_domain_context``,
        ``lxc_contexts``): restorecon leaves those alone or breaks them.
        """
        if self._genfs_types is None:
            genfs = {str(g.context.type_) for g in self._policy.genfscons()} - {"root_t"}
            self._genfs_types = frozenset(genfs | self._runtime_types())
        return type_name in self._genfs_types

    def _runtime_types(self) -> set[str]:
        """Types named in the policy root's customizable/runtime context files."""
        if self.file_contexts is None:
            return set()
        return runtime_types(self.file_contexts.parent.parent)

    def _xperm_index(self) -> dict[tuple[str, str], list[tuple[str, frozenset[int]]]]:
        """allowxperm ioctl rules by (source type/attribute, class): (target, commands)."""
        if self._xperm_rules is None:
            from setools.policyrep import TERuletype

            index: dict[tuple[str, str], list[tuple[str, frozenset[int]]]] = {}
            for rule in self._policy.terules():
                if rule.ruletype != TERuletype.allowxperm or str(getattr(rule, "xperm_type", "")) != "ioctl":
                    continue
                index.setdefault((str(rule.source), str(rule.tclass)), []).append(
                    (str(rule.target), frozenset(int(c) for c in rule.perms)))
            self._xperm_rules = index
        return self._xperm_rules

    def xperm_denied(self, domain: str, target: str, tclass: str, cmds: Sequence[int]) -> tuple[int, ...]:
        """The commands of ``cmds`` left out by the allowxperm rules for (domain, target, class).

        The kernel restricts ioctl commands for a (source, target, class) only
        when some allowxperm rule names it; then exactly the listed commands are
        allowed. No such rule: nothing is restricted, the result is empty.
        """
        if self._type(domain) is None or self._type(target) is None:
            return ()
        index = self._xperm_index()
        if not index:
            return ()
        targets = self._type_names(target)
        allowed: set[int] = set()
        restricted = False
        for s in sorted(self._type_names(domain)):
            for t, listed in index.get((s, tclass), ()):
                if t in targets or (t == "self" and targets & self._type_names(domain)):
                    restricted = True
                    allowed |= listed
        if not restricted:
            return ()
        return tuple(sorted(c for c in set(cmds) if c not in allowed))

    def is_unconfined(self, type_name: str) -> bool:
        """True for domains with the unconfined attribute (or named like one)."""
        if type_name in UNCONFINED_DOMAIN_NAMES:
            return True
        return UNCONFINED_ATTRIBUTE in self._type_names(type_name)

    def boolean_description(self, name: str) -> str | None:
        """Description from policy.xml (selinux-policy-dev), when installed."""
        if self._descriptions is None:
            self._descriptions = {}
            if self.policy_xml is not None:
                try:
                    self._descriptions = parse_descriptions(Path(self.policy_xml).read_bytes())
                except OSError:
                    pass
        return self._descriptions.get(name)

    def boolean_state(self, name: str) -> bool | None:
        """The boolean's value in the policy file, or ``None`` when it does not exist."""
        import setools  # __init__ required it

        try:
            return bool(self._policy.lookup_boolean(name).state)
        except (setools.exception.InvalidBoolean, ValueError):
            return None

    def expected_type(self, path: str) -> str | None:
        """The type the policy's file_contexts (with .local, .homedirs, .subs*) gives ``path``."""
        return self._labeler.type_of(path)

    # --- boolean and port_label advisors (h13-bool) ---------------------------

    def type_members(self, name: str) -> tuple[str, ...]:
        """Types of an attribute (sorted); ``(canonical,)`` for a type or alias; ``()`` if unknown."""
        found = self._members.get(name)
        if found is None:
            t = self._type(name)
            if t is not None:
                found = (str(t),)
            else:
                import setools  # __init__ required it

                try:
                    attr = self._policy.lookup_typeattr(name)
                except (setools.exception.InvalidType, ValueError, KeyError):
                    found = ()
                else:
                    found = tuple(sorted(str(m) for m in attr.expand()))
            self._members[name] = found
        return found

    def _policy_rule(self, rule: Any, cond: Any, block: bool) -> PolicyRule:
        from setools.policyrep import TypeAttribute

        src, tgt = rule.source, rule.target
        booleans = tuple(sorted(str(b) for b in cond.booleans)) if cond is not None else ()
        active = True
        if cond is not None:
            state = {str(b): bool(b.state) for b in cond.booleans}
            active = bool(cond.evaluate(**state)) == block
        return PolicyRule(
            str(src), str(tgt), str(rule.tclass), tuple(sorted(str(p) for p in rule.perms)),
            source_size=len(self.type_members(str(src))) if isinstance(src, TypeAttribute) else 1,
            target_size=len(self.type_members(str(tgt))) if isinstance(tgt, TypeAttribute) else 1,
            source_is_attr=isinstance(src, TypeAttribute), target_is_attr=isinstance(tgt, TypeAttribute),
            condition=str(cond) if cond is not None else "", block=block, booleans=booleans, active=active)

    def allow_rules(self, domain: str, tclass: str, perm: str) -> tuple[PolicyRule, ...]:
        """Allow rules (conditional ones too) applying to ``domain`` that grant ``perm`` on ``tclass``."""
        key = (domain, tclass, perm)
        found = self._allow_cache.get(key)
        if found is None:
            out: set[PolicyRule] = set()
            if self._type(domain) is not None:
                index = self._rules_by_source()
                for src in sorted(self._type_names(domain)):
                    for rule in index.get((src, tclass), ()):
                        if perm not in {str(p) for p in rule.perms}:
                            continue
                        try:
                            cond, block = rule.conditional, bool(rule.conditional_block)
                        except Exception:  # setools raises RuleNotConditional
                            cond, block = None, True
                        out.add(self._policy_rule(rule, cond, block))
            found = tuple(sorted(out, key=rule_order))
            self._allow_cache[key] = found
        return found

    def _boolean_index(self) -> dict[str, list[tuple[Any, bool, Any]]]:
        """Conditional allow rules by boolean name: (conditional, block, rule)."""
        if self._bool_index is None:
            from setools.policyrep import TERuletype

            index: dict[str, list[tuple[Any, bool, Any]]] = {}
            for cond in self._policy.conditionals():
                names = sorted({str(b) for b in cond.booleans})
                for block, rules in ((True, cond.true_rules()), (False, cond.false_rules())):
                    for rule in rules:
                        if rule.ruletype != TERuletype.allow:
                            continue
                        for n in names:
                            index.setdefault(n, []).append((cond, block, rule))
            self._bool_index = index
        return self._bool_index

    def boolean_rules(self, settings: Sequence[BoolSetting], domain: str) -> tuple[PolicyRule, ...]:
        """Conditional allow rules applying to ``domain`` that ``settings`` turn on."""
        wanted = tuple(sorted((str(n), bool(v)) for n, v in settings))
        key = (wanted, domain)
        found = self._enabled_cache.get(key)
        if found is None:
            out: set[PolicyRule] = set()
            names = self._type_names(domain) if self._type(domain) is not None else frozenset()
            index = self._boolean_index()
            for n, _ in wanted:
                for cond, block, rule in index.get(n, ()):
                    if str(rule.source) not in names:
                        continue
                    state = {str(b): bool(b.state) for b in cond.booleans}
                    if bool(cond.evaluate(**state)) == block:
                        continue  # already in force
                    state.update((k, v) for k, v in wanted if k in state)
                    if bool(cond.evaluate(**state)) == block:
                        out.add(self._policy_rule(rule, cond, block))
            found = tuple(sorted(out, key=rule_order))
            self._enabled_cache[key] = found
        return found

    def granted_domains(self, type_name: str, tclass: str, perm: str) -> tuple[str, ...]:
        """Domains whose allow rules name ``type_name`` itself for ``perm`` on ``tclass``."""
        t = self._type(type_name)
        if t is None:
            return ()
        key = (str(t), tclass, perm)
        found = self._users.get(key)
        if found is None:
            if self._by_target is None:
                index: dict[tuple[str, str], list[Any]] = {}
                for rules in self._rules_by_source().values():
                    for rule in rules:
                        index.setdefault((str(rule.target), str(rule.tclass)), []).append(rule)
                self._by_target = index
            doms: set[str] = set()
            for rule in self._by_target.get((str(t), tclass), ()):
                if perm in {str(p) for p in rule.perms}:
                    doms.update(self.type_members(str(rule.source)))
            found = tuple(sorted(doms))
            self._users[key] = found
        return found

    def port_ranges(self, type_name: str) -> tuple[tuple[str, int, int], ...]:
        """portcon entries (protocol, low, high) labelling ports ``type_name``."""
        if self._portcon is None:
            table: dict[str, list[tuple[str, int, int]]] = {}
            for pc in self._policy.portcons():
                proto = str(pc.protocol).lower()
                proto = {"6": "tcp", "17": "udp", "132": "sctp", "33": "dccp"}.get(proto, proto)
                table.setdefault(str(pc.context.type_), []).append((proto, int(pc.ports.low),
                                                                     int(pc.ports.high)))
            self._portcon = {k: tuple(sorted(v)) for k, v in table.items()}
        t = self._type(type_name)
        return self._portcon.get(str(t) if t is not None else type_name, ())


    # ---------------------------------------- permission completion (policy.complete)

    def class_permissions(self, tclass: str) -> frozenset[str] | None:
        """Every permission of class ``tclass`` (common included); ``None`` for an unknown class."""
        return self._class_perms(tclass)

    def type_transition(self, domain: str, target: str, tclass: str, name: str | None = None) -> str | None:
        """See :meth:`avcfix.explain.protocol.Facts.type_transition`."""
        from avcfix.explain.seqfacts import type_transition

        return type_transition(self._policy, domain, target, tclass, name)

    def node_type(self, family: str | None, address: str | None) -> str | None:
        """See :meth:`avcfix.explain.protocol.Facts.node_type`."""
        from avcfix.explain.seqfacts import node_type

        return node_type(self._policy, family, address)

    def port_type(self, proto: str, port: int) -> str | None:
        """See :meth:`avcfix.explain.protocol.Facts.port_type`."""
        from avcfix.explain.seqfacts import port_type

        self.port_ranges("")  # fills self._portcon
        rows = [(p, lo, hi, t) for t, ranges in (self._portcon or {}).items() for p, lo, hi in ranges]
        return port_type(rows, self._policy, proto, port)

    # ------------------------------------------------ file-label advisors (h13-files)
    # restorecon, custom_location, home_content, mounton, dontaudit_hidden.

    def _fl(self) -> _FileLabelCache:
        """The file-label advisors' cache (one object on the instance, filled lazily)."""
        cache: _FileLabelCache | None = getattr(self, "_fl_cache", None)
        if cache is None:
            cache = self._fl_cache = _FileLabelCache()
        return cache

    def expected_file_type(self, path: str, file_class: str | None = None) -> str | None:
        """The type file_contexts gives ``path`` as an object of ``file_class``
        (``dir``, ``file``...): entries limited to one file type (``-d``, ``--``)
        count only for that type, as restorecon sees them. ``None`` when unknown."""
        mode = CLASS_MODE.get(file_class or "", 0)
        if not mode:
            return self.expected_type(path)
        if not path.startswith("/") or "\x00" in path or "\n" in path:
            return None
        key = (path, mode)
        cache = self._fl().expected
        if key not in cache:
            cache[key] = self._labeler.type_of(path, mode)
        return cache[key]

    def _expand(self, name: str) -> tuple[str, ...]:
        """The types an attribute (or a type) stands for, sorted (cached)."""
        cache = self._fl().expand
        if name not in cache:
            try:
                obj = self._policy.lookup_type_or_attr(name)
            except Exception:  # setools: InvalidType
                cache[name] = ()
                return ()
            from setools.policyrep import TypeAttribute

            cache[name] = (tuple(sorted(str(m) for m in obj.expand())) if isinstance(obj, TypeAttribute)
                           else (str(obj),))
        return cache[name]

    def _bool_defaults(self) -> dict[str, bool]:
        cache = self._fl()
        if cache.bools is None:
            cache.bools = {str(b): bool(b.state) for b in self._policy.bools()}
        return cache.bools

    def _granted_rules(self, domain: str, target: str, tclass: str) -> list[_RuleView]:
        """Every allow rule (conditional or not) of ``domain`` on ``target``:``tclass``."""
        targets = self._type_names(target)
        own = self._type_names(domain)
        return [r for r in self._rules_for(domain, tclass)
                if r.target in targets or (r.target == "self" and bool(targets & own))]

    def _granted_with(self, rules: list[_RuleView], state: dict[str, bool]) -> frozenset[str]:
        perms: set[str] = set()
        for r in rules:
            if r.conditional is None:
                perms |= r.perms
                continue
            names = {str(b) for b in r.conditional.booleans}
            if bool(r.conditional.evaluate(**{n: state.get(n, False) for n in names})) == r.block:
                perms |= r.perms
        return frozenset(perms)

    def granted_perms(self, domain: str, target: str, tclass: str) -> frozenset[str]:
        """The permissions ``domain`` has on ``target``:``tclass`` with the policy
        file's boolean values (attributes expanded); empty for unknown names."""
        key = (domain, target, tclass)
        cache = self._fl().granted
        if key not in cache:
            if self._type(domain) is None or self._type(target) is None:
                cache[key] = frozenset()
            else:
                cache[key] = self._granted_with(self._granted_rules(domain, target, tclass),
                                                self._bool_defaults())
        return cache[key]

    def allows(self, domain: str, target: str, tclass: str, perms: Sequence[str]) -> bool:
        """True when ``domain`` may ``perms`` on ``target``:``tclass`` now (booleans as in the policy file)."""
        return bool(perms) and set(perms) <= self.granted_perms(domain, target, tclass)

    def enabling_booleans(self, domain: str, target: str, tclass: str,
                          perms: Sequence[str]) -> tuple[BoolSetting, ...]:
        """The single boolean changes after each of which ``domain`` may ``perms``
        on ``target``:``tclass`` (empty when it already may, or no one boolean does)."""
        key = (domain, target, tclass, tuple(sorted(set(perms))))
        cache = self._fl().enabling
        if key not in cache:
            found: list[BoolSetting] = []
            if perms and not self.allows(domain, target, tclass, perms) and self._type(domain) is not None \
                    and self._type(target) is not None:
                rules = self._granted_rules(domain, target, tclass)
                state = self._bool_defaults()
                names = sorted({str(b) for r in rules if r.conditional is not None
                                for b in r.conditional.booleans})
                for name in names:
                    trial = dict(state, **{name: not state.get(name, False)})
                    if set(perms) <= self._granted_with(rules, trial):
                        found.append((name, trial[name]))
            cache[key] = tuple(found)
        return cache[key]

    def label_candidates(self, domain: str, tclass: str,
                         perms: Sequence[str]) -> tuple[tuple[str, frozenset[str]], ...]:
        """Every specific file type ``domain`` may access on ``tclass`` with all
        ``perms`` now, with everything it may do to it: (type, granted perms),
        sorted by name. Generic, security and filesystem-given types are
        left out; attributes are expanded (up to MAX_LABEL_EXPANSION types)."""
        key = (domain, tclass, tuple(sorted(set(perms))))
        cache = self._fl().candidates
        if key in cache:
            return cache[key]
        out: list[tuple[str, frozenset[str]]] = []
        if self._type(domain) is not None and perms:
            names: set[str] = set()
            for r in self._rules_for(domain, tclass):
                if not (set(perms) & r.perms) or not self._active(r):
                    continue
                members = self._expand(r.target) if r.target != "self" else (domain,)
                if len(members) <= MAX_LABEL_EXPANSION:
                    names.update(members)
            for name in sorted(names):
                attrs = self._type_names(name)
                # program types stay (Fedora's httpd_sys_content_t is also a CGI entry
                # type); the advisors rank them by what else the domain may do to them
                if name in GENERIC_FILE_TYPES or "file_type" not in attrs or "security_file_type" in attrs:
                    continue
                if name in self._genfs_only():
                    continue  # a filesystem's label: no file context gives it
                granted = self.granted_perms(domain, name, tclass)
                if set(perms) <= granted:
                    out.append((name, granted))
        cache[key] = tuple(out)
        return cache[key]

    def _genfs_only(self) -> frozenset[str]:
        """Types only a filesystem gives (genfscon), unlike customizable types, which
        ``semanage fcontext`` may still assign."""
        cache = self._fl()
        if cache.genfs is None:
            cache.genfs = frozenset(str(g.context.type_) for g in self._policy.genfscons()) - {"root_t"}
        return cache.genfs

    def _fc_lines(self) -> tuple[tuple[str, str, str], ...]:
        """The entries of ``file_contexts`` and ``.local`` (not the per-user
        ``.homedirs``), read once: (regex, file type flag such as ``--``/``-d``
        or ``""``, type), in file order; ``<<none>>`` entries left out."""
        cache = self._fl()
        if cache.fc_lines is None:
            out: list[tuple[str, str, str]] = []
            if self.file_contexts is not None:
                for fc in (self.file_contexts, self.file_contexts.with_name(self.file_contexts.name + ".local")):
                    out.extend(fc_entries(fc))
            cache.fc_lines = tuple(out)
        return cache.fc_lines

    def fc_entries(self, type_name: str) -> tuple[tuple[str, str], ...]:
        """The file_contexts entries that give ``type_name``: (regex, file type
        flag such as ``--``/``-d`` or ``""``), in file order."""
        cache = self._fl()
        if cache.fc_index is None:
            index: dict[str, list[tuple[str, str]]] = {}
            for regex, flag, ftype in self._fc_lines():
                index.setdefault(ftype, []).append((regex, flag))
            cache.fc_index = {k: tuple(v) for k, v in index.items()}
        return cache.fc_index.get(type_name, ())

    # ------------------------------------------------- advisor: write_content

    def types_with_access(self, domain: str, tclass: str,
                          perms: tuple[str, ...]) -> dict[str, tuple[tuple[str, bool], ...]]:
        """File types (not attributes) ``domain`` may access on ``tclass`` with every one of
        ``perms``: type -> the boolean settings needed (empty: allowed now). A rule under one
        boolean counts with that boolean flipped; rules under more complex conditions do not.
        Attributes larger than MAX_ATTRIBUTE_EXPANSION are not expanded."""
        if self._type(domain) is None:
            return {}
        have: dict[tuple[str, tuple[tuple[str, bool], ...]], set[str]] = {}
        for r in self._rules_for(domain, tclass):
            if self._active(r):
                need: tuple[tuple[str, bool], ...] = ()
            else:
                bools = sorted(str(b) for b in r.conditional.booleans)
                if len(bools) != 1:
                    continue
                state = self._bool_state(r)
                flipped = {bools[0]: not state[bools[0]]}
                if bool(r.conditional.evaluate(**flipped)) != r.block:
                    continue
                need = ((bools[0], flipped[bools[0]]),)
            names = [r.target]
            if r.target_is_attr:
                members = [str(m) for m in self._policy.lookup_type_or_attr(r.target).expand()]
                if len(members) > MAX_ATTRIBUTE_EXPANSION:
                    continue
                names = members
            for n in names:
                have.setdefault((n, need), set()).update(r.perms)
        now: dict[str, set[str]] = {n: set() for (n, need) in have if not need}
        for (n, need), p in have.items():
            if not need:
                now[n] |= p
        found: dict[str, tuple[tuple[str, bool], ...]] = {}
        for (n, need), p in sorted(have.items()):
            attrs = self._type_names(n)
            if "file_type" not in attrs or attrs & NOT_DATA_ATTRIBUTES:
                continue
            if set(perms) <= (p | now.get(n, set())):
                if n not in found or (found[n] and not need):
                    found[n] = need
        return found

    def type_attributes(self, type_name: str) -> frozenset[str]:
        """The attributes of ``type_name`` (without the type itself)."""
        t = self._type(type_name)
        if t is None:
            return frozenset()
        return self._type_names(type_name) - {str(t)}

    def attribute_size(self, attr: str) -> int:
        """How many types carry attribute ``attr`` (0 when it is not one)."""
        if attr not in self._attr_sizes:
            try:
                self._attr_sizes[attr] = len(list(self._policy.lookup_typeattr(attr).expand()))
            except Exception:  # setools raises InvalidType for a non-attribute
                self._attr_sizes[attr] = 0
        return self._attr_sizes[attr]


    def fc_dirs(self) -> tuple[tuple[str, str, str], ...]:
        """The file_contexts entries as (regex's literal directory prefix, regex, type)."""
        if self._fc_dirs is None:
            self._fc_dirs = tuple((fc_literal_dir(regex), regex, ftype) for regex, _flag, ftype in self._fc_lines())
        return self._fc_dirs


@contextlib.contextmanager
def _captured_stderr(sink: list[str]) -> Iterator[None]:
    """Send what C libraries write to fd 2 into ``sink`` instead of the terminal.

    libsepol reports invalid contexts on stderr; avcfix reports them as
    reasons instead. Without a usable fd 2 this does nothing.
    """
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.extend(tmp.read().decode("utf-8", "replace").splitlines())


def _finish_quietly(a2w: Any) -> None:
    try:
        a2w.finish()
    except (SystemError, RuntimeError):
        pass
