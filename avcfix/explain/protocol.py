"""What the explanation engine asks a policy, as a Protocol and plain values.

The engine (:mod:`avcfix.explain.engine`) is pure logic over :class:`Facts`.
Two implementations answer from a binary policy:
:class:`avcfix.index.facts.IndexFacts` (the default: look-ups in the cached
policy index) and :class:`avcfix.index.setools_facts.PolicyFacts` (setools and
libselinux asked directly: the ground truth the index is tested against).
Keeping the questions here lets the engine stay free of setools and lets tests
run it over either.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from avcfix.audit.model import Context
from avcfix.explain.model import Reason

#: One boolean setting: (name, value to set).
BoolSetting = tuple[str, bool]


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One distinct access to analyse: full contexts, class and permissions.

    Results are cached per key, so a log with a million denials costs no more
    policy lookups than it has distinct keys.
    """

    scontext: str
    tcontext: str
    tclass: str
    perms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer for one permission of an :class:`AccessKey`.

    ``booleans`` holds alternatives: each entry is a set of settings that,
    all applied, allow the access (one boolean, or a pair when no single one
    suffices). ``detail`` is human text (constraint text, unknown name...).
    """

    reason: Reason
    booleans: tuple[tuple[BoolSetting, ...], ...] = ()
    detail: str = ""
    #: For CONSTRAINT: which parts of the contexts differ ("user", "role", "level").
    differs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One allow rule as the policy states it (attributes not expanded).

    Used by the boolean and port_label advisors as evidence: ``text()`` is the
    rule as ``sesearch -A`` prints it.
    """

    source: str
    target: str
    tclass: str
    perms: tuple[str, ...]
    #: How many types the source / target stand for (1 for a type).
    source_size: int = 1
    target_size: int = 1
    source_is_attr: bool = False
    target_is_attr: bool = False
    #: The conditional expression (``httpd_can_network_connect_db``,
    #: ``a && b``); "" for an unconditional rule.
    condition: str = ""
    #: The value of ``condition`` under which the rule is in force.
    block: bool = True
    #: The booleans ``condition`` reads.
    booleans: tuple[str, ...] = ()
    #: In force with the policy file's boolean values.
    active: bool = True

    def text(self) -> str:
        perms = self.perms[0] if len(self.perms) == 1 else "{ " + " ".join(self.perms) + " }"
        rule = f"allow {self.source} {self.target}:{self.tclass} {perms};"
        return rule + (f" [ {self.condition} ]:{self.block}" if self.condition else "")


@dataclass(frozen=True, slots=True)
class Analysis:
    """Per-permission verdicts for one :class:`AccessKey` (in ``key.perms`` order)."""

    key: AccessKey
    verdicts: tuple[tuple[str, Verdict], ...]
    #: The source domain is declared permissive in the policy.
    permissive_domain: bool = False


def unknown_type_analysis(key: AccessKey, scon: Context | None, tcon: Context | None,
                          has_type: Callable[[str], bool]) -> Analysis | None:
    """Every permission ``unknown_type`` when a context does not parse or names a
    type the policy lacks (``has_type``); ``None`` otherwise. Both Facts
    backends start their analysis with it."""
    if scon is None or tcon is None:
        bad = key.scontext if scon is None else key.tcontext
        v = Verdict(Reason.UNKNOWN_TYPE, detail=f"{bad!r} is not a security context")
        return Analysis(key, tuple((p, v) for p in key.perms))
    missing = [f"source type {scon.type}"] if not has_type(scon.type) else []
    missing += [f"target type {tcon.type}"] if not has_type(tcon.type) else []
    if missing:
        v = Verdict(Reason.UNKNOWN_TYPE, detail=" and ".join(missing) + " not defined in this policy")
        return Analysis(key, tuple((p, v) for p in key.perms))
    return None


