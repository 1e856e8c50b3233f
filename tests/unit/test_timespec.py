"""--since/--until time specs: words, timestamps, local time, errors (the cross-check
with the real ausearch: tests/integration/test_timespec_tools.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from avcfix.audit.timespec import WORDS, parse_time_spec
from avcfix.errors import UsageError
from avcfix.system.boottime import read_boot_time

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
# Wednesday 2025-11-05 14:30:15.250 UTC
NOW = datetime(2025, 11, 5, 14, 30, 15, 250000, tzinfo=UTC).timestamp()
BOOT = NOW - 3 * 86400 - 7


def ts(*args, tz=UTC) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


def parse(text, **kw):
    kw.setdefault("now", NOW)
    kw.setdefault("boot_time", BOOT)
    kw.setdefault("tz", UTC)
    return parse_time_spec(text, **kw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("recent", NOW - 600),
        ("boot", BOOT),
        ("today", ts(2025, 11, 5)),
        ("yesterday", ts(2025, 11, 4)),
        ("this-week", ts(2025, 11, 2)),  # the Sunday before
        ("week-ago", ts(2025, 10, 29)),
        ("this-month", ts(2025, 11, 1)),
        ("this-year", ts(2025, 1, 1)),
        ("  Today ", ts(2025, 11, 5)),
    ],
)
def test_words(text, expected):
    assert parse(text) == expected


def test_every_word_is_accepted_and_in_the_past():
    for word in WORDS:
        assert parse(word) <= NOW


def test_week_start_is_configurable():
    assert parse("this-week", week_start=0) == ts(2025, 11, 3)  # Monday
    assert parse("this-week", week_start=2) == ts(2025, 11, 5)  # Wednesday: today
    assert parse("this-week", week_start=3) == ts(2025, 10, 30)  # Thursday: last week


def test_today_as_end_is_now_like_ausearch_te():
    assert parse("today", end=True) == NOW
    assert parse("yesterday", end=True) == ts(2025, 11, 4)


def test_words_use_local_midnight():
    # 14:30 UTC is 15:30 in Berlin (CET, +1): midnight there is 23:00 UTC the day before.
    assert parse("today", tz=BERLIN) == ts(2025, 11, 4, 23)
    # Late evening UTC is already tomorrow in Berlin.
    late = ts(2025, 11, 5, 23, 30)
    assert parse("today", now=late, tz=BERLIN) == ts(2025, 11, 5, 23)
    assert parse("yesterday", now=late, tz=BERLIN) == ts(2025, 11, 4, 23)


def test_dst_change_inside_the_week():
    # Berlin left DST on Sunday 2025-10-26: a week ago from 10-29 was still CEST (+2).
    now = ts(2025, 10, 29, 12)
    assert parse("week-ago", now=now, tz=BERLIN) == ts(2025, 10, 21, 22)
    assert parse("this-week", now=now, tz=BERLIN) == ts(2025, 10, 25, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1700000000", 1700000000.0),
        ("1700000000.5", 1700000000.5),
        ("@1700000000.125", 1700000000.125),
        ("0", 0.0),
    ],
)
def test_epoch(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-01T12:00:01", ts(2025, 11, 1, 12, 0, 1)),
        ("2025-11-01 12:00:01", ts(2025, 11, 1, 12, 0, 1)),
        ("2025-11-01 12:00:01.250", ts(2025, 11, 1, 12, 0, 1, 250000)),
        ("2025-11-01", ts(2025, 11, 1)),
        ("2025-11-01T12:00:01Z", ts(2025, 11, 1, 12, 0, 1)),
        ("2025-11-01T12:00:01+02:00", ts(2025, 11, 1, 10, 0, 1)),
    ],
)
def test_iso(text, expected):
    assert parse(text) == expected


def test_iso_is_local_unless_it_has_an_offset():
    assert parse("2025-11-01T12:00:01", tz=BERLIN) == ts(2025, 11, 1, 11, 0, 1)
    assert parse("2025-07-01T12:00:00", tz=BERLIN) == ts(2025, 7, 1, 10)  # CEST
    assert parse("2025-11-01T12:00:01Z", tz=BERLIN) == ts(2025, 11, 1, 12, 0, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11/01/2025", ts(2025, 11, 1)),
        ("11/01/25", ts(2025, 11, 1)),
        ("1/2/2025", ts(2025, 1, 2)),
        ("12/31/99", ts(1999, 12, 31)),
        ("11/01/2025 12:00:01", ts(2025, 11, 1, 12, 0, 1)),
        ("11/01/2025 12:00", ts(2025, 11, 1, 12)),
        ("11/01/2025 12:00:01.123", ts(2025, 11, 1, 12, 0, 1, 123000)),
        ("11/01/2025 12:00:01.123:456", ts(2025, 11, 1, 12, 0, 1, 123000)),  # as ausearch -i prints
        ("09:15:00", ts(2025, 11, 5, 9, 15)),
        ("9:15", ts(2025, 11, 5, 9, 15)),
        ("23:59:59", ts(2025, 11, 5, 23, 59, 59)),
    ],
)
def test_ausearch_forms(text, expected):
    assert parse(text) == expected


def test_bare_date_as_end_covers_the_whole_day():
    assert parse("11/01/2025", end=True) == ts(2025, 11, 1, 23, 59, 59, 999000)
    assert parse("2025-11-01", end=True) == ts(2025, 11, 1, 23, 59, 59, 999000)
    assert parse("11/01/2025 12:00:00", end=True) == ts(2025, 11, 1, 12)


def test_time_only_is_today_in_local_time():
    late = ts(2025, 11, 5, 23, 30)  # already 11-06 in Berlin
    assert parse("01:00:00", now=late, tz=BERLIN) == ts(2025, 11, 6, 0, tz=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "tomorrow",
        "checkpoint",
        "13/01/2025",
        "02/30/2025",
        "11/01/2025 25:00:00",
        "11/01/2025 12:61",
        "24:00:00",
        "2025-13-01",
        "2025-11-01Tgarbage",
        "11-01-2025",
        "1700000000.5.5",
        "now; rm -rf /",
        "-5",
        "\x00",
    ],
)
def test_bad_input_is_a_usage_error(text):
    with pytest.raises(UsageError) as info:
        parse(text)
    assert "time" in str(info.value) or "date" in str(info.value)


def test_boot_without_boot_time_is_a_usage_error():
    with pytest.raises(UsageError, match="boot time"):
        parse("boot", boot_time=None)
    assert parse("today", boot_time=None) == ts(2025, 11, 5)


def test_default_tz_is_local_time():
    expected = datetime(2025, 11, 1, 12, 0, 1).timestamp()  # naive = local, like mktime
    assert parse_time_spec("2025-11-01 12:00:01", now=NOW, boot_time=None) == expected


# -- boot time -----------------------------------------------------------


def test_read_boot_time(tmp_path: Path):
    stat = tmp_path / "stat"
    stat.write_bytes(b"cpu  1 2 3\nintr 5\nbtime 1699990000\nprocesses 42\n")
    assert read_boot_time(stat) == 1699990000.0
    stat.write_bytes(b"cpu  1 2 3\n")
    assert read_boot_time(stat) is None
    stat.write_bytes(b"btime garbage\n")
    assert read_boot_time(stat) is None
    assert read_boot_time(tmp_path / "missing") is None
    assert read_boot_time(tmp_path) is None  # a directory


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="no /proc/stat")
def test_read_boot_time_from_this_machine():
    boot = read_boot_time()
    assert boot is not None and 0 < boot <= time.time()
