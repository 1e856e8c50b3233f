"""Denials -> :class:`~avcfix.audit.model.DenialGroup` (pure, deterministic).

One group per (source type, target type, class, permissive): the union of
permissions, a count, first and last seen, and the distinct evidence
(contexts, comms, exes, paths, ports, ioctl commands; capped). The
accumulator keeps only the aggregates, so it can consume a stream of any size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from avcfix.audit.model import Denial, DenialGroup

#: How many distinct comms/exes/paths/ports a group remembers.
EVIDENCE_CAP = 20


@dataclass(slots=True)
class _Acc:
    example: Denial
    perms: set[str] = field(default_factory=set)
    count: int = 0
    first: float = float("inf")
    last: float = float("-inf")
    contexts: set[tuple[str, str]] = field(default_factory=set)
    comms: set[str] = field(default_factory=set)
    exes: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    ioctlcmds: set[int] = field(default_factory=set)
    #: The contexts of the last denial added (the memo hands out the same
    #: Context objects again and again: no need to format them each time).
    last_contexts: tuple = ()


def _add(bucket: set, value: object) -> None:
    if value is not None and value != "" and len(bucket) < EVIDENCE_CAP:
        bucket.add(value)


class GroupAccumulator:
    """Feeds denials one at a time; :meth:`groups` returns the sorted result."""

    __slots__ = ("_accs",)

    def __init__(self) -> None:
        self._accs: dict[tuple[str, str, str, bool], _Acc] = {}

    def add(self, d: Denial) -> None:
        """Account for one denial."""
        sc = d.scontext
        tc = d.tcontext
        key = (sc.type, tc.type, d.tclass, d.permissive)
        acc = self._accs.get(key)
        if acc is None:
            acc = self._accs[key] = _Acc(example=d)
        acc.perms.update(d.perms)
        acc.count += 1
        t = d.time
        if t < acc.first:
            acc.first = t
        if t > acc.last:
            acc.last = t
        last = acc.last_contexts
        if not last or last[0] is not sc or last[1] is not tc:  # else: the same pair again
            acc.last_contexts = (sc, tc)
            _add(acc.contexts, (str(sc), str(tc)))
        # _add, inlined (this runs once per denial of a big log): no None, no "", capped.
        cap = EVIDENCE_CAP
        v = d.comm
        if v and len(acc.comms) < cap:
            acc.comms.add(v)
        v = d.exe
        if v and len(acc.exes) < cap:
            acc.exes.add(v)
        paths = acc.paths
        for v in d.paths or ((d.path or d.name),):
            if v and len(paths) < cap:
                paths.add(v)
        v = d.port
        if v is not None and len(acc.ports) < cap:
            acc.ports.add(v)
        v = d.ioctlcmd
        if v is not None and len(acc.ioctlcmds) < cap:
            acc.ioctlcmds.add(v)

    def merge(self, later: "GroupAccumulator") -> None:
        """Fold in the groups of denials that came after this accumulator's."""
        for key, other in later._accs.items():
            acc = self._accs.get(key)
            if acc is None:
                self._accs[key] = other
                continue
            acc.perms |= other.perms
            acc.count += other.count
            acc.first = min(acc.first, other.first)
            acc.last = max(acc.last, other.last)
            for mine, theirs in ((acc.contexts, other.contexts), (acc.comms, other.comms),
                                 (acc.exes, other.exes), (acc.paths, other.paths),
                                 (acc.ports, other.ports), (acc.ioctlcmds, other.ioctlcmds)):
                for value in sorted(theirs):
                    _add(mine, value)

    def groups(self) -> list[DenialGroup]:
        """The groups, sorted by (source, target, class, permissive)."""
        out = []
        for key in sorted(self._accs):
            acc = self._accs[key]
            out.append(DenialGroup(
                source=key[0],
                target=key[1],
                tclass=key[2],
                permissive=key[3],
                perms=tuple(sorted(acc.perms)),
                count=acc.count,
                first_seen=acc.first,
                last_seen=acc.last,
                example=acc.example,
                contexts=tuple(sorted(acc.contexts)),
                comms=tuple(sorted(acc.comms)),
                exes=tuple(sorted(acc.exes)),
                paths=tuple(sorted(acc.paths)),
                ports=tuple(sorted(acc.ports)),
                ioctlcmds=tuple(sorted(acc.ioctlcmds)),
            ))
        return out


def group_denials(denials: Iterable[Denial]) -> list[DenialGroup]:
    """Group denials per source domain, then (target type, class, permissive)."""
    acc = GroupAccumulator()
    for d in denials:
        acc.add(d)
    return acc.groups()
