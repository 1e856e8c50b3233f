"""Check, after an install, that the rebuilt policy grants every allow rule of a module.

The rebuilt binary policy of the root is read with setools
(:class:`~avcfix.index.setools_target.TargetPolicy`), or from its policy index
(:class:`~avcfix.index.target.IndexTarget`, the same answers) when the
caller passes one; a rule counts as present when
the policy's allow rules (on the types themselves or on attributes holding
them) grant all its permissions. What is not granted is reported rule by rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from avcfix.index.setools_target import RuleKey, TargetPolicy

if TYPE_CHECKING:
    from avcfix.index.target import IndexTarget


def _policy(policy: str | Path | TargetPolicy | IndexTarget) -> TargetPolicy | IndexTarget:
    """A policy file is opened with setools; an open target (setools' or an index's) is used as is."""
    return TargetPolicy(Path(policy)) if isinstance(policy, (str, Path)) else policy


@dataclass(frozen=True, slots=True)
class AllowRule:
    """One allow rule to look for: ``allow SOURCE TARGET:CLASS { PERMS };``."""

    source: str
    target: str
    tclass: str
    perms: tuple[str, ...]

    def __str__(self) -> str:
        perms = self.perms[0] if len(self.perms) == 1 else "{ " + " ".join(self.perms) + " }"
        return f"allow {self.source} {self.target}:{self.tclass} {perms};"


def missing_rules(policy: Path | TargetPolicy | IndexTarget, rules: Iterable[AllowRule]) -> tuple[AllowRule, ...]:
    """The parts of ``rules`` that ``policy`` does not grant, sorted.

    Each returned rule holds only the permissions that are missing. Rules on
    the same (source, target, class) are checked together.
    """
    pol = _policy(policy)
    wanted: dict[RuleKey, set[str]] = {}
    for rule in rules:
        wanted.setdefault(RuleKey(rule.source, rule.target, rule.tclass), set()).update(rule.perms)
    granted = pol.granted(wanted)
    out = []
    for key in sorted(wanted, key=lambda k: (k.source, k.target, k.tclass)):
        lacking = wanted[key] - granted.get(key, frozenset())
        if lacking:
            out.append(AllowRule(key.source, key.target, key.tclass, tuple(sorted(lacking))))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class IoctlRule:
    """One ``allowxperm SOURCE TARGET:CLASS ioctl { CMDS };`` to look for."""

    source: str
    target: str
    tclass: str
    cmds: tuple[int, ...]

    def __str__(self) -> str:
        return (f"allowxperm {self.source} {self.target}:{self.tclass} ioctl "
                "{ " + " ".join(f"0x{c:x}" for c in self.cmds) + " };")


def missing_ioctls(policy: Path | TargetPolicy | IndexTarget, rules: Iterable[IoctlRule]) -> tuple[IoctlRule, ...]:
    """The ioctl commands of ``rules`` that ``policy``'s allowxperm rules do not grant, sorted."""
    pol = _policy(policy)
    wanted: dict[RuleKey, set[int]] = {}
    for rule in rules:
        wanted.setdefault(RuleKey(rule.source, rule.target, rule.tclass), set()).update(rule.cmds)
    granted = pol.granted_ioctls(wanted)
    out = []
    for key in sorted(wanted, key=lambda k: (k.source, k.target, k.tclass)):
        lacking = wanted[key] - granted.get(key, frozenset())
        if lacking:
            out.append(IoctlRule(key.source, key.target, key.tclass, tuple(sorted(lacking))))
    return tuple(out)
