"""Records -> events, keyed by (node, time, serial) (pure, bounded memory).

Records of one event usually arrive together, but aggregated or multi-CPU
logs interleave them and may deliver them out of order. :func:`correlate`
keeps at most ``window`` events open; when a new event would exceed that,
the oldest open event is closed and emitted. Events come out in the order
their first record arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from avcfix.audit.records import PathRecord, Record

#: How many events stay open at once (events interleaving further apart are split).
DEFAULT_WINDOW = 512

#: Order in which ausearch prints the records of one event.
_RANK = {
    "AVC": 0, "USER_AVC": 0, "SELINUX_ERR": 1, "USER_SELINUX_ERR": 1, "AVC_PATH": 2,
    "SYSCALL": 3, "EXECVE": 4, "SOCKADDR": 5, "CWD": 6, "PATH": 7, "PROCTITLE": 8,
    "EOE": 10,
}


@dataclass(frozen=True, slots=True)
class Event:
    """All records that share one event id, in canonical (ausearch) order."""

    node: str | None
    time: float
    serial: int
    records: tuple[Record, ...]


def record_rank(rtype: str) -> int:
    """Where a record of type ``rtype`` goes in ausearch's order (lower first)."""
    return _RANK.get(rtype, 9)


def record_order(rec: Record) -> tuple[int, int, str]:
    """Sort key giving ausearch's record order, independent of arrival order."""
    item = rec.item if isinstance(rec, PathRecord) and rec.item is not None else 0
    return (_RANK.get(rec.type, 9), item, rec.text)


def make_event(records: Iterable[Record]) -> Event:
    """An :class:`Event` from records of one id (sorted into canonical order)."""
    recs = tuple(sorted(records, key=record_order))
    first = recs[0]
    return Event(first.node, first.time, first.serial, recs)


def correlate(records: Iterable[Record], window: int = DEFAULT_WINDOW) -> Iterator[Event]:
    """Group records into events; at most ``window`` events are held open."""
    open_events: dict[tuple[str, float, int], list[Record]] = {}
    for rec in records:
        key = rec.key
        bucket = open_events.get(key)
        if bucket is None:
            if len(open_events) >= window:
                oldest = next(iter(open_events))
                yield make_event(open_events.pop(oldest))
            open_events[key] = [rec]
        else:
            bucket.append(rec)
    for bucket in open_events.values():
        yield make_event(bucket)
