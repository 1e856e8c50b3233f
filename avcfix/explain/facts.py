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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from avcfix.audit.model import Context
from avcfix.errors import PolicyError
from avcfix.explain.booldesc import parse_descriptions
from avcfix.explain.constraint import constraint_differs
from avcfix.explain.generic import (
    GENERIC_FILE_TYPES,
    GENERIC_PORT_TYPES,
    UNCONFINED_ATTRIBUTE,
    UNCONFINED_DOMAIN_NAMES,
)
from avcfix.explain.model import Reason
from avcfix.explain.protocol import AccessKey, Analysis, BoolSetting, Verdict
from avcfix.toolchain.store import PolicyRoot, host_policy_name

#: Where refpolicy's devel package puts the boolean descriptions.
DEFAULT_POLICY_XML = Path("/usr/share/selinux/devel/policy.xml")

#: Attributes larger than this are not expanded when looking for a specific
#: port or file type (``port_type`` and ``file_type`` name everything).
MAX_ATTRIBUTE_EXPANSION = 24

#: Most booleans considered when looking for a pair that allows an access.
MAX_PAIR_BOOLEANS = 16

#: Attributes of types that are never the right label for a service's data
#: (programs, entry points, security files).
_NOT_DATA_ATTRIBUTES = frozenset({"exec_type", "entry_type", "security_file_type"})

#: Most candidate types returned by port_types / file_types.
MAX_CANDIDATES = 5


def open_facts(
    policy: Path | None,
    root: Path | None,
    *,
    policy_xml: Path | None = None,
) -> "PolicyFacts | None":
    """Open the policy to explain against, or ``None`` when there is none.

    ``policy`` given: that file (file_contexts from ``root`` when given, else
    the ones next to it when it sits in a policy root's ``policy/`` directory).
    Else ``root`` given: the highest ``policy.N`` under
    ``ROOT/etc/selinux/NAME/policy`` (NAME from ``ROOT/etc/selinux/config``)
    and that root's file_contexts. Else the loaded policy when SELinux is
    enabled. Else ``None``. Raises :class:`PolicyError` for a missing,
    unreadable or invalid policy file.
    """
    file_contexts: Path | None = None
    xml = policy_xml
    if root is not None:
        proot = PolicyRoot(Path(root), host_policy_name(Path(root)))
        file_contexts = proot.file_contexts
        if xml is None:
            candidate = Path(root) / DEFAULT_POLICY_XML.relative_to("/")
            xml = candidate if candidate.is_file() else None
        if policy is None:
            policy = proot.policy_file
    if policy is None:
        loaded = _loaded_policy()
        if loaded is None:
            return None
        policy, file_contexts = loaded
    if file_contexts is None:
        file_contexts = _sibling_file_contexts(Path(policy))
    return PolicyFacts(Path(policy), file_contexts, xml if xml is not None else DEFAULT_POLICY_XML)


def _sibling_file_contexts(policy: Path) -> Path | None:
    """``NAME/contexts/files/file_contexts`` for a policy at ``NAME/policy/policy.N``.

    A policy file inside a policy root comes with its own file_contexts; a
    lone policy file (copied elsewhere) has none, and restorecon advice needs
    ``--root``.
    """
    if policy.parent.name != "policy":
        return None
    fc = policy.parent.parent / "contexts" / "files" / "file_contexts"
    return fc if fc.is_file() else None


def _loaded_policy() -> tuple[Path, Path | None] | None:
    """The running kernel's policy file and file_contexts, when SELinux is on."""
    import selinux

    try:
        if selinux.is_selinux_enabled() != 1:
            return None
        path = selinux.selinux_current_policy_path()
    except OSError:
        return None
    if not path:
        return None
    fc = selinux.selinux_file_context_path()
    return Path(path), (Path(fc) if fc else None)


@dataclass(frozen=True, slots=True)
class _RuleView:
    """What the fact queries need from one allow rule."""

    target: str
    target_is_attr: bool
    tclass: str
    perms: frozenset[str]
    conditional: Any  # setools Conditional or None
    block: bool