class Facts(Protocol):
    """The questions the engine asks a policy. Every answer is deterministic."""

    #: Number of distinct access analyses done (cache misses of :meth:`analyze`).
    lookups: int

    @property
    def mls(self) -> bool:
        """True when the policy file has MLS/MCS enabled."""
        ...

    def analyze(self, keys: Sequence[AccessKey]) -> dict[AccessKey, Analysis]:
        """Analyse every key (cached per key); one batch opens the policy once."""
        ...

    def boolean_description(self, name: str) -> str | None:
        """The boolean's one-paragraph description, when known."""
        ...

    def port_types(self, domain: str, tclass: str, perm: str) -> tuple[str, ...]:
        """Specific (non-generic) port types ``domain`` may ``perm`` on ``tclass``, best first."""
        ...

    def file_types(self, domain: str, tclass: str, perms: tuple[str, ...]) -> tuple[str, ...]:
        """Specific (non-generic) file types ``domain`` may access with all ``perms``, best first."""
        ...

    def expected_type(self, path: str) -> str | None:
        """The type file_contexts gives ``path``; ``None`` when unknown or unavailable."""
        ...

    def fixed_label(self, type_name: str) -> bool:
        """True when files carry ``type_name`` because of their filesystem (genfscon:
        nfs_t, cifs_t, proc_t...), so relabelling one file is impossible."""
        ...

    def canonical_type(self, name: str) -> str | None:
        """The type ``name`` stands for (aliases resolved), ``None`` when unknown."""
        ...

    def xperm_denied(self, domain: str, target: str, tclass: str, cmds: Sequence[int]) -> tuple[int, ...]:
        """The ioctl commands of ``cmds`` that allowxperm rules leave out for
        (domain, target, class); empty when no allowxperm rule restricts that triple."""
        ...

    def is_unconfined(self, type_name: str) -> bool:
        """True when ``type_name`` is an unconfined domain in this policy."""
        ...

    # -------------------------------------------- file-label advisors (h13-files)

    def expected_file_type(self, path: str, file_class: str | None = None) -> str | None:
        """The type file_contexts gives ``path`` as an object of ``file_class`` (``dir``,
        ``file``...; entries limited to another file type do not count); ``None`` when unknown."""
        ...

    def granted_perms(self, domain: str, target: str, tclass: str) -> frozenset[str]:
        """What ``domain`` may do to ``target``:``tclass`` now (booleans as in the policy)."""
        ...

    def allows(self, domain: str, target: str, tclass: str, perms: Sequence[str]) -> bool:
        """True when ``domain`` may ``perms`` on ``target``:``tclass`` now."""
        ...

    def enabling_booleans(self, domain: str, target: str, tclass: str,
                          perms: Sequence[str]) -> tuple[BoolSetting, ...]:
        """Single boolean changes after each of which the access is allowed."""
        ...

    def label_candidates(self, domain: str, tclass: str,
                         perms: Sequence[str]) -> tuple[tuple[str, frozenset[str]], ...]:
        """Specific file types ``domain`` may access on ``tclass`` with all ``perms``,
        each with every permission it has on them, sorted by name."""
        ...

    def fc_entries(self, type_name: str) -> tuple[tuple[str, str], ...]:
        """file_contexts entries giving ``type_name``: (regex, file type flag)."""
        ...

    # ------------------------------------------------- advisor: write_content

    def types_with_access(self, domain: str, tclass: str,
                          perms: tuple[str, ...]) -> dict[str, tuple[BoolSetting, ...]]:
        """File types ``domain`` may access on ``tclass`` with all ``perms``: type -> the one
        boolean setting needed (empty: allowed now)."""
        ...

    def type_attributes(self, type_name: str) -> frozenset[str]:
        """The attributes of ``type_name``."""
        ...

    def attribute_size(self, attr: str) -> int:
        """How many types carry ``attr`` (0 when it is not an attribute)."""
        ...

    def fc_dirs(self) -> tuple[tuple[str, str, str], ...]:
        """Every file_contexts entry as (literal directory prefix, regex, type)."""
    # --- boolean and port_label advisors (h13-bool) ---------------------------

    def allow_rules(self, domain: str, tclass: str, perm: str) -> tuple[PolicyRule, ...]:
        """Every allow rule (conditional ones too) that applies to ``domain``
        (its source is the domain or one of its attributes) and grants ``perm``
        on ``tclass``; sorted, deterministic."""
        ...

    def boolean_rules(self, settings: Sequence[BoolSetting], domain: str) -> tuple[PolicyRule, ...]:
        """The conditional allow rules applying to ``domain`` that ``settings``
        turn on: out of force with the policy file's values, in force with
        ``settings`` applied."""
        ...

    def type_members(self, name: str) -> tuple[str, ...]:
        """The types an attribute stands for (sorted); ``(canonical name,)`` for
        a type or alias; ``()`` for an unknown name."""
        ...

    def granted_domains(self, type_name: str, tclass: str, perm: str) -> tuple[str, ...]:
        """The domains (attributes expanded) whose allow rules name ``type_name``
        itself (not through an attribute) as target of ``perm`` on ``tclass``,
        conditional rules included: who uses the type."""
        ...

    def port_ranges(self, type_name: str) -> tuple[tuple[str, int, int], ...]:
        """The portcon entries labelling ports ``type_name``: (protocol, low, high)."""
    # -- special-case advisors (xperm, leaked_fd, transition_noise, exec_memory, module_load)

    def has_type(self, name: str) -> bool:
        """True when ``name`` is a type (or alias) of this policy."""
        ...

    def boolean_state(self, name: str) -> bool | None:
        """The boolean's value in the policy, or ``None`` when the policy has no such boolean."""
        ...

    # -- permission completion (avcfix.policy.complete)

    def class_permissions(self, tclass: str) -> frozenset[str] | None:
        """Every permission of class ``tclass`` (its common's included); ``None`` for an unknown class."""
        ...

    def type_transition(self, domain: str, target: str, tclass: str, name: str | None = None) -> str | None:
        """The type a ``tclass`` object ``domain`` creates in a ``target`` directory gets from the
        policy's type_transition rules (a name-based rule for ``name`` first); ``None`` when none applies."""
        ...

    def node_type(self, family: str | None, address: str | None) -> str | None:
        """The type of network node ``address`` (nodecon, else the ``node`` initial SID); ``None``
        when the policy has nodecons and the address is unknown."""
        ...

    def port_type(self, proto: str, port: int) -> str | None:
        """The type of ``proto`` port ``port`` (the narrowest portcon, else the ``port`` initial SID)."""
        ...


