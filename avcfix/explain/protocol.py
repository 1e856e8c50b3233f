"""What the explanation engine asks a policy, as a Protocol and plain values.

The engine (:mod:`avcfix.explain.engine`) is pure logic over :class:`Facts`;
the one implementation backed by a binary policy is
:class:`avcfix.explain.facts.PolicyFacts` (setools + libselinux). Keeping the
questions here lets the engine stay free of setools and lets tests run it over
the real facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

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
class Analysis:
    """Per-permission verdicts for one :class:`AccessKey` (in ``key.perms`` order)."""

    key: AccessKey
    verdicts: tuple[tuple[str, Verdict], ...]
    #: The source domain is declared permissive in the policy.
    permissive_domain: bool = False


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

    def xperm_denied(self, domain: str, target: str, tclass: str, cmds: Sequence[int]) -> tuple[int, ...]:
        """The ioctl commands of ``cmds`` that allowxperm rules leave out for
        (domain, target, class); empty when no allowxperm rule restricts that triple."""
        ...

    def is_unconfined(self, type_name: str) -> bool:
        """True when ``type_name`` is an unconfined domain in this policy."""
        ...

    # -- special-case advisors (xperm, leaked_fd, transition_noise, exec_memory, module_load)

    def has_type(self, name: str) -> bool:
        """True when ``name`` is a type (or alias) of this policy."""
        ...

    def boolean_state(self, name: str) -> bool | None:
        """The boolean's value in the policy, or ``None`` when the policy has no such boolean."""
        ...

    def granted(self, domain: str, target: str, tclass: str) -> frozenset[str]:
        """The permissions on ``tclass`` that allow rules in force give ``domain`` on ``target``
        (attributes expanded, conditional rules counted with the booleans' current values)."""
        ...
