"""FakeFacts: the :class:`avcfix.explain.protocol.Facts` Protocol answered from
in-memory tables, so that the explain engine and its advisors run in the unit
tier (no setools, no libselinux, no policy file).

A fake policy is a handful of plain tables (types, aliases, attributes, classes,
allow/dontaudit rules with optional conditions, booleans, constraints,
permissive and unconfined domains, allowxperm, file contexts, portcons,
nodecons, type transitions). The verdict of one permission follows the real
backends' order (avcfix/index/facts.py ``_analyze_one``/``_verdict``):
unknown type, unknown class, unknown permission; allowed by an allow rule in
force -> a failing constraint, else ``allowed_now``; else single boolean flips
that allow it -> ``boolean``; else a dontaudit rule -> ``dontaudit``; else pairs
of booleans -> ``boolean``; else ``te_rule``. Conditions are one boolean name,
``! name``, or two names joined by ``&&`` / ``||``.

It is a model, not a policy: RBAC, bounds and MLS dominance are not modelled
(a constraint here fails when the named context part differs).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from avcfix.audit.model import Context
from avcfix.explain.labelfiles import fc_literal_dir
from avcfix.explain.model import Reason
from avcfix.explain.protocol import (
    AccessKey,
    Analysis,
    BoolSetting,
    PolicyRule,
    Verdict,
    unknown_type_analysis,
)


@dataclass(frozen=True)
class Rule:
    """``allow``/``dontaudit`` SOURCE TARGET:CLASS PERMS, under ``condition`` when given."""

    source: str
    target: str
    tclass: str
    perms: tuple[str, ...]
    kind: str = "allow"
    condition: str = ""
    #: The value of ``condition`` under which the rule is in force.
    block: bool = True


@dataclass(frozen=True)
class Constraint:
    """Fails for ``perms`` on ``tclass`` when the contexts' ``part`` (user, role, level) differ."""

    tclass: str
    perms: frozenset[str]
    part: str
    text: str = ""


