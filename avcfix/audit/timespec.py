"""Time specifications for ``--since`` / ``--until`` (pure).

Accepts what admins type after ``ausearch -ts/-te`` and a few more forms:

- words: ``now``, ``recent`` (10 minutes ago), ``boot``, ``today``,
  ``yesterday``, ``this-week``, ``week-ago``, ``this-month``, ``this-year``;
- epoch seconds: ``1700000000`` or ``1700000000.5`` (``@`` prefix allowed);
- ISO 8601: ``2025-11-01``, ``2025-11-01T12:00:01``, ``2025-11-01 12:00:01.250``,
  with an optional offset (``Z``, ``+02:00``) which then wins over ``tz``;
- ausearch's C-locale forms: ``MM/DD/YYYY``, ``MM/DD/YY``, either followed by
  ``HH:MM[:SS[.fff]]``, and ``HH:MM[:SS]`` alone (today). Dates as
  ``ausearch -i`` prints them (``11/01/2025 12:00:01.123:456``) are accepted too:
  the ``:serial`` suffix is ignored.

Local-time semantics like ausearch: midnights and wall-clock times are read
in ``tz`` (``None`` means the machine's local time zone). The words match what
ausearch 3.0 does (checked against it): ``today`` is midnight (for an end,
``today`` is now, like ``-te today``), ``this-week`` is midnight of the last
``week_start`` day (Sunday by default, ausearch's C locale), ``week-ago`` is
midnight seven days ago, ``this-month``/``this-year`` are midnight of the
first day. One deliberate difference: as an end (``end=True``) a date without
a time means the end of that day (23:59:59.999), not "that day at the current
time of day" as ausearch does.

Nothing here reads a clock or /proc: callers pass ``now`` (epoch seconds) and
``boot_time`` (see :mod:`avcfix.system.boottime`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from avcfix.errors import UsageError

#: ``recent`` is this many seconds before ``now`` (as in ausearch).
RECENT_SECONDS = 600.0

#: The words accepted, in the order the help text lists them.
WORDS: tuple[str, ...] = (
    "now", "recent", "boot", "today", "yesterday",
    "this-week", "week-ago", "this-month", "this-year",
)

_EPOCH = re.compile(r"@?(\d{1,12})(\.\d{1,9})?")
_CLOCK = r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?"
_TIME_ONLY = re.compile(_CLOCK)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:[ T]+" + _CLOCK + r")?")
_SERIAL_SUFFIX = re.compile(r"(\.\d+):\d+$")  # ausearch -i: "12:00:01.123:456"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ].*)?")

#: The last instant of a day as an end bound (audit timestamps have ms resolution).
_END_OF_DAY = time(23, 59, 59, 999000)

_HELP = (
    "use one of " + ", ".join(WORDS) + ", epoch seconds (1700000000.5), "
    "ISO 8601 (2025-11-01T12:00:01), MM/DD/YYYY [HH:MM:SS] or HH:MM:SS"
)


def parse_time_spec(
    text: str,
    *,
    now: float,
    boot_time: float | None,
    end: bool = False,
    tz: tzinfo | None = None,
    week_start: int = 6,
) -> float:
    """Turn a ``--since``/``--until`` value into epoch seconds.

    ``now`` and ``boot_time`` are epoch seconds supplied by the caller
    (``boot_time`` may be ``None`` when unknown; then ``boot`` is an error).
    ``end=True`` parses an upper bound (``--until``): ``today`` means ``now``
    and a bare date means the end of that day. ``tz`` is the time zone of
    wall-clock values (``None``: the local zone). ``week_start`` is the first
    day of the week for ``this-week`` (``datetime.weekday()`` numbering,
    Monday=0; default 6 = Sunday, like ausearch in the C locale).

    Raises :class:`avcfix.errors.UsageError` on anything else.
    """
    if not isinstance(text, str):
        raise UsageError(f"bad time {text!r}: {_HELP}")
    spec = text.strip()
    if not spec:
        raise UsageError(f"empty time: {_HELP}")
    if not 0 <= week_start <= 6:
        raise UsageError(f"week_start must be 0..6, not {week_start}")
    word = spec.lower()
    if word in WORDS:
        return _word(word, now=now, boot_time=boot_time, end=end, tz=tz, week_start=week_start)
    m = _EPOCH.fullmatch(spec)
    if m:
        return float(m.group(1) + (m.group(2) or ""))
    m = _TIME_ONLY.fullmatch(spec)
    if m:
        today = _local(now, tz).date()
        return _timestamp(today, _clock(m.group(1), m.group(2), m.group(3), m.group(4), spec), tz)
    m = _US_DATE.fullmatch(_SERIAL_SUFFIX.sub(r"\1", spec))
    if m:
        month, day, year = int(m.group(1)), int(m.group(2)), m.group(3)
        full_year = int(year) if len(year) == 4 else _two_digit_year(int(year))
        on = _date(full_year, month, day, spec)
        if m.group(4) is None:
            return _timestamp(on, _END_OF_DAY if end else time(0), tz)
        return _timestamp(on, _clock(m.group(4), m.group(5), m.group(6), m.group(7), spec), tz)
    if _ISO_DATE.fullmatch(spec):
        return _iso(spec, end=end, tz=tz)
    raise UsageError(f"bad time {spec!r}: {_HELP}")


def _word(word: str, *, now: float, boot_time: float | None, end: bool, tz: tzinfo | None, week_start: int) -> float:
    if word == "now":
        return now
    if word == "recent":
        return now - RECENT_SECONDS
    if word == "boot":
        if boot_time is None:
            raise UsageError("'boot': the boot time of this machine is unknown (no /proc/stat btime)")
        return boot_time
    if word == "today" and end:
        return now
    today = _local(now, tz).date()
    if word == "today":
        day = today
    elif word == "yesterday":
        day = today - timedelta(days=1)
    elif word == "this-week":
        day = today - timedelta(days=(today.weekday() - week_start) % 7)
    elif word == "week-ago":
        day = today - timedelta(days=7)
    elif word == "this-month":
        day = today.replace(day=1)
    else:  # this-year
        day = today.replace(month=1, day=1)
    return _timestamp(day, time(0), tz)


def _iso(spec: str, *, end: bool, tz: tzinfo | None) -> float:
    try:
        parsed = datetime.fromisoformat(spec)
    except ValueError:
        raise UsageError(f"bad ISO 8601 time {spec!r}: {_HELP}") from None
    if len(spec) == 10 and end:  # a bare date as an end bound: the whole day
        parsed = datetime.combine(parsed.date(), _END_OF_DAY)
    if parsed.tzinfo is not None:
        return parsed.timestamp()
    return _timestamp(parsed.date(), parsed.time(), tz)


def _local(epoch: float, tz: tzinfo | None) -> datetime:
    """``epoch`` as a wall-clock datetime in ``tz`` (naive local time if ``None``)."""
    return datetime.fromtimestamp(epoch, tz)


def _timestamp(day: date, clock: time, tz: tzinfo | None) -> float:
    """Epoch seconds of wall-clock ``day clock`` in ``tz`` (``None``: local, like mktime)."""
    return datetime.combine(day, clock, tzinfo=tz).timestamp()


def _date(year: int, month: int, day: int, spec: str) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise UsageError(f"bad date in {spec!r} ({exc}); dates are MM/DD/YYYY") from None


def _clock(hh: str, mm: str, ss: str | None, frac: str | None, spec: str) -> time:
    hour, minute, second = int(hh), int(mm), int(ss or 0)
    micro = round(float(frac) * 1_000_000) if frac else 0
    if hour > 23 or minute > 59 or second > 59:
        raise UsageError(f"bad time of day in {spec!r}: use 24-hour HH:MM:SS")
    return time(hour, minute, second, min(micro, 999_999))


def _two_digit_year(yy: int) -> int:
    """POSIX ``%y``: 69-99 are 1969-1999, 00-68 are 2000-2068."""
    return 1900 + yy if yy >= 69 else 2000 + yy
