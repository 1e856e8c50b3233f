"""The size cap (``--max-events``): first and last events of each group (pure).

:class:`EventCap` consumes the denial stream once, with bounded memory: per
group it remembers the ids of its first and of its last ``limit / 2 + 1``
events, and only the events still referenced by some group are
kept. :meth:`EventCap.select` keeps the first and the last event of every
group (even past the limit), then, one event per group per turn, the
second, the second-to-last, the third... until ``limit`` distinct events are
chosen, and says what was cut.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from avcfix.audit.model import Denial

#: Default of ``--max-events``.
DEFAULT_MAX_EVENTS = 500

#: An event: (source file, node, time, serial).
EventKey = tuple[str, str, float, int]
GroupKey = tuple[str, str, str, bool]


def event_key(d: Denial) -> EventKey:
    """The id of ``d``'s event."""
    return (d.source, d.node or "", d.time, d.serial)


def group_key(d: Denial) -> GroupKey:
    """The group ``d`` belongs to (as :mod:`avcfix.audit.group` forms them)."""
    return (d.scontext.type, d.tcontext.type, d.tclass, d.permissive)


@dataclass(frozen=True, slots=True)
class Event:
    """One kept event: its denials (input order) and its position in the input."""

    key: EventKey
    order: int
    denials: tuple[Denial, ...]

    @property
    def time(self) -> float:
        return self.key[2]


@dataclass(frozen=True, slots=True)
class GroupCut:
    """What the cap did to one group."""

    group: GroupKey
    events: int
    kept: int

    @property
    def cut(self) -> int:
        return self.events - self.kept


@dataclass(frozen=True, slots=True)
class Selection:
    """The kept events (time order) and, per group, what was cut."""

    events: tuple[Event, ...]
    total_events: int
    groups: tuple[GroupCut, ...]

    @property
    def cut(self) -> bool:
        return len(self.events) < self.total_events

    @property
    def denials(self) -> tuple[Denial, ...]:
        """The kept denials, in input order (``denials.json``)."""
        ordered = sorted(self.events, key=lambda e: e.order)
        return tuple(d for e in ordered for d in e.denials)


@dataclass(slots=True)
class _Group:
    count: int = 0
    first: list[EventKey] = field(default_factory=list)
    last: deque[EventKey] = field(default_factory=deque)


class EventCap:
    """Streams denials in; :meth:`select` returns what fits under ``limit``."""

    __slots__ = ("limit", "_events", "_refs", "_groups", "_n", "_current")

    def __init__(self, limit: int = DEFAULT_MAX_EVENTS) -> None:
        if limit < 1:
            raise ValueError("the event limit must be at least 1")
        self.limit = limit
        self._events: dict[EventKey, tuple[int, list[Denial]]] = {}
        self._refs: dict[EventKey, int] = {}
        self._groups: dict[GroupKey, _Group] = {}
        self._n = 0
        self._current: dict[EventKey, set[GroupKey]] = {}

    def add(self, d: Denial) -> None:
        """Account for one denial (denials of one event arrive together)."""
        ek = event_key(d)
        gk = group_key(d)
        if ek not in self._events:
            self._events[ek] = (self._n, [])
            self._refs[ek] = 0
            self._current = {ek: set()}
            self._n += 1
        entry = self._events.get(ek)
        if entry is not None:
            entry[1].append(d)
        seen = self._current.setdefault(ek, set())
        if gk in seen:
            return
        seen.add(gk)
        g = self._groups.setdefault(gk, _Group())
        g.count += 1
        self._refs[ek] += 1
        window = self.limit // 2 + 1  # no group can keep more than limit/2 from either end
        if len(g.first) < window:
            g.first.append(ek)
            return
        g.last.append(ek)
        if len(g.last) > window:
            self._release(g.last.popleft())

    def _release(self, ek: EventKey) -> None:
        self._refs[ek] -= 1
        if self._refs[ek] <= 0:
            del self._refs[ek]
            del self._events[ek]

    def select(self) -> Selection:
        """Choose the events to keep (see the module docstring)."""
        seqs: dict[GroupKey, list[EventKey]] = {}
        for gk in sorted(self._groups):
            g = self._groups[gk]
            firsts = list(g.first)
            in_first = set(firsts)
            lasts = [k for k in g.last if k not in in_first]
            seqs[gk] = firsts + lasts
        # Each group's events in the order they are wanted: first, last, second, second-to-last...
        wanted: dict[GroupKey, list[EventKey]] = {}
        for gk, seq in seqs.items():
            order: list[EventKey] = []
            lo, hi = 0, len(seq) - 1
            while lo <= hi:
                order.append(seq[lo])
                if hi != lo:
                    order.append(seq[hi])
                lo, hi = lo + 1, hi - 1
            wanted[gk] = order
        kept: dict[EventKey, None] = {}
        per_group: dict[GroupKey, set[EventKey]] = {gk: set() for gk in seqs}
        # Floor: the first and last event of every group, even past the limit.
        for gk, order in wanted.items():
            for ek in order[:2]:
                kept.setdefault(ek, None)
                per_group[gk].add(ek)
        # Then one more event per group per turn, until the limit.
        pos = {gk: 2 for gk in wanted}
        while len(kept) < self.limit:
            progressed = False
            for gk, order in wanted.items():
                while pos[gk] < len(order) and order[pos[gk]] in kept:
                    pos[gk] += 1
                if pos[gk] < len(order) and len(kept) < self.limit:
                    kept.setdefault(order[pos[gk]], None)
                    per_group[gk].add(order[pos[gk]])
                    pos[gk] += 1
                    progressed = True
            if not progressed:
                break
        # An event kept for one group also counts for the other groups it is in.
        for gk, seq in seqs.items():
            per_group[gk].update(k for k in seq if k in kept)
        events = sorted(
            (Event(ek, self._events[ek][0], tuple(self._events[ek][1])) for ek in kept),
            key=lambda e: (e.time, e.key[3], e.key[1], e.key[0]),
        )
        cuts = tuple(GroupCut(gk, self._groups[gk].count, len(per_group[gk])) for gk in seqs)
        return Selection(tuple(events), self._n, cuts)