class PolicyFacts:
    """Answers from one binary policy (and optionally its file_contexts)."""

    __slots__ = (
        "path", "file_contexts", "policy_xml", "lookups", "_policy", "_analyses",
        "_rules", "_descriptions", "_labeler", "_labeler_failed", "_types", "_type_attrs",
        "_ctx_problems", "diagnostics", "_cond_rules",
        "_genfs_types", "_xperm_rules",
    )

    def __init__(self, path: Path, file_contexts: Path | None = None,
                 policy_xml: Path | None = DEFAULT_POLICY_XML) -> None:
        import setools

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
        self._labeler: Any = None
        self._labeler_failed = False
        self._types: dict[str, Any] | None = None
        self._type_attrs: dict[str, frozenset[str]] = {}
        self._ctx_problems: dict[Context, Verdict | None] = {}
        #: What libsepol printed while analysing (kept off the terminal).
        self.diagnostics: list[str] = []
        self._genfs_types: frozenset[str] | None = None
        self._xperm_rules: dict[tuple[str, str], list[tuple[str, frozenset[int]]]] | None = None

    # ------------------------------------------------------------------ basics

    @property
    def mls(self) -> bool:
        """MLS/MCS state of the policy file (not the host)."""
        return bool(self._policy.mls)

    def close(self) -> None:
        """Release the file_contexts handle (the policy is freed with the object)."""
        if self._labeler is not None:
            import selinux

            selinux.selabel_close(self._labeler)
            self._labeler = None

    def __enter__(self) -> "PolicyFacts":
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
            import selinux.audit2why as a2w

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
        if scon is None or tcon is None:
            bad = key.scontext if scon is None else key.tcontext
            v = Verdict(Reason.UNKNOWN_TYPE, detail=f"{bad!r} is not a security context")
            return Analysis(key, tuple((p, v) for p in key.perms))
        stype = self._type(scon.type)
        ttype = self._type(tcon.type)
        if stype is None or ttype is None:
            missing = [f"source type {scon.type}"] if stype is None else []
            missing += [f"target type {tcon.type}"] if ttype is None else []
            v = Verdict(Reason.UNKNOWN_TYPE, detail=" and ".join(missing) + " not defined in this policy")
            return Analysis(key, tuple((p, v) for p in key.perms))
        permissive = bool(stype.ispermissive)
        known = self._class_perms(key.tclass)
        if known is None:
            v = Verdict(Reason.UNKNOWN_CLASS, detail=f"class {key.tclass} not defined in this policy")
            return Analysis(key, tuple((p, v) for p in key.perms), permissive)
        ctx_problem = self._context_problem(scon) or self._context_problem(tcon)
        scontext, tcontext = self._fit_mls(scon), self._fit_mls(tcon)
        verdicts: list[tuple[str, Verdict]] = []
        for perm in key.perms:
            if perm not in known:
                verdicts.append((perm, Verdict(
                    Reason.UNKNOWN_PERM,
                    detail=f"permission {perm} not defined for class {key.tclass} in this policy")))
            elif ctx_problem is not None:
                verdicts.append((perm, ctx_problem))
            else:
                verdicts.append((perm, self._audit2why(a2w, scontext, tcontext, key.tclass, perm)))
        return Analysis(key, tuple(verdicts), permissive)

    def _class_perms(self, tclass: str) -> frozenset[str] | None:
        import setools

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
        import setools

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
                if n in generic or kind_attr not in attrs or attrs & _NOT_DATA_ATTRIBUTES:
                    continue
                out[n] = out.get(n, False) or direct
        return [(d, n) for n, d in out.items()]

    @staticmethod
    def _rank(domain: str, found: list[tuple[bool, str]]) -> tuple[str, ...]:
        stem = domain[:-2] if domain.endswith("_t") else domain

        def score(item: tuple[bool, str]) -> tuple[int, int, str]:
            direct, name = item
            shared = len(os.path.commonprefix([stem, name]))
            return (-shared, 0 if direct else 1, name)

        return tuple(n for _, n in sorted(found, key=score)[:MAX_CANDIDATES])

    def port_types(self, domain: str, tclass: str, perm: str) -> tuple[str, ...]:
        """Specific port types ``domain`` may already ``perm`` (name_bind/name_connect) on ``tclass``."""
        if self._type(domain) is None:
            return ()
        rules = [r for r in self._rules_for(domain, tclass) if perm in r.perms and self._active(r)]
        return self._rank(domain, self._specific_targets(rules, "port_type", GENERIC_PORT_TYPES))

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
        return self._rank(domain, self._specific_targets(rules, "file_type", GENERIC_FILE_TYPES))

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
        contexts_dir = self.file_contexts.parent.parent
        found: set[str] = set()
        for name in ("customizable_types", "virtual_image_context", "virtual_domain_context", "lxc_contexts"):
            try:
                text = (contexts_dir / name).read_text(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                value = line.split("=", 1)[-1].strip().strip('"')
                ctx = Context.parse(value)
                found.add(ctx.type if ctx else value)
        return found

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
        import setools

        try:
            return bool(self._policy.lookup_boolean(name).state)
        except (setools.exception.InvalidBoolean, ValueError):
            return None

    def expected_type(self, path: str) -> str | None:
        """The type the policy's file_contexts (with .local, .homedirs, .subs*) gives ``path``."""
        if not path.startswith("/") or "\x00" in path or "\n" in path:
            return None
        labeler = self._open_labeler()
        if labeler is None:
            return None
        import selinux

        try:
            _rc, context = selinux.selabel_lookup(labeler, path, 0)
        except (OSError, ValueError, TypeError, UnicodeError):
            return None
        ctx = Context.parse(context) if context else None
        return ctx.type if ctx else None

    def _open_labeler(self) -> Any:
        if self._labeler is not None or self._labeler_failed:
            return self._labeler
        if self.file_contexts is None or not self.file_contexts.is_file():
            self._labeler_failed = True
            return None
        import selinux

        opt = selinux.selinux_opt()
        opt.type = selinux.SELABEL_OPT_PATH
        opt.value = str(self.file_contexts)
        try:
            self._labeler = selinux.selabel_open(selinux.SELABEL_CTX_FILE, opt, 1)
        except OSError:
            self._labeler_failed = True
            return None
        return self._labeler

    # -- special-case advisors (xperm, leaked_fd, transition_noise, exec_memory, module_load)
    # has_type and boolean_state are defined above.

    def granted(self, domain: str, target: str, tclass: str) -> frozenset[str]:
        """Permissions on ``tclass`` that allow rules in force give ``domain`` on ``target``."""
        if self._type(domain) is None or self._type(target) is None:
            return frozenset()
        targets = self._type_names(target)
        own = self._type_names(domain)
        out: set[str] = set()
        for r in self._rules_for(domain, tclass):
            if (r.target in targets or (r.target == "self" and targets & own)) and self._active(r):
                out |= r.perms
        return frozenset(out)


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