def unknown_class_analysis(key: AccessKey, permissive: bool) -> Analysis:
    """Every permission ``unknown_class``: the policy does not define ``key``'s class."""
    v = Verdict(Reason.UNKNOWN_CLASS, detail=f"class {key.tclass} not defined in this policy")
    return Analysis(key, tuple((p, v) for p in key.perms), permissive)


def class_analysis(key: AccessKey, permissive: bool, known_perms: Collection[str],
                   context_problem: Verdict | None, verdict: Callable[[str], Verdict]) -> Analysis:
    """The analysis of ``key`` once both types and the class exist, as both Facts
    backends give it: per permission ``unknown_perm`` when the class lacks it
    (not in ``known_perms``), the ``context_problem`` when a context cannot be
    asked about, else the backend's own ``verdict(perm)``."""
    verdicts: list[tuple[str, Verdict]] = []
    for perm in key.perms:
        if perm not in known_perms:
            verdicts.append((perm, Verdict(
                Reason.UNKNOWN_PERM,
                detail=f"permission {perm} not defined for class {key.tclass} in this policy")))
        elif context_problem is not None:
            verdicts.append((perm, context_problem))
        else:
            verdicts.append((perm, verdict(perm)))
    return Analysis(key, tuple(verdicts), permissive)


def rule_order(r: PolicyRule) -> tuple[str, str, str, str, bool, tuple[str, ...]]:
    """The order both backends give rules in (``Facts.allow_rules``, ``Facts.boolean_rules``)."""
    return (r.source, r.target, r.tclass, r.condition, r.block, r.perms)
