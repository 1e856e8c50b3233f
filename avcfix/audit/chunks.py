"""Cutting a big plain log into byte ranges that can be scanned independently.

A cut is only made at a line start that no event straddles: within
``window`` bytes on either side, no event id appears both before and after
it, and it is not followed by a continuation line. So scanning the ranges
one by one (in parallel) and concatenating the results in order gives what
one sequential scan gives, for any log whose events do not spread over more
than ``window`` bytes. Where no such line is found, no cut is made there.
The patterns are :mod:`avcfix.audit.grammar`'s.
"""

from __future__ import annotations

import os

from avcfix.audit.accel import cscan as _cscan
from avcfix.audit.grammar import LINE_EVENT_ID as _ID
from avcfix.audit.grammar import NODE_PREFIXES

#: How far around a cut events are checked (the scanner correlates within ~1 block).
DEFAULT_WINDOW = 1 << 20


def _line_keys(lines: list[bytes]) -> list[bytes | None]:
    """The event key of each line (``None``: no record header on that line)."""
    keys: list[bytes | None] = []
    for line in lines:
        m = _ID.search(line)
        if m is None:
            keys.append(None)
            continue
        key = m.group(1)
        if line[:5] in NODE_PREFIXES:
            key = line[:line.find(b" ")] + b" " + key
        keys.append(key)
    return keys


def safe_cut(data: bytes, target: int) -> int | None:
    """A line start in ``data`` at or after ``target`` where no event straddles.

    ``data`` is a window of the file; its first (possibly partial) line and
    last (possibly partial) line are never cut at.
    """
    first_nl = data.find(b"\n")
    if first_nl < 0:
        return None
    starts = [first_nl + 1]
    lines = data[first_nl + 1:].split(b"\n")
    lines.pop()  # partial last line
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    keys = _line_keys(lines)
    # Lines without a header (continuations, separators, garbage) stay with the line before.
    effective: list[bytes | None] = []
    prev: bytes | None = None
    for k in keys:
        prev = k if k is not None else prev
        effective.append(prev)
    first: dict[bytes, int] = {}
    last: dict[bytes, int] = {}
    for i, k in enumerate(effective):
        if k is None:
            continue
        first.setdefault(k, i)
        last[k] = i
    # cover[i] > 0: some event has a line before i and a line at or after i.
    delta = [0] * (len(lines) + 2)
    for k, a in first.items():
        b = last[k]
        if b > a:
            delta[a + 1] += 1
            delta[b + 1] -= 1
    cover = 0
    for i in range(len(lines)):
        cover += delta[i]
        if i == 0 or starts[i] < target:
            continue
        if cover == 0 and keys[i] is not None and effective[i - 1] is not None:
            return starts[i]
    return None


def cut_points(path: str, parts: int, window: int = DEFAULT_WINDOW, first_weight: float = 1.0) -> list[int]:
    """``[0, c1, ..., size]``: up to ``parts`` ranges of about equal size, the
    first ``first_weight`` times as big as each of the others."""
    size = os.path.getsize(path)
    if parts < 2 or size < 4 * window:
        return [0, size]
    points = [0]
    total = first_weight + parts - 1
    with open(path, "rb") as fh:
        for k in range(1, parts):
            target = int(size * (first_weight + k - 1) / total)
            lo = max(points[-1], target - window)
            fh.seek(lo)
            data = fh.read(target - lo + window)
            cut = safe_cut(data, target - lo)
            if cut is not None and lo + cut > points[-1] and lo + cut < size:
                points.append(lo + cut)
    points.append(size)
    return points


def count_lines(path: str, end: int) -> int:
    """Newlines in the first ``end`` bytes (the line number base of a range).

    Read into one reused buffer (so neither new blocks nor a map of the file
    add to the process's memory); the C accelerator counts when it is built."""
    n = 0
    buf = bytearray(1 << 22)
    view = memoryview(buf)
    with open(path, "rb") as fh:
        left = end
        while left > 0:
            got = fh.readinto(view[:min(left, len(buf))])
            if not got:
                break
            n += _cscan.count_newlines(buf, got) if _cscan is not None else buf.count(b"\n", 0, got)
            left -= got
    return n
