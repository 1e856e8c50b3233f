"""--since/--until time specs cross-checked with the real ausearch (the pure tests:
tests/unit/test_timespec.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from avcfix.audit.timespec import parse_time_spec

UTC = UTC


# -- the same bounds as the real ausearch ---------------------------------

AUSEARCH = shutil.which("ausearch")


def _avc(epoch: float, serial: int) -> str:
    return (
        f"type=AVC msg=audit({epoch:.3f}:{serial}): avc:  denied  {{ read }} for  pid=1 comm=\"x\" "
        "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=0\n"
    )


@pytest.mark.skipif(AUSEARCH is None, reason="ausearch (auditd) not installed")
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_words_match_ausearch(tmp_path: Path, zone: str):
    """ausearch -ts WORD keeps exactly the events at or after our bound."""
    tz = ZoneInfo(zone)
    now = time.time()
    if datetime.fromtimestamp(now, tz).time() > datetime.strptime("23:59:00", "%H:%M:%S").time():
        pytest.skip("too close to midnight for a stable comparison")
    words = ["today", "yesterday", "this-week", "week-ago", "this-month", "this-year"]
    bounds = {w: parse_time_spec(w, now=now, boot_time=None, tz=tz) for w in words}
    events = sorted({b + d for b in bounds.values() for d in (-1.0, 0.0, 1.0)})
    log = tmp_path / "audit.log"
    log.write_text("".join(_avc(e, 1000 + i) for i, e in enumerate(events)))
    env = dict(os.environ, TZ=zone, LC_ALL="C")
    offset_now = datetime.fromtimestamp(now, tz).utcoffset()
    for word, bound in bounds.items():
        out = subprocess.run([AUSEARCH, "-if", str(log), "-ts", word, "--raw"], capture_output=True, text=True, env=env).stdout
        got = sorted(float(line.split("(")[1].split(":")[0]) for line in out.splitlines() if line.startswith("type=AVC"))
        # ausearch bug: it reuses *now*'s DST flag for the midnight it computes, so
        # across a DST change its bound is off by the offset difference; ours is
        # the real local midnight.
        shift = (datetime.fromtimestamp(bound, tz).utcoffset() - offset_now).total_seconds()
        assert got == [e for e in events if e >= bound + shift], word


@pytest.mark.skipif(AUSEARCH is None, reason="ausearch (auditd) not installed")
def test_date_and_time_match_ausearch(tmp_path: Path):
    tz = ZoneInfo("America/New_York")
    bound = parse_time_spec("03/09/25 01:30:00", now=time.time(), boot_time=None, tz=tz)
    assert bound == datetime(2025, 3, 9, 6, 30, tzinfo=UTC).timestamp()
    events = [bound - 1, bound, bound + 1]
    log = tmp_path / "audit.log"
    log.write_text("".join(_avc(e, 1 + i) for i, e in enumerate(events)))
    env = dict(os.environ, TZ="America/New_York", LC_ALL="C")
    argv = [AUSEARCH, "-if", str(log), "-ts", "03/09/25", "01:30:00", "--raw"]
    out = subprocess.run(argv, capture_output=True, text=True, env=env).stdout
    assert out.count("type=AVC") == 2
