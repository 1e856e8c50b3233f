"""The fast denial path gives exactly what the typed path gives.

``avcfix.audit.fastpath`` pulls a Denial's fields straight from the bytes of a
plain raw kernel event; ``parse`` -> ``denials`` builds typed records first.
On every event where the fast path answers, both must agree field by field
(records included).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from avcfix.audit.api import ScanStats, events_to_denials
from avcfix.audit.fastpath import fast_event_denials
from avcfix.audit.scanner import scan_raw_events
from avcfix.audit.sources import check_source, read_blocks

PROJECT = Path(__file__).resolve().parents[2]


def compare(path: str) -> tuple[int, int]:
    """(events the fast path handled, events in total); asserts equality."""
    stats = ScanStats()
    fast = total = 0
    for raw in scan_raw_events((b for b, _ in read_blocks(check_source(path))), path, stats, stats.skip):
        total += 1
        quick = fast_event_denials(raw, path)
        typed = events_to_denials(raw, path, ScanStats(), fast=False)
        if quick is None:
            continue
        fast += 1
        assert quick == typed, raw
        assert [d.records for d in quick] == [d.records for d in typed]
        bare = fast_event_denials(raw, path, records=False)  # why --json: no record texts
        assert bare == quick and all(d.records == () for d in bare)
    return fast, total


def test_fast_path_on_the_example():
    fast, total = compare(str(PROJECT / "fixtures" / "eucanetd" / "audit.log"))
    assert fast == total == 7


def test_fast_path_on_the_corpus(corpus_dir):
    fast_total = 0
    for path in sorted(corpus_dir.rglob("*.log")):
        fast, _ = compare(str(path))
        fast_total += fast
    assert fast_total > 1000  # the big raw logs go through the fast path


def test_fast_path_on_a_generated_log(tmp_path):
    gen = PROJECT / "bench" / "gen.py"
    if not gen.exists():
        pytest.skip("bench/gen.py not present")
    out = tmp_path / "gen.log"
    subprocess.run([sys.executable, str(gen), "--lines", "20000", "-o", str(out), "--seed", "7"], check=True)
    fast, total = compare(str(out))
    assert total > 100 and fast > total * 0.8


def test_fast_path_declines_what_it_does_not_know():
    def raw(*lines: str):
        return [(n, line.encode()) for n, line in enumerate(lines, 1)]

    avc = ('type=AVC msg=audit(1.5:9): avc:  denied  { read } for  pid=1 comm="x" '
           "scontext=system_u:system_r:a_t:s0 tcontext=system_u:object_r:b_t:s0 tclass=file permissive=0")
    assert fast_event_denials(raw(avc), "x") is not None
    assert fast_event_denials(raw("node=n " + avc), "x") is None
    assert fast_event_denials(raw(avc.replace("denied", "granted")), "x") is None
    assert fast_event_denials(raw(avc + "\x1dSCONTEXT=x"), "x") is None
    assert fast_event_denials(raw(avc, "type=AVC_PATH msg=audit(1.5:9): path=\"/x\""), "x") is None
    assert fast_event_denials(raw(avc.replace('comm="x"', 'comm="x')), "x") is None
    assert fast_event_denials(raw(avc.replace(" tclass=file", "")), "x") is None
