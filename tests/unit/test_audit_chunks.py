"""Cut points for the parallel scan never split an event."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from avcfix.audit.api import ScanStats, scan, scan_range
from avcfix.audit.chunks import count_lines, cut_points, safe_cut

PROJECT = Path(__file__).resolve().parents[2]
EUCA = PROJECT / "fixtures" / "eucanetd" / "audit.log"


def rec(serial: int, rtype: str = "SYSCALL") -> str:
    return f"type={rtype} msg=audit(1700000000.000:{serial}): x=1\n"


def test_safe_cut_skips_straddling_events():
    lines = [rec(1), rec(1), rec(2), rec(3), rec(2), rec(4), rec(4), rec(5)]
    data = ("junk\n" + "".join(lines)).encode()
    offsets = [5]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))
    # Serial 2 spans lines 2..4: no cut before line 3 or 4; the next safe one is line 5.
    assert safe_cut(data, offsets[3]) == offsets[5]
    assert safe_cut(data, offsets[2]) == offsets[2]
    assert safe_cut(data, offsets[1]) == offsets[2]  # not inside serial 1
    assert safe_cut(data, offsets[6]) == offsets[7]  # not inside serial 4
    assert safe_cut(data[:-1], offsets[6]) is None  # a partial last line is never cut at


def test_safe_cut_keeps_continuations_with_their_record():
    data = (rec(1) + rec(2) + "pid=1 wrapped=yes\n" + rec(3) + rec(4)).encode()
    cut = safe_cut(data, len(rec(1)) + 1)
    assert data[cut:].startswith(rec(3).encode())


def test_cut_points_and_ranges_rebuild_the_sequential_scan(tmp_path):
    log = tmp_path / "big.log"
    text = EUCA.read_text()
    # 40 copies of the example with distinct serials (a repeated id would be one event).
    log.write_text("".join(re.sub(r":(41\d\d)\)", lambda m, k=k: f":{int(m.group(1)) + 100 * k})", text)
                           for k in range(40)))
    points = cut_points(str(log), 4, window=2000)
    assert points[0] == 0 and points[-1] == log.stat().st_size and len(points) == 5
    assert points == sorted(set(points))
    whole = ScanStats()
    expected = list(scan([str(log)], stats=whole))
    got, lines, events = [], 0, 0
    for a, b in itertools.pairwise(points):
        st = ScanStats()
        got.extend(scan_range(str(log), a, b, 1 + count_lines(str(log), a), st))
        lines += st.lines
        events += st.events
    assert got == expected
    assert (lines, events) == (whole.lines, whole.events)


def test_small_files_are_not_cut(tmp_path):
    assert cut_points(str(EUCA), 4) == [0, EUCA.stat().st_size]
