"""Property tests: the parser never raises, and record order within an event does not matter."""

from __future__ import annotations

import dataclasses
import io
from itertools import groupby
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avcfix.audit.api import ScanStats, scan
from avcfix.audit.parse import parse_line
from avcfix.audit.scanner import scan_raw_events

PROJECT = Path(__file__).resolve().parents[2]
EUCA_LINES = (PROJECT / "fixtures" / "eucanetd" / "audit.log").read_text().splitlines()
EVENTS = [list(g) for _, g in groupby(EUCA_LINES, key=lambda ln: ln.split("audit(", 1)[1].split(")", 1)[0])]

#: Fragments that steer random text towards the parser's interesting paths.
FRAGMENTS = st.sampled_from([
    "type=AVC ", "msg=audit(", "1700000000.123:42", "): ", "avc:  denied  { ", " } for ", "scontext=",
    "system_u:system_r:a_t:s0 ", "tcontext=", "tclass=file ", "node=x ", "type=SYSCALL ", "arch=c000003e ",
    "syscall=257 ", 'comm="', "414243 ", "\x1d", "\n", "----\n", "time->", "type=PATH ", "item=0 ", "name=",
    "type=PROCTITLE ", "proctitle=", "00", "audit(", ")", "{", "}", "'", '"', " ", "=", "type=1400 ",
    "11/01/2025 12:00:01.123:456", "type=USER_AVC ", "msg='", "SELINUX_ERR ", "perms=read,write ",
])


def scan_bytes(data: bytes) -> tuple[list, ScanStats]:
    stats = ScanStats()
    out = list(scan(["-"], stats=stats, stdin=io.BytesIO(data)))
    return out, stats


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_scan_never_raises_on_arbitrary_bytes(data):
    denials, stats = scan_bytes(data)
    assert stats.lines == data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert stats.denials == len(denials)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS | st.text(max_size=8), max_size=60))
def test_scan_never_raises_on_audit_like_text(parts):
    text = "".join(parts)
    scan_bytes(text.encode("utf-8", "surrogatepass"))
    for line in text.splitlines():
        parse_line(line)


@settings(max_examples=200, deadline=None)
@given(st.lists(FRAGMENTS, max_size=40), st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_block_boundaries_never_change_the_scan(parts, sizes):
    data = "".join(parts).encode()
    whole = ScanStats()
    expected = list(scan_raw_events([data], "x", whole, whole.skip))
    blocks, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        blocks.append(data[i:i + n])
        i += n
        k += 1
    split = ScanStats()
    assert list(scan_raw_events(blocks, "x", split, split.skip)) == expected
    assert (split.lines, split.events, split.skipped_lines) == (whole.lines, whole.events, whole.skipped_lines)


def _normalised(lines: list[str]) -> list:
    denials, _ = scan_bytes(("\n".join(lines) + "\n").encode())
    return [dataclasses.replace(d, line=0, source="") for d in denials]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_line_order_within_an_event_does_not_matter(data):
    expected = _normalised(EUCA_LINES)
    shuffled: list[str] = []
    for event in EVENTS:
        shuffled.extend(data.draw(st.permutations(event)))
    got = _normalised(shuffled)
    assert got == expected
    assert [d.records for d in got] == [d.records for d in expected]
