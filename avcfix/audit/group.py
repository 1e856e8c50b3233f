"""Denials -> :class:`~avcfix.audit.model.DenialGroup` (pure, deterministic).

One group per (source type, target type, class, permissive): the union of
permissions, a count, first and last seen, and the distinct evidence
(contexts, comms, exes, paths, ports, ioctl commands; capped). The
accumulator keeps only the aggregates, so it can consume a stream of any size.

Memory per group is what bounds ``avcfix why`` on a log with very many
distinct groups (README "Performance"), so a group is kept small: a group
seen once is just its first denial (which is its example anyway), and a
group seen again gets an :class:`_Acc` whose evidence sets stay ``None`` for
as long as they hold nothing but the example's own values.
"""

from __future__ import annotations

import heapq
import pickle
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import BinaryIO, TypeVar

from avcfix.audit.model import Denial, DenialGroup

#: How many distinct comms/exes/paths/ports a group remembers.
EVIDENCE_CAP = 20

_INF = float("inf")
#: Groups per pickle in :meth:`GroupAccumulator.dump`.
DUMP_BATCH = 2048

Key = tuple[str, str, str, bool]

#: An evidence value: a (scontext, tcontext) pair, a comm/exe/path, or a port/ioctl command.
_V = TypeVar("_V")


class _Acc:
    """A group seen more than once. Each evidence field is ``None`` while it
    would hold only what the example gives (:func:`_ex_contexts` ...), else
    every distinct value so far in the order seen (a tuple: smaller than a
    set, and at most EVIDENCE_CAP long)."""

    __slots__ = ("example", "perms", "count", "first", "last", "contexts", "comms", "exes", "paths", "ports",
                 "ioctlcmds", "last_sc", "last_tc")

    def __init__(self, example: Denial) -> None:
        t = example.time
        self.example = example
        #: Sorted and distinct, as a Denial's: the example's tuple until another permission comes.
        self.perms: tuple[str, ...] = example.perms
        self.count = 1
        self.first = t if t < _INF else _INF
        self.last = t if t > -_INF else -_INF
        self.contexts: tuple[tuple[str, str], ...] | None = None
        self.comms: tuple[str, ...] | None = None
        self.exes: tuple[str, ...] | None = None
        self.paths: tuple[str, ...] | None = None
        self.ports: tuple[int, ...] | None = None
        self.ioctlcmds: tuple[int, ...] | None = None
        #: The contexts of the last denial added (the memo hands out the same
        #: Context objects again and again: no need to format them each time).
        self.last_sc = example.scontext
        self.last_tc = example.tcontext


# What an evidence field holds after the first denial (the example) alone:
# exactly what adding it to an empty one gives.

def _ex_contexts(ex: Denial) -> tuple[tuple[str, str], ...]:
    return ((str(ex.scontext), str(ex.tcontext)),)


def _ex_comms(ex: Denial) -> tuple[str, ...]:
    return (ex.comm,) if ex.comm else ()


def _ex_exes(ex: Denial) -> tuple[str, ...]:
    return (ex.exe,) if ex.exe else ()


def _path_values(d: Denial) -> tuple[str | None, ...]:
    return d.paths or ((d.path or d.name),)


def _ex_paths(ex: Denial) -> tuple[str, ...]:
    empty: tuple[str, ...] = ()
    return _added(empty, _path_values(ex))


def _ex_ports(ex: Denial) -> tuple[int, ...]:
    return (ex.port,) if ex.port is not None else ()


def _ex_ioctlcmds(ex: Denial) -> tuple[int, ...]:
    return (ex.ioctlcmd,) if ex.ioctlcmd is not None else ()


#: (field of _Acc, what the example alone gives)
_EVIDENCE: tuple[tuple[str, Callable[[Denial], tuple[object, ...]]], ...] = (
    ("contexts", _ex_contexts), ("comms", _ex_comms), ("exes", _ex_exes), ("paths", _ex_paths),
    ("ports", _ex_ports), ("ioctlcmds", _ex_ioctlcmds),
)


def _full(acc: _Acc, name: str, derive: Callable[[Denial], tuple[_V, ...]]) -> tuple[_V, ...]:
    got: tuple[_V, ...] | None = getattr(acc, name)  # the field ``name`` holds what ``derive`` gives
    return derive(acc.example) if got is None else got


