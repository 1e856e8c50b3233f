"""The triage scan (:meth:`avcfix.triage.Triage.stream`: ``avcfix why``'s ``--json``
or report) of one big plain log, with several processes.

The log is cut at lines no event straddles (:mod:`avcfix.audit.chunks`);
this process scans the first byte range, writing its denials' JSON straight
into the document, and forked workers the others, each into a temporary file
that this process then appends in order; the groups and the counters are
merged. The document is the same as the one a sequential run writes.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO

from avcfix.audit.api import Filters, ScanStats, scan_range
from avcfix.audit.chunks import DEFAULT_WINDOW, count_lines, cut_points
from avcfix.audit.group import GroupAccumulator
from avcfix.audit.model import Denial
from avcfix.audit.sources import check_source, is_regular_file
from avcfix.report.jsonstream import JsonStream

#: Below this size a sequential scan is as fast as starting workers.
AUTO_MIN_SIZE = 48 << 20
#: The first range, scanned in this process straight into the document, is
#: this much bigger than the others: a worker also counts the lines before its
#: range and writes a file to be appended (measured: 1.2 about evens them out).
FIRST_WEIGHT = 1.2
#: At most this many workers by default.
AUTO_MAX_JOBS = 4
#: A worker writes its groups out (and forgets them) when it holds this many.
SPILL_GROUPS = 4096


@dataclass(slots=True)
class _Chunk:
    file: str
    count: int
    #: The range's groups: in this process (the first range), else pickled
    #: in ``acc_file`` by the worker (read back when they are merged).
    acc: GroupAccumulator | None
    stats: ScanStats
    acc_file: str = ""

    def merge_into(self, acc: GroupAccumulator) -> None:
        if self.acc is not None:
            acc.merge(self.acc)
            return
        with open(self.acc_file, "rb") as fh:
            acc.merge_dump(fh)


def _work(args: tuple[str, int, int, Filters, str | None, str], into: JsonStream | None = None) -> _Chunk:
    """Scan one range; its denials' JSON goes to the job's file, or to ``into``
    (the document itself, for the first range). A worker pickles its groups
    into a file too, rather than sending them back: the worker ends as soon
    as it is done (memory of one process fewer) and this process reads the
    groups of one range at a time, as it merges them."""
    path, start, end, filters, out_file, acc_file = args
    first_line = 1 + count_lines(path, start) if start else 1
    stats = ScanStats()
    acc = GroupAccumulator()
    n = 0
    denials = scan_range(path, start, end, first_line, stats, filters, records=False)
    if into is not None:
        return _Chunk("", into.denials(denials, acc.add), acc, stats)
    with open(acc_file, "wb") as spill:
        denials = _spilling(denials, acc, spill)
        if out_file is None:  # groups only (the human report)
            for d in denials:
                acc.add(d)
                n += 1
        else:
            with open(out_file, "w", encoding="utf-8") as fh:
                n = JsonStream(fh, header=False).denials(denials, acc.add)
        acc.dump(spill)
    return _Chunk(out_file or "", n, None, stats, acc_file)


def _spilling(denials: Iterable[Denial], acc: GroupAccumulator, spill: BinaryIO) -> Iterator[Denial]:
    """``denials``, spilling ``acc``'s groups into ``spill`` whenever it holds
    :data:`SPILL_GROUPS`: a worker's memory stays flat however many distinct
    groups its range has (else, while it runs, the groups both it and this
    process hold would be counted twice)."""
    for i, d in enumerate(denials, 1):
        yield d
        if not i & 1023 and len(acc) >= SPILL_GROUPS:
            acc.spill(spill)


def plan(sources: list[str], jobs: int | None) -> tuple[str, list[int]] | None:
    """``(path, cut points)`` when a parallel scan applies, else ``None``.

    ``jobs=None`` is automatic: one plain file of at least AUTO_MIN_SIZE
    bytes, several CPUs. An explicit ``jobs > 1`` cuts any plain file. A
    pipe, FIFO or other read-once source is never opened here (it is scanned
    sequentially, from the one open of the scan).
    """
    if len(sources) != 1 or jobs == 1 or not is_regular_file(sources[0]):
        return None
    src = check_source(sources[0])
    if not src.seekable or src.gzipped or not src.size or src.path is None:
        return None
    if jobs is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if src.size < AUTO_MIN_SIZE or cpus < 2:
            return None
        jobs = min(cpus, AUTO_MAX_JOBS)
        window = DEFAULT_WINDOW
    else:
        window = max(1, min(DEFAULT_WINDOW, src.size // (4 * jobs)))
    points = cut_points(src.path, jobs, window, FIRST_WEIGHT)
    return (src.path, points) if len(points) > 2 else None


def run(path: str, points: list[int], filters: Filters, out: IO[str] | None, acc: GroupAccumulator,
        stats: ScanStats, meanwhile: Callable[[], object] | None = None) -> JsonStream | bool | None:
    """Scan the first range here and the others in workers, and write their
    denials to ``out`` in order; ``out=None`` only fills ``acc`` and
    ``stats`` (and returns True). ``None`` when no temporary directory can be
    made: the caller then scans sequentially. ``meanwhile`` runs in this
    process before it waits for the workers (the caller's own preparations).

    The first range is written as it is scanned, so a worker that fails
    leaves a truncated document (and the error, with a non-zero exit), as a
    sequential scan that fails halfway does."""
    ranges = list(itertools.pairwise(points))
    ctx = multiprocessing.get_context("fork")
    try:
        tmpdir = tempfile.TemporaryDirectory(prefix="avcfix-why-")
    except OSError:
        return None
    with tmpdir as tmp:
        jobs = [(path, a, b, filters, None if out is None else os.path.join(tmp, f"{i}.json"),
                 os.path.join(tmp, f"{i}.groups")) for i, (a, b) in enumerate(ranges)]
        # This process scans the first range itself, straight into the
        # document, while len(jobs) - 1 forked workers scan the others into
        # files: one process fewer (memory), none idle, one copy less.
        stream = JsonStream(out) if out is not None else None
        with ctx.Pool(len(jobs) - 1, maxtasksperchild=1) as pool:  # a worker ends after its range
            pending = pool.map_async(_work, jobs[1:], chunksize=1)
            first = _work(jobs[0], stream)
            if meanwhile is not None:
                meanwhile()
            chunks = [first] + pending.get()
        stats.sources.append(check_source(path).name)
        for k, chunk in enumerate(chunks):
            part = chunk.stats
            stats.lines += part.lines
            stats.events += part.events
            stats.denials += part.denials
            stats.denials_total += part.denials_total
            stats.skipped_lines += part.skipped_lines
            stats.skipped.extend(part.skipped[: max(0, stats.keep - len(stats.skipped))])
            chunk.merge_into(acc)
            chunk.acc = None
            if stream is not None and k > 0:
                with open(chunk.file, "rb") as fh:
                    stream.encoded(fh, chunk.count)
    return stream if stream is not None else True

