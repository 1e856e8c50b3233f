"""The hot path: bytes blocks -> raw denial events (pure, bounded memory).

Most of a real log is unrelated to SELinux. This scanner never splits the
fields of those lines: per physical line it finds the event id inside
``audit(...)`` with ``bytes.find``, appends the line to its open event and
marks the event when the line is a denial record. Only events that contain a
denial are handed on (as ``(line number, record bytes)`` lists) to the full
parser. At most ``window`` events stay open; the oldest is closed first.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator

from avcfix.audit.model import Skipped

#: A line longer than this is not an audit record (the kernel caps one at ~9 KiB).
MAX_LINE = 1 << 20

_ID_OK = re.compile(rb"\d+\.\d+:\d+|\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}(?:\.\d+)?:\d+")
_RECORD_START = re.compile(rb"(?:(?<![\w=])(?:node|host)=\S+\s+)?(?<![\w=])type=\S+\s+(?:msg=)?audit\(")
_NODE_PREFIXES = (b"node=", b"host=")
#: Stands for a line dropped while reading because it exceeded MAX_LINE.
OVERLONG = b"\x00<overlong line>"

RawEvent = list[tuple[int, bytes]]
SkipFn = Callable[[Skipped], None]


def _excerpt(line: bytes) -> str:
    return line[:80].decode("utf-8", "backslashreplace")


def _line_lists(blocks: Iterable[bytes], source: str, skip: SkipFn) -> Iterator[list[bytes]]:
    """Split blocks into lists of complete lines (the last one at EOF too)."""
    carry = b""
    dropping = False
    for block in blocks:
        if dropping:
            nl = block.find(b"\n")
            if nl < 0:
                continue
            block = block[nl + 1:]
            dropping = False
            yield [OVERLONG]
        if carry:
            block = carry + block
        lines = block.split(b"\n")
        carry = lines.pop()
        if len(carry) > MAX_LINE:
            carry = b""
            dropping = True
        if lines:
            yield lines
    if dropping:
        yield [OVERLONG]
    elif carry:
        yield [carry]


class ScanCounters:
    """Counters the scanner updates (a subset of the public ScanStats)."""

    lines: int
    events: int


def scan_raw_events(
    blocks: Iterable[bytes],
    source: str,
    counters: ScanCounters,
    skip: SkipFn,
    window: int = 512,
) -> Iterator[RawEvent]:
    """Yield the raw records of every event that holds a denial record.

    ``counters.lines`` and ``counters.events`` are advanced for every line and
    every distinct event id seen. Lines that are not audit records are passed
    to ``skip``; blank lines, ausearch separators (``----``, ``time->``) and
    wrapped continuation lines (``key=value`` text right after a record) are not.
    """
    pending: dict[bytes, RawEvent] = {}
    marked: set[bytes] = set()
    lineno = 0
    last: RawEvent | None = None
    last_key = b""
    id_ok = _ID_OK.fullmatch
    for lines in _line_lists(blocks, source, skip):
        for line in lines:
            lineno += 1
            i = line.find(b"audit(")
            if i < 0 or len(line) > MAX_LINE:
                if line is OVERLONG or len(line) > MAX_LINE:
                    skip(Skipped(source, lineno, "line too long for an audit record", _excerpt(line)))
                    last = None
                    continue
                s = line.strip()
                if not s or s.startswith(b"----") or s.startswith(b"time->"):
                    last = None
                    continue
                if last is not None and b"=" in s:
                    ln, prev = last[-1]
                    last[-1] = (ln, prev.rstrip() + b" " + s)
                    if b"avc:" in s or b"scontext=" in s:
                        marked.add(last_key)
                    continue
                skip(Skipped(source, lineno, "not an audit record", _excerpt(line)))
                last = None
                continue
            j = line.find(b")", i)
            if j < 0:
                skip(Skipped(source, lineno, "truncated record header", _excerpt(line)))
                last = None
                continue
            if line.find(b"audit(", j) >= 0:
                starts = [m.start() for m in _RECORD_START.finditer(line)]
                if len(starts) > 1:
                    starts[0] = 0
                    starts.append(len(line))
                    pieces = [line[a:b].rstrip() for a, b in zip(starts, starts[1:])]
                else:
                    pieces = [line]
            else:
                pieces = [line]
            for piece in pieces:
                if piece is not line:
                    i = piece.find(b"audit(")
                    j = piece.find(b")", i)
                    if i < 0 or j < 0:
                        skip(Skipped(source, lineno, "truncated record header", _excerpt(piece)))
                        continue
                key = piece[i + 6:j]
                if piece[:5] in _NODE_PREFIXES:
                    key = piece[:piece.find(b" ")] + b" " + key
                ev = pending.get(key)
                if ev is None:
                    if id_ok(piece, i + 6, j) is None:
                        skip(Skipped(source, lineno, "bad event id in audit(...)", _excerpt(piece)))
                        last = None
                        continue
                    t = piece.rfind(b"type=", 0, i)
                    if (t < 0 and b"avc:" not in piece) or piece[t + 5:t + 6] in (b" ", b""):
                        skip(Skipped(source, lineno, "record without a type", _excerpt(piece)))
                        last = None
                        continue
                    counters.events += 1
                    if len(pending) >= window:
                        old = next(iter(pending))
                        oldev = pending.pop(old)
                        if old in marked:
                            marked.discard(old)
                            yield oldev
                    ev = pending[key] = []
                ev.append((lineno, piece))
                if b"avc:" in piece or b"SELINUX_ERR" in piece or b"type=1401" in piece or b"type=1122" in piece:
                    marked.add(key)
                last = ev
                last_key = key
    counters.lines += lineno
    for key, ev in pending.items():
        if key in marked:
            yield ev