def _added(bucket: tuple[_V, ...], values: Iterable[_V | None]) -> tuple[_V, ...]:
    """``bucket`` with each of ``values`` that is new, not None nor "", while
    there is room (EVIDENCE_CAP)."""
    for v in values:
        if v is not None and v != "" and len(bucket) < EVIDENCE_CAP and v not in bucket:
            bucket += (v,)
    return bucket


def _add_to(acc: _Acc, d: Denial) -> None:
    """Account for one more denial of ``acc``'s group (the hot path of a big log)."""
    ex = acc.example
    p = d.perms
    perms = acc.perms
    if p is not perms and p != perms:
        for x in p:
            if x not in perms:
                acc.perms = tuple(sorted(set(perms).union(p)))
                break
    acc.count += 1
    t = d.time
    if t < acc.first:
        acc.first = t
    if t > acc.last:
        acc.last = t
    cap = EVIDENCE_CAP
    sc = d.scontext
    tc = d.tcontext
    if sc is not acc.last_sc or tc is not acc.last_tc:  # else: the same pair again
        acc.last_sc = sc
        acc.last_tc = tc
        pair = (str(sc), str(tc))
        cs = acc.contexts
        if cs is None:
            first_pair = (str(ex.scontext), str(ex.tcontext))
            if pair != first_pair:
                acc.contexts = (first_pair, pair)
        elif len(cs) < cap and pair not in cs:
            acc.contexts = cs + (pair,)
    v = d.comm
    if v and v is not ex.comm:
        s = acc.comms
        if s is None:
            if v != ex.comm:
                acc.comms = _ex_comms(ex) + (v,)  # the example gives at most one: room left
        elif len(s) < cap and v not in s:
            acc.comms = s + (v,)
    v = d.exe
    if v and v is not ex.exe:
        s = acc.exes
        if s is None:
            if v != ex.exe:
                acc.exes = _ex_exes(ex) + (v,)
        elif len(s) < cap and v not in s:
            acc.exes = s + (v,)
    s = acc.paths
    if s is None:
        vals = d.paths or ((d.path or d.name),)
        if vals != _path_values(ex):
            first = _ex_paths(ex)
            s = _added(first, vals)
            if s is not first:
                acc.paths = s
    elif len(s) < cap:
        acc.paths = _added(s, d.paths or ((d.path or d.name),))
    n = d.port
    if n is not None:
        ns = acc.ports
        if ns is None:
            if n != ex.port:
                acc.ports = _ex_ports(ex) + (n,)
        elif len(ns) < cap and n not in ns:
            acc.ports = ns + (n,)
    n = d.ioctlcmd
    if n is not None:
        ns = acc.ioctlcmds
        if ns is None:
            if n != ex.ioctlcmd:
                acc.ioctlcmds = _ex_ioctlcmds(ex) + (n,)
        elif len(ns) < cap and n not in ns:
            acc.ioctlcmds = ns + (n,)


def _group(key: Key, acc: _Acc | Denial) -> DenialGroup:
    if not isinstance(acc, _Acc):
        acc = _Acc(acc)
    ex = acc.example
    return DenialGroup(
        source=key[0],
        target=key[1],
        tclass=key[2],
        permissive=key[3],
        perms=tuple(sorted(set(acc.perms))),
        count=acc.count,
        first_seen=acc.first,
        last_seen=acc.last,
        example=ex,
        contexts=tuple(sorted(_full(acc, "contexts", _ex_contexts))),
        comms=tuple(sorted(_full(acc, "comms", _ex_comms))),
        exes=tuple(sorted(_full(acc, "exes", _ex_exes))),
        paths=tuple(sorted(_full(acc, "paths", _ex_paths))),
        ports=tuple(sorted(_full(acc, "ports", _ex_ports))),
        ioctlcmds=tuple(sorted(_full(acc, "ioctlcmds", _ex_ioctlcmds))),
    )