@dataclass
class FakeFacts:
    """Every Facts question answered from the tables below (see the module docstring)."""

    types: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)
    #: attribute -> its member types
    attributes: dict[str, set[str]] = field(default_factory=dict)
    #: class -> every permission
    classes: dict[str, set[str]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    #: boolean -> (value in the policy, description or None)
    booleans: dict[str, tuple[bool, str | None]] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    permissive: set[str] = field(default_factory=set)
    unconfined: set[str] = field(default_factory=set)
    #: (domain, target, class) -> the ioctl commands allowxperm allows
    xperms: dict[tuple[str, str, str], frozenset[int]] = field(default_factory=dict)
    #: file_contexts: (regex, file type flag ("" for all, "--", "-d"...), type)
    file_contexts: list[tuple[str, str, str]] = field(default_factory=list)
    #: types whose files are labelled by their filesystem (genfscon)
    genfs_types: set[str] = field(default_factory=set)
    #: (protocol, low, high, type)
    portcons: list[tuple[str, int, int, str]] = field(default_factory=list)
    #: (address, type)
    nodecons: list[tuple[str, str]] = field(default_factory=list)
    #: (domain, target, class, name or None) -> new type
    transitions: dict[tuple[str, str, str, str | None], str] = field(default_factory=dict)
    #: types that are "generic" (never offered as a specific port/file type)
    generic: set[str] = field(default_factory=set)
    mls_enabled: bool = True
    lookups: int = 0
    _cache: dict[AccessKey, Analysis] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ names

    @property
    def mls(self) -> bool:
        return self.mls_enabled

    def canonical_type(self, name: str) -> str | None:
        name = self.aliases.get(name, name)
        return name if name in self.types else None

    def has_type(self, name: str) -> bool:
        return self.canonical_type(name) is not None

    def type_members(self, name: str) -> tuple[str, ...]:
        if name in self.attributes:
            return tuple(sorted(self.attributes[name]))
        canon = self.canonical_type(name)
        return (canon,) if canon else ()

    def type_attributes(self, type_name: str) -> frozenset[str]:
        t = self.canonical_type(type_name) or type_name
        return frozenset(a for a, members in self.attributes.items() if t in members)

    def attribute_size(self, attr: str) -> int:
        return len(self.attributes.get(attr, ()))

    def is_unconfined(self, type_name: str) -> bool:
        return type_name in self.unconfined

    def class_permissions(self, tclass: str) -> frozenset[str] | None:
        return frozenset(self.classes[tclass]) if tclass in self.classes else None

    # --------------------------------------------------------------- booleans

    def _state(self) -> dict[str, bool]:
        return {name: value for name, (value, _desc) in self.booleans.items()}

    @staticmethod
    def _cond_names(condition: str) -> tuple[str, ...]:
        return tuple(sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", condition))))

    @staticmethod
    def _eval(condition: str, state: Mapping[str, bool]) -> bool:
        text = condition.strip()
        for op, fn in (("||", any), ("&&", all)):
            if op in text:
                return fn(FakeFacts._eval(part, state) for part in text.split(op))
        if text.startswith("!"):
            return not FakeFacts._eval(text[1:], state)
        return state.get(text, False)

    def _in_force(self, rule: Rule, state: Mapping[str, bool] | None = None) -> bool:
        if not rule.condition:
            return True
        return self._eval(rule.condition, self._state() if state is None else state) == rule.block

    def boolean_description(self, name: str) -> str | None:
        return self.booleans[name][1] if name in self.booleans else None

    def boolean_state(self, name: str) -> bool | None:
        return self.booleans[name][0] if name in self.booleans else None

    # ------------------------------------------------------------------ rules

    def _covers(self, name: str, type_name: str) -> bool:
        """``name`` (a type, alias or attribute) stands for ``type_name``."""
        return type_name in self.type_members(name)

    def _applies(self, rule: Rule, domain: str, target: str, tclass: str) -> bool:
        if rule.tclass != tclass or not self._covers(rule.source, domain):
            return False
        return target == domain if rule.target == "self" else self._covers(rule.target, target)

    def _granted(self, domain: str, target: str, tclass: str, kind: str = "allow",
                 state: Mapping[str, bool] | None = None) -> set[str]:
        out: set[str] = set()
        for r in self.rules:
            if r.kind == kind and self._applies(r, domain, target, tclass) and self._in_force(r, state):
                out.update(r.perms)
        return out

    def granted_perms(self, domain: str, target: str, tclass: str) -> frozenset[str]:
        return frozenset(self._granted(domain, target, tclass))

    def allows(self, domain: str, target: str, tclass: str, perms: Sequence[str]) -> bool:
        return set(perms) <= self._granted(domain, target, tclass)

    def enabling_booleans(self, domain: str, target: str, tclass: str,
                          perms: Sequence[str]) -> tuple[BoolSetting, ...]:
        out = []
        for name, (value, _d) in sorted(self.booleans.items()):
            trial = dict(self._state(), **{name: not value})
            if set(perms) <= self._granted(domain, target, tclass, state=trial):
                out.append((name, not value))
        return tuple(out)

    def _policy_rule(self, r: Rule) -> PolicyRule:
        def size(name: str) -> int:
            return len(self.type_members(name)) if name in self.attributes else 1

        return PolicyRule(r.source, r.target, r.tclass, tuple(sorted(r.perms)),
                          source_size=size(r.source), target_size=size(r.target),
                          source_is_attr=r.source in self.attributes, target_is_attr=r.target in self.attributes,
                          condition=r.condition, block=r.block, booleans=self._cond_names(r.condition),
                          active=self._in_force(r))

    def _sorted(self, rules: Iterable[PolicyRule]) -> tuple[PolicyRule, ...]:
        return tuple(sorted(set(rules), key=lambda p: (p.source, p.target, p.tclass, p.condition, not p.block,
                                                       p.perms)))

    def allow_rules(self, domain: str, tclass: str, perm: str) -> tuple[PolicyRule, ...]:
        return self._sorted(self._policy_rule(r) for r in self.rules
                            if r.kind == "allow" and r.tclass == tclass and perm in r.perms
                            and self._covers(r.source, domain))

    def boolean_rules(self, settings: Sequence[BoolSetting], domain: str) -> tuple[PolicyRule, ...]:
        trial = dict(self._state(), **dict(settings))
        return self._sorted(self._policy_rule(r) for r in self.rules
                            if r.kind == "allow" and r.condition and self._covers(r.source, domain)
                            and not self._in_force(r) and self._in_force(r, trial))

    def granted_domains(self, type_name: str, tclass: str, perm: str) -> tuple[str, ...]:
        out: set[str] = set()
        for r in self.rules:
            if r.kind == "allow" and r.tclass == tclass and perm in r.perms and r.target == type_name:
                out.update(self.type_members(r.source))
        return tuple(sorted(out))

    def xperm_denied(self, domain: str, target: str, tclass: str, cmds: Sequence[int]) -> tuple[int, ...]:
        allowed = self.xperms.get((domain, target, tclass))
        if allowed is None:
            return ()
        return tuple(sorted({c for c in cmds if c not in allowed}))

    # ------------------------------------------------------------ file labels

    def _fc_match(self, path: str, file_class: str | None) -> str | None:
        flags = {"file": "--", "dir": "-d", "lnk_file": "-l", "chr_file": "-c", "blk_file": "-b",
                 "sock_file": "-s", "fifo_file": "-p"}
        found = None
        for regex, flag, type_name in self.file_contexts:  # the last match wins, as in file_contexts
            if flag and file_class is not None and flags.get(file_class) != flag:
                continue
            if re.fullmatch(regex, path):
                found = type_name
        return found

    def expected_type(self, path: str) -> str | None:
        return self._fc_match(path, None)

    def expected_file_type(self, path: str, file_class: str | None = None) -> str | None:
        return self._fc_match(path, file_class)

    def fixed_label(self, type_name: str) -> bool:
        return type_name in self.genfs_types

    def fc_entries(self, type_name: str) -> tuple[tuple[str, str], ...]:
        return tuple((regex, flag) for regex, flag, t in self.file_contexts if t == type_name)

    def fc_dirs(self) -> tuple[tuple[str, str, str], ...]:
        return tuple((fc_literal_dir(regex), regex, t) for regex, _flag, t in self.file_contexts)

    def _file_types(self) -> list[str]:
        return sorted({t for _r, _f, t in self.file_contexts} - self.generic)

    def file_types(self, domain: str, tclass: str, perms: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t for t in self._file_types() if self.allows(domain, t, tclass, perms))

    def label_candidates(self, domain: str, tclass: str,
                         perms: Sequence[str]) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple((t, self.granted_perms(domain, t, tclass)) for t in self._file_types()
                     if self.allows(domain, t, tclass, perms))

    def types_with_access(self, domain: str, tclass: str,
                          perms: tuple[str, ...]) -> dict[str, tuple[BoolSetting, ...]]:
        out: dict[str, tuple[BoolSetting, ...]] = {}
        for t in self._file_types():
            if self.allows(domain, t, tclass, perms):
                out[t] = ()
            else:
                enabling = self.enabling_booleans(domain, t, tclass, perms)
                if enabling:
                    out[t] = enabling[:1]
        return out

    # ------------------------------------------------------------------ ports

    def port_types(self, domain: str, tclass: str, perm: str) -> tuple[str, ...]:
        return tuple(sorted({t for *_r, t in self.portcons if t not in self.generic
                             and self.allows(domain, t, tclass, (perm,))}))

    def port_ranges(self, type_name: str) -> tuple[tuple[str, int, int], ...]:
        return tuple(sorted((p, lo, hi) for p, lo, hi, t in self.portcons if t == type_name))

    def port_type(self, proto: str, port: int) -> str | None:
        found = [(hi - lo, t) for p, lo, hi, t in self.portcons if p == proto and lo <= port <= hi]
        return min(found)[1] if found else "port_t"

    def node_type(self, family: str | None, address: str | None) -> str | None:
        if not self.nodecons:
            return "node_t"
        return next((t for a, t in self.nodecons if a == address), None)

    def type_transition(self, domain: str, target: str, tclass: str, name: str | None = None) -> str | None:
        if name is not None and (domain, target, tclass, name) in self.transitions:
            return self.transitions[domain, target, tclass, name]
        return self.transitions.get((domain, target, tclass, None))

    # --------------------------------------------------------------- analysis

    def analyze(self, keys: Sequence[AccessKey]) -> dict[AccessKey, Analysis]:
        for key in keys:
            if key not in self._cache:
                self.lookups += 1
                self._cache[key] = self._analyze_one(key)
        return {k: self._cache[k] for k in keys}

    def _analyze_one(self, key: AccessKey) -> Analysis:
        scon, tcon = Context.parse(key.scontext), Context.parse(key.tcontext)
        unknown = unknown_type_analysis(key, scon, tcon, self.has_type)
        if unknown is not None or scon is None or tcon is None:
            assert unknown is not None
            return unknown
        s, t = self.canonical_type(scon.type), self.canonical_type(tcon.type)
        assert s is not None and t is not None
        permissive = s in self.permissive
        if key.tclass not in self.classes:
            v = Verdict(Reason.UNKNOWN_CLASS, detail=f"class {key.tclass} not defined in this policy")
            return Analysis(key, tuple((p, v) for p in key.perms), permissive)
        verdicts = []
        for perm in key.perms:
            if perm not in self.classes[key.tclass]:
                v = Verdict(Reason.UNKNOWN_PERM, detail=f"permission {perm} not defined for class {key.tclass}")
            else:
                v = self._verdict(scon, tcon, s, t, key.tclass, perm)
            verdicts.append((perm, v))
        return Analysis(key, tuple(verdicts), permissive)

    def _constraint(self, scon: Context, tcon: Context, tclass: str, perm: str) -> Verdict | None:
        for c in self.constraints:
            if c.tclass == tclass and perm in c.perms and getattr(scon, c.part) != getattr(tcon, c.part):
                return Verdict(Reason.CONSTRAINT, detail=c.text or f"constrain {tclass} {perm} ({c.part})",
                               differs=(c.part,))
        return None

    def _verdict(self, scon: Context, tcon: Context, s: str, t: str, tclass: str, perm: str) -> Verdict:
        if perm in self._granted(s, t, tclass):
            return self._constraint(scon, tcon, tclass, perm) or Verdict(
                Reason.ALLOWED_NOW, detail="this policy allows the access now")
        state = self._state()
        names = sorted({n for r in self.rules if r.kind == "allow" and r.condition and perm in r.perms
                        and self._applies(r, s, t, tclass) for n in self._cond_names(r.condition)})
        single = []
        if self._constraint(scon, tcon, tclass, perm) is None:
            for n in names:
                trial = dict(state, **{n: not state.get(n, False)})
                if perm in self._granted(s, t, tclass, state=trial):
                    single.append((n, trial[n]))
        if single:
            return Verdict(Reason.BOOLEAN, booleans=tuple(((n, v),) for n, v in single))
        if perm in self._granted(s, t, tclass, kind="dontaudit"):
            return Verdict(Reason.DONTAUDIT, detail="a dontaudit rule hides this denial")
        pairs = []
        for a, b in itertools.combinations(names, 2):
            trial = dict(state, **{a: not state.get(a, False), b: not state.get(b, False)})
            if perm in self._granted(s, t, tclass, state=trial):
                pairs.append(((a, trial[a]), (b, trial[b])))
        if pairs:
            return Verdict(Reason.BOOLEAN, booleans=tuple(pairs), detail="no single boolean allows this; these pairs do")
        return Verdict(Reason.TE_RULE)
