"""The audit layer's public entry point: :func:`scan` sources -> Denials.

::

    stats = ScanStats()
    for d in scan(["audit.log"], stats=stats, filters=Filters(domain="httpd_t")):
        ...

Denials stream out in input order (time order within a file); memory stays
bounded whatever the size of the input. Unreadable sources raise
:class:`~avcfix.errors.InputError` before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from avcfix.audit import fastpath
from avcfix.audit.accel import cscan as _cscan
from avcfix.audit.fastpath import Memo, fast_event_denials
from avcfix.audit.filters import Filters
from avcfix.audit.model import Denial, Skipped
from avcfix.audit.scanner import RawEvent, scan_raw_batches
from avcfix.audit.sources import Source, check_source, read_blocks

if TYPE_CHECKING:
    from avcfix.audit.records import Record

__all__ = ["Filters", "ScanStats", "Progress", "scan", "scan_range", "events_to_denials"]

#: ``progress(source_name, bytes_done, bytes_total_or_None)``, called per block.
Progress = Callable[[str, int, "int | None"], None]

#: How many skipped lines are kept (with file and line) for the report.
KEEP_SKIPPED = 20


@dataclass(slots=True)
class ScanStats:
    """Counters of one scan (mutable: the scan updates it as it goes)."""

    lines: int = 0
    events: int = 0
    denials: int = 0
    skipped_lines: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    #: Denials seen before filtering (``denials`` counts those that passed).
    denials_total: int = 0
    sources: list[str] = field(default_factory=list)
    keep: int = KEEP_SKIPPED

    def skip(self, item: Skipped) -> None:
        """Count one skipped line; keep the first ``keep`` for the report."""
        self.skipped_lines += 1
        if len(self.skipped) < self.keep:
            self.skipped.append(item)

    def as_dict(self) -> dict[str, int]:
        """The integer counters (the JSON ``stats`` object)."""
        return {
            "lines": self.lines,
            "events": self.events,
            "denials": self.denials,
            "denials_total": self.denials_total,
            "skipped_lines": self.skipped_lines,
        }


def events_to_denials(raw: RawEvent, source: str, stats: ScanStats, *, fast: bool = True,
                      memo: Memo | None = None, records: bool = True) -> list[Denial]:
    """Parse the raw records of one event and build its denials.

    A plain raw kernel event goes through :mod:`avcfix.audit.fastpath`;
    everything else (and ``fast=False``) through the typed records.
    ``records=False`` lets the fast path leave ``Denial.records`` empty.
    """
    if fast:
        quick = fast_event_denials(raw, source, memo, records=records)
        if quick is not None:
            return quick
    # The typed path (its modules are imported only when an event needs them).
    from avcfix.audit.correlate import make_event
    from avcfix.audit.denials import event_denials
    from avcfix.audit.parse import parse_line

    typed: list[Record] = []
    seen_skip: set[int] = set()
    ids: dict[str, tuple[float, int] | None] = {}
    for lineno, piece in raw:
        text = piece.decode("utf-8", "backslashreplace")
        if "\r" in text:
            text = text.replace("\r", "")
        for rec in parse_line(text, source, lineno, generic_fields=False, ids=ids):
            if isinstance(rec, Skipped):
                if rec.line not in seen_skip:  # one count per physical line
                    seen_skip.add(rec.line)
                    stats.skip(rec)
            else:
                typed.append(rec)
    if not typed:
        return []
    # A corrupted header may parse to another id than the scanner's key: split.
    by_key: dict[tuple[str, float, int], list[Record]] = {}
    for rec in typed:
        by_key.setdefault(rec.key, []).append(rec)
    out: list[Denial] = []
    for recs in by_key.values():
        out.extend(event_denials(make_event(recs)))
    return out


def scan(
    sources: Sequence[str],
    stats: ScanStats | None = None,
    filters: Filters | None = None,
    progress: Progress | None = None,
    *,
    stdin: BinaryIO | None = None,
    records: bool = True,
) -> Iterator[Denial]:
    """Stream the denials of ``sources`` (paths, or ``"-"`` for stdin).

    ``records=False`` is for callers that never read ``Denial.records`` (the
    raw text of the event's records, for ``--raw`` and bundles): it may then
    be empty, which saves decoding every record.

    Every source is checked first: a missing, unreadable or directory source
    raises :class:`~avcfix.errors.InputError` naming it. ``stats`` is updated
    in place (lines, events, denials, skipped lines with file:line).
    """
    stats = stats if stats is not None else ScanStats()
    filters = filters or Filters()
    checked: list[Source] = [check_source(s) for s in sources]
    for src in checked:
        stats.sources.append(src.name)
        yield from _scan_one(src, stats, filters, progress, stdin, records)


def scan_range(path: str, start: int, end: int, first_line: int, stats: ScanStats,
               filters: Filters | None = None, *, records: bool = True) -> Iterator[Denial]:
    """Denials of the byte range ``[start, end)`` of a plain file whose first
    line is line ``first_line`` (both ends must be line starts: see
    :mod:`avcfix.audit.chunks`)."""
    src = check_source(path)
    blocks = (b for b, _ in read_blocks(src, start=start, end=end))
    return _denials(scan_raw_batches(blocks, src.name, stats, stats.skip, first_line), src.name, stats,
                    filters or Filters(), records)


def _denials(batches: Iterable[list[RawEvent]], source: str, stats: ScanStats, filters: Filters,
             records: bool) -> Iterator[Denial]:
    """The denials of raw events (lists of them), counted and filtered. The hot
    loop of every scan: a plain raw event goes straight to the C build when it
    is there."""
    accepts = filters.accepts if filters.active else None
    memo = Memo()
    _keep_heap()
    quick = fastpath.c_event_denials() if not records else None
    for batch in batches:
        for raw in batch:
            ds = quick(raw, source, memo) if quick is not None else None
            if ds is None:
                ds = events_to_denials(raw, source, stats, memo=memo, records=records)
            stats.denials_total += len(ds)
            if accepts is None:
                stats.denials += len(ds)
                yield from ds
                continue
            for d in ds:
                if accepts(d):
                    stats.denials += 1
                    yield d


#: Blocks (and the carried partial line) up to this size are reused from the
#: heap instead of mapped and unmapped for each block (see ``_cscan.keep_heap``).
HEAP_BLOCKS = 4 << 20


def _keep_heap() -> None:
    if _cscan is not None:  # two mallopt calls, idempotent
        _cscan.keep_heap(HEAP_BLOCKS)


def _blocks(src: Source, progress: Progress | None, stdin: BinaryIO | None) -> Iterable[bytes]:
    for block, done in read_blocks(src, stdin):
        if progress is not None:
            progress(src.name, done, src.size)
        yield block


def _scan_one(src: Source, stats: ScanStats, filters: Filters, progress: Progress | None,
              stdin: BinaryIO | None, records: bool = True) -> Iterator[Denial]:
    batches = scan_raw_batches(_blocks(src, progress, stdin), src.name, stats, stats.skip)
    return _denials(batches, src.name, stats, filters, records)