class GroupAccumulator:
    """Feeds denials one at a time; :meth:`groups` returns the sorted result."""

    __slots__ = ("_accs",)

    def __init__(self) -> None:
        #: key -> the group's only denial so far, or its _Acc.
        self._accs: dict[Key, _Acc | Denial] = {}

    def __len__(self) -> int:
        """How many groups."""
        return len(self._accs)

    def add(self, d: Denial) -> None:
        """Account for one denial."""
        key = (d.scontext.type, d.tcontext.type, d.tclass, d.permissive)
        acc = self._accs.get(key)
        if acc is None:
            self._accs[key] = d  # a group seen once is its example
            return
        if not isinstance(acc, _Acc):
            acc = self._accs[key] = _Acc(acc)
        _add_to(acc, d)

    def merge(self, later: GroupAccumulator) -> None:
        """Fold in the groups of denials that came after this accumulator's."""
        self._merge_items(later._accs.items())

    def dump(self, fh: BinaryIO) -> None:
        """Pickle the groups into ``fh`` for :meth:`merge_dump`, a batch at a
        time (pickle's memo of one batch only: it grows with every object)."""
        items = list(self._accs.items())
        for i in range(0, len(items), DUMP_BATCH):
            pickle.dump(items[i:i + DUMP_BATCH], fh, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(None, fh, protocol=pickle.HIGHEST_PROTOCOL)

    def spill(self, fh: BinaryIO) -> None:
        """:meth:`dump` the groups so far and forget them: a worker holding
        many groups writes them out as it goes, so that its memory stays flat
        (:meth:`merge_dump` folds the spills back in order: what one process
        reading the range would have kept)."""
        self.dump(fh)
        self._accs = {}

    def merge_dump(self, fh: BinaryIO) -> None:
        """:meth:`merge` the groups :meth:`dump` (or each :meth:`spill`) wrote
        into ``fh`` (a trusted file of this run's own worker), a batch at a time."""
        while True:
            try:
                batch = pickle.load(fh)
            except EOFError:
                return
            if batch is not None:
                self._merge_items(batch)

    def _merge_items(self, items: Iterable[tuple[Key, _Acc | Denial]]) -> None:
        accs = self._accs
        for key, other in items:
            mine = accs.get(key)
            if mine is None:
                accs[key] = other
                continue
            acc = mine if isinstance(mine, _Acc) else _Acc(mine)
            theirs = other if isinstance(other, _Acc) else _Acc(other)
            accs[key] = acc
            acc.perms = tuple(sorted(set(acc.perms).union(theirs.perms)))
            acc.count += theirs.count
            acc.first = min(acc.first, theirs.first)
            acc.last = max(acc.last, theirs.last)
            for name, derive in _EVIDENCE:
                # In the order they were seen (not sorted): what one process
                # reading both ranges in turn keeps, once the cap is reached too.
                bucket = _full(acc, name, derive)
                grown = _added(bucket, _full(theirs, name, derive))
                if grown is not bucket:
                    setattr(acc, name, grown)

    def count(self, key: Key) -> int:
        """How many denials group ``key`` has."""
        acc = self._accs[key]
        return acc.count if type(acc) is _Acc else 1

    def keys(self) -> list[Key]:
        """Every group's key, sorted."""
        return sorted(self._accs)

    def top_keys(self, n: int) -> list[Key]:
        """The keys of the ``n`` groups with the most denials (ties: in key
        order), and of the other half of any of them (the same source, target
        and class, permissive the other way: explained together), sorted."""
        accs = self._accs
        counts = ((-(a.count if type(a) is _Acc else 1), k) for k, a in accs.items())
        keys = {k for _, k in heapq.nsmallest(n, counts)}
        keys |= {other for k in list(keys) if (other := (k[0], k[1], k[2], not k[3])) in accs}
        return sorted(keys)

    def groups(self) -> list[DenialGroup]:
        """The groups, sorted by (source, target, class, permissive)."""
        return list(self.iter_groups())

    def iter_groups(self, keys: Collection[Key] | None = None, *, consume: bool = False) -> Iterator[DenialGroup]:
        """The groups (only those of ``keys`` when given), sorted by key, made
        one at a time; ``consume`` forgets each group once it is handed out
        (memory goes down as the caller writes them out)."""
        accs = self._accs
        for key in sorted(accs if keys is None else keys):
            yield _group(key, accs.pop(key) if consume else accs[key])


def group_denials(denials: Iterable[Denial]) -> list[DenialGroup]:
    """Group denials per source domain, then (target type, class, permissive)."""
    acc = GroupAccumulator()
    for d in denials:
        acc.add(d)
    return acc.groups()
