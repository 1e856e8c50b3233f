"""The hot path: bytes blocks -> raw denial events (pure, bounded memory).

Most of a real log is unrelated to SELinux, so this scanner never looks at
the fields of those lines. It works a block (about 1 MiB) at a time:

1. the block is cut into records, each with its event key (the text inside
   ``audit(...)``, prefixed by the ``node=`` when there is one). For a plain
   raw audit.log block this is two C-level calls (``split`` and one regex
   ``findall``); any other block (ausearch output, node prefixes, several
   records on a line, wrapped or garbage lines) goes through a per-line path
   that handles those cases and reports skipped lines;
2. the keys of denial records (``avc:``, SELINUX_ERR) are found with regexes
   over the whole block;
3. only records whose key is a denial key are kept. An event stays open
   while its key keeps appearing; it is closed (and yielded) after a block in
   which it did not appear, so events interleaved within a block or across a
   block boundary are still complete, and memory is bounded by the block.

``events`` counts distinct keys, comparing each block with the previous one.
The patterns are :mod:`avcfix.audit.grammar`'s.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator
from itertools import compress
from typing import Any, Protocol

from avcfix.audit.accel import cscan as _cscan
from avcfix.audit.grammar import DENIAL_MARKERS, DENIAL_NEEDLES, NODE_PREFIXES
from avcfix.audit.grammar import EVENT_ID_OK as _ID_OK
from avcfix.audit.grammar import RAW_HEADER_KEY as _RAW_ID
from avcfix.audit.grammar import RECORD_START as _RECORD_START
from avcfix.audit.model import Skipped

_c_scan_block = _cscan.scan_block if _cscan is not None else None

#: A line longer than this is not an audit record (the kernel caps one at ~9 KiB).
MAX_LINE = 1 << 20
#: An event with more records than this is closed early (a repeated id, not an event).
MAX_RECORDS = 4096

#: Stands for a line dropped while reading because it exceeded MAX_LINE.
OVERLONG = b"\x00<overlong line>"

RawEvent = list[tuple[int, bytes]]
SkipFn = Callable[[Skipped], None]


class Counters(Protocol):
    """What the scanner advances (``ScanStats`` satisfies it)."""

    lines: int
    events: int


def _excerpt(line: bytes) -> str:
    return line[:80].decode("utf-8", "backslashreplace")


def _is_marked(piece: bytes, markers: tuple[bytes, ...] = DENIAL_MARKERS) -> bool:
    for m in markers:
        if m in piece:
            return True
    return False


def _fast_marks(text: bytes, end: int) -> set[bytes]:
    """Keys of the denial records in ``text[:end]`` (fast path: one raw record per line)."""
    marks: set[bytes] = set()
    for needle in DENIAL_NEEDLES:
        pos = text.find(needle, 0, end)
        while pos >= 0:
            start = text.rfind(b"\n", 0, pos) + 1
            i = text.find(b"audit(", start, end)
            j = text.find(b")", i, end)
            if 0 <= i < j:
                marks.add(text[i + 6:j])
            nl = text.find(b"\n", pos, end)
            if nl < 0:
                break
            pos = text.find(needle, nl, end)
    return marks


#: The last record line of a block waits for the next block (with the lines
#: after it) unless that tail is longer than this.
HOLD_BACK = 1 << 16


def _line_lists(blocks: Iterable[bytes]) -> Iterator[tuple[bytes, int, list[bytes] | None]]:
    """``(text, end, lines)`` per block of complete lines: either ``end > 0``,
    ``lines`` is ``None`` and ``text[:end]`` is ``"\n"`` followed by the lines,
    each ending in ``"\n"``; or ``end`` is 0 and ``lines`` lists them (only the
    per-line path may look at those).

    The partial last line waits for the next block, and so does the last
    line holding a record header together with the lines after it, so that a
    record wrapped over several lines is never cut by a block boundary.
    """
    carry = b"\n"
    dropping = False
    for block in blocks:
        if dropping:
            nl = block.find(b"\n")
            if nl < 0:
                continue
            block = block[nl + 1:]
            dropping = False
            yield b"", 0, [OVERLONG]
        text = carry + block
        last_nl = text.rfind(b"\n")
        if len(text) - last_nl - 1 > MAX_LINE:  # the partial line is already too long
            text = text[:last_nl + 1]
            dropping = True
        hold = last_nl
        rec = -1 if dropping else text.rfind(b"audit(", 0, last_nl)
        if rec > 0:
            line_start = text.rfind(b"\n", 0, rec)  # >= 0: text starts with "\n"
            if last_nl - line_start <= HOLD_BACK:
                hold = line_start
        carry = text[hold:]
        if hold > 0:
            yield text, hold + 1, None
    if dropping:
        yield b"", 0, [OVERLONG]
    rest = carry[1:].split(b"\n")
    if rest and rest[-1] == b"":
        rest.pop()
    if rest:
        yield b"", 0, rest


def _slow_block(lines: list[bytes], first_lineno: int, source: str,
                skip: SkipFn) -> tuple[list[bytes], list[bytes], list[int], set[bytes]]:
    """The per-line path: keys, records, line numbers and denial keys of a block."""
    keys: list[bytes] = []
    recs: list[bytes] = []
    linenos: list[int] = []
    marks: set[bytes] = set()
    last = -1  # index in recs of the record a continuation line extends
    lineno = first_lineno - 1
    for line in lines:
        lineno += 1
        i = line.find(b"audit(")
        if i < 0 or line is OVERLONG or len(line) > MAX_LINE:
            if line is OVERLONG or len(line) > MAX_LINE:
                skip(Skipped(source, lineno, "line too long for an audit record", _excerpt(line)))
                last = -1
                continue
            s = line.strip()
            if not s or s.startswith(b"----") or s.startswith(b"time->"):
                last = -1
                continue
            if last >= 0 and b"=" in s:
                recs[last] = recs[last].rstrip() + b" " + s
                if _is_marked(recs[last]):
                    marks.add(keys[last])
                continue
            skip(Skipped(source, lineno, "not an audit record", _excerpt(line)))
            last = -1
            continue
        if line.find(b"audit(", i + 6) >= 0:
            starts = [m.start() for m in _RECORD_START.finditer(line)]
            if len(starts) > 1:
                starts[0] = 0
                starts.append(len(line))
                pieces = [line[a:b].rstrip() for a, b in itertools.pairwise(starts)]
            else:
                pieces = [line]
        else:
            pieces = [line]
        last = -1
        line_node = b""
        for piece in pieces:
            i = piece.find(b"audit(")
            j = piece.find(b")", i)
            if i < 0 or j < 0:
                skip(Skipped(source, lineno, "truncated record header", _excerpt(piece)))
                continue
            if _ID_OK.fullmatch(piece, i + 6, j) is None:
                skip(Skipped(source, lineno, "bad event id in audit(...)", _excerpt(piece)))
                continue
            t = piece.rfind(b"type=", 0, i)
            if (t < 0 and b"avc:" not in piece) or (t >= 0 and piece[t + 5:t + 6] in (b" ", b"")):
                skip(Skipped(source, lineno, "record without a type", _excerpt(piece)))
                continue
            key = piece[i + 6:j]
            if piece[:5] in NODE_PREFIXES:
                line_node = piece[:piece.find(b" ")]
            if line_node:  # later records of a line without node= share the first one's
                key = line_node + b" " + key
            keys.append(key)
            recs.append(piece)
            linenos.append(lineno)
            if _is_marked(piece):
                marks.add(key)
            last = len(recs) - 1
    return keys, recs, linenos, marks


def _py_fast_block(text: bytes, end: int, lines: list[bytes]) -> tuple[list[bytes], set[bytes]] | None:
    """``(keys, marks)`` of a block where every line is one raw record, else ``None``."""
    found = _RAW_ID.findall(text, 0, end)
    if len(found) == len(lines) and text.count(b"audit(", 0, end) == len(lines):
        return found, _fast_marks(text, end)
    return None


def _collect(keys: list[bytes], recs: list[bytes], linenos: list[int] | range,
             wanted: Collection[bytes]) -> dict[bytes, RawEvent]:
    """The records of the keys in ``wanted``, per key, in line order."""
    hits: dict[bytes, RawEvent] = {}
    for n in compress(range(len(keys)), map(wanted.__contains__, keys)):
        key = keys[n]
        ev = hits.get(key)
        if ev is None:
            ev = hits[key] = []
        ev.append((linenos[n], recs[n]))
    return hits


def scan_raw_events(
    blocks: Iterable[bytes],
    source: str,
    counters: Counters,
    skip: SkipFn,
    first_line: int = 1,
) -> Iterator[RawEvent]:
    """Yield the records of every event that holds a denial record (see
    :func:`scan_raw_batches`, which yields them a block's worth at a time)."""
    for batch in scan_raw_batches(blocks, source, counters, skip, first_line):
        yield from batch


def scan_raw_batches(
    blocks: Iterable[bytes],
    source: str,
    counters: Counters,
    skip: SkipFn,
    first_line: int = 1,
) -> Iterator[list[RawEvent]]:
    """Yield, a list at a time, the records of every event that holds a denial record.

    Each event is a list of ``(line number, record bytes)``, in input order;
    events come out in the order of their first record. ``counters.lines``
    and ``counters.events`` are advanced for every line and every distinct
    event key. Lines that are not audit records go to ``skip``; blank lines,
    ausearch separators (``----``, ``time->``) and wrapped continuation lines
    (``key=value`` text right after a record) are not skipped.

    A block of plain raw records goes to the C accelerator's ``scan_block``
    when it is built (the same keys, marks and records as the Python path).
    """
    open_events: dict[bytes, RawEvent] = {}
    last_seen: dict[bytes, int] = {}
    prev_keys: set[bytes] = set()
    #: The records of some keys in the previous block.
    def older(wanted: set[bytes]) -> dict[bytes, RawEvent]:
        return {}

    lineno = first_line
    block_no = 0
    c_scan = _c_scan_block
    for text, end, lines in _line_lists(blocks):
        block_no += 1
        got = c_scan(text, end, lineno, open_events, True) if end and c_scan is not None else None
        if got is not None:
            nlines, seen, marks, hits = got
            def prev_records(wanted: set[bytes], t: bytes = text, e: int = end, ln: int = lineno,
                             scan: Any = c_scan) -> dict[bytes, RawEvent]:
                return scan(t, e, ln, wanted, False)[3]  # type: ignore[no-any-return]  # C function
        else:
            if lines is None:
                lines = text[1:end - 1].split(b"\n")
            nlines = len(lines)
            fast = _py_fast_block(text, end, lines) if end else None
            if fast is not None:
                keys, marks = fast
                recs = lines
                linenos: list[int] | range = range(lineno, lineno + nlines)
            else:
                keys, recs, linenos, marks = _slow_block(lines, lineno, source, skip)
            seen = set(keys)
            hits = None
            # (a twin of the C branch's, with its own defaults: the values of this block, read at the next)
            def prev_records(wanted: set[bytes], k: Any = keys, r: Any = recs,  # type: ignore[misc]
                             ln: Any = linenos) -> dict[bytes, RawEvent]:
                return _collect(k, r, ln, wanted)
        lineno += nlines
        counters.events += len(seen - prev_keys)
        # Records of marked events that arrived in the previous block, before the mark.
        late = {key for key in marks if key not in open_events and key in prev_keys}
        if late:
            for key, recs_before in older(late).items():
                open_events[key] = recs_before
                last_seen[key] = block_no
        if hits is None:
            active = marks.union(open_events) if open_events else marks
            hits = _collect(keys, recs, linenos, active) if active else {}
        for key, found in hits.items():
            ev = open_events.get(key)
            if ev is None:
                open_events[key] = found
            else:
                ev.extend(found)
            last_seen[key] = block_no
        done = [k for k, b in last_seen.items() if b < block_no or len(open_events[k]) > MAX_RECORDS]
        if done:
            closed = [open_events.pop(k) for k in done]
            for k in done:
                del last_seen[k]
            closed.sort(key=lambda ev: ev[0][0])
            yield closed
        prev_keys = seen
        older = prev_records
    counters.lines += lineno - first_line
    rest = sorted(open_events.values(), key=lambda ev: ev[0][0])
    if rest:
        yield rest
