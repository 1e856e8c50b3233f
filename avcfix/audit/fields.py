"""Field-level helpers for audit record bodies (pure).

``key=value`` splitting, hex decoding of untrusted strings, event-id
parsing (raw ``1700000000.123:42`` and ``ausearch -i``'s
``11/01/2025 12:00:01.123:456``). The patterns are
:mod:`avcfix.audit.grammar`'s.
"""

from __future__ import annotations

import datetime as _dt
import posixpath
import time as _time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from avcfix.audit.grammar import HEX as _HEX
from avcfix.audit.grammar import INTERP_EVENT_ID as _INTERP_ID
from avcfix.audit.grammar import KV
from avcfix.audit.grammar import LEADING_INT as _LEADING_INT
from avcfix.audit.grammar import RAW_EVENT_ID as _RAW_ID

if TYPE_CHECKING:
    from avcfix.audit.model import PathItem


def split_fields(text: str) -> dict[str, str]:
    """Split a record body into ``{key: value}`` (quotes removed; first wins).

    Keys that repeat keep their first value, the way ausearch reports them.
    """
    out: dict[str, str] = {}
    for key, value in KV.findall(text):
        if key in out:
            continue
        if value[:1] == '"' or value[:1] == "'":
            value = value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:]
        out[key] = value
    return out


def is_quoted(raw: str) -> bool:
    """True when a raw field value was written in double quotes."""
    return raw[:1] == '"'


def decode_untrusted(value: str, quoted: bool) -> str:
    """Decode an untrusted string field (comm, exe, name, path, cwd...).

    The kernel writes such a value in double quotes when it is printable, and
    as upper-case hex otherwise; ``(null)`` and ``?`` stay as they are. The
    decoded text may contain any character: callers must never paste it into
    policy or shell text.
    """
    if quoted or _HEX.fullmatch(value) is None:
        return value
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return value
    return raw.decode("utf-8", "backslashreplace")


def decode_proctitle(value: str, quoted: bool) -> tuple[str, ...]:
    """The argv of a PROCTITLE value (hex with NUL separators, or plain text)."""
    if quoted:
        return (value,)
    if _HEX.fullmatch(value) is not None:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return (value,)
        parts = raw.rstrip(b"\0").split(b"\0")
        return tuple(p.decode("utf-8", "backslashreplace") for p in parts)
    # ausearch -i has already joined argv with spaces.
    return tuple(value.split(" ")) if value else ()


#: An event serial is the kernel's ``unsigned long`` counter (64 bits: at
#: most 20 digits, 18446744073709551615): a longer one is a bad event id.
MAX_SERIAL_DIGITS = 20
#: Event time seconds have at most 10 digits (up to 9999999999, 2286-11-20
#: UTC): all auditd writes for any real clock, and a time that ``datetime``
#: and ``time.localtime`` format in every time zone. A longer one is a bad
#: event id (the report, ``--raw`` and bundles could not print it).
MAX_SECONDS_DIGITS = 10
#: The first time that is too late (an ``ausearch -i`` date after 2286).
TIME_LIMIT = 10 ** MAX_SECONDS_DIGITS


def event_id_problem(text: str) -> str | None:
    """Why the text inside ``audit(...)`` is not a usable event id (``None``: it is)."""
    text = text.strip()
    m = _RAW_ID.match(text)
    if m:
        secs, frac, serial = m.groups()
        if frac is None:
            return "no fraction of a second"
        if len(secs) > MAX_SECONDS_DIGITS:
            return f"time over {MAX_SECONDS_DIGITS} digits"
        if len(serial) > MAX_SERIAL_DIGITS:
            return f"serial over {MAX_SERIAL_DIGITS} digits"
        return None
    m = _INTERP_ID.match(text)
    if m is None:
        return "not SECONDS.FRACTION:SERIAL nor an ausearch -i date"
    if len(m.group(8)) > MAX_SERIAL_DIGITS:
        return f"serial over {MAX_SERIAL_DIGITS} digits"
    return None if parse_event_id(text) is not None else "no such date, or after 2286-11-20"


def parse_event_id(text: str) -> tuple[float, int] | None:
    """``(time, serial)`` from the text inside ``audit(...)``; ``None`` if bad
    (see :func:`event_id_problem` for why).

    ``ausearch -i`` dates are local time, converted with the machine's zone
    (the zone ausearch printed them in).
    """
    text = text.strip()
    m = _RAW_ID.match(text)
    if m:
        secs, frac, serial = m.groups()
        if frac is None or len(secs) > MAX_SECONDS_DIGITS or len(serial) > MAX_SERIAL_DIGITS:
            return None
        return float(f"{secs}.{frac}"), int(serial)
    m = _INTERP_ID.match(text)
    if m:
        mon, day, year, hh, mm, ss, frac, serial = m.groups()
        if len(serial) > MAX_SERIAL_DIGITS:
            return None
        try:
            _dt.datetime(int(year), int(mon), int(day), int(hh), int(mm), int(ss))  # validates ranges
            base = _time.mktime((int(year), int(mon), int(day), int(hh), int(mm), int(ss), 0, 0, -1))
        except (OverflowError, ValueError):
            return None
        if base >= TIME_LIMIT:
            return None
        if frac:
            base += float("0." + frac)
        return round(base, 3), int(serial)
    return None


#: The fields avcfix reads, per record type. Such a field given twice in a
#: record makes it malformed (skipped and counted), so that no value is
#: silently overwritten by a later one. Other record types (LOGIN's ``old
#: auid= new auid=``...) and other fields may repeat.
READ_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType({
    "AVC": frozenset(("scontext", "tcontext", "tclass", "permissive", "pid", "comm", "exe", "name", "path", "dev",
                      "ino", "src", "dest", "lport", "dport", "sport", "ioctlcmd", "capability")),
    "SYSCALL": frozenset(("arch", "syscall", "success", "exit", "pid", "ppid", "uid", "comm", "exe", "subj", "key",
                          "items")),
    "PATH": frozenset(("item", "name", "nametype", "obj", "inode", "dev", "mode")),
    "CWD": frozenset(("cwd",)),
    "PROCTITLE": frozenset(("proctitle",)),
    "SOCKADDR": frozenset(("saddr",)),
    "AVC_PATH": frozenset(("path",)),
    "SELINUX_ERR": frozenset(("op", "reason", "scontext", "tcontext", "tclass", "perms")),
})


def fields_read(body: str, read: frozenset[str]) -> dict[str, str]:
    """``{key: raw value}`` of a record body (quotes kept); raises ValueError
    when a key of ``read`` is given twice."""
    pairs = KV.findall(body)
    out = dict(pairs)
    if len(out) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen and key in read:
                raise ValueError(f"duplicate {key}=")
            seen.add(key)
    return out


def to_int(value: str | None, base: int = 10) -> int | None:
    """An int, or ``None`` when the value is missing or not a number."""
    if value is None or value == "":
        return None
    try:
        return int(value, base)
    except ValueError:
        return None


#: The most digits of an ``inode=``/``ino=`` (a 64-bit number) and of a
#: ``mode=`` (octal): a longer value is not one.
MAX_INODE_DIGITS = 20
MAX_MODE_DIGITS = 22
_OCTAL = frozenset("01234567")


def decimal(value: str | None) -> int | None:
    """An ``inode=``/``ino=`` value: 1 to 20 ASCII digits, else ``None``
    (quotes, signs, ``_`` and non-ASCII digits make it not a number)."""
    if not value or len(value) > MAX_INODE_DIGITS or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def octal(value: str | None) -> int | None:
    """A ``mode=`` value: 1 to 22 octal digits (``0100644``), else ``None``."""
    if not value or len(value) > MAX_MODE_DIGITS or not _OCTAL.issuperset(value):
        return None
    return int(value, 8)


#: :func:`path_item_order`'s key: the item number, then (present?, value) for
#: name, nametype, inode, dev, mode and otype.
PathItemKey = tuple[int, bool, str, bool, str, bool, int, bool, str, bool, int, bool, str]


def path_item_order(item: PathItem) -> PathItemKey:
    """The sort key of a :class:`~avcfix.audit.model.PathItem`: by item
    number, then by every value (a total order: equal keys, equal items), so
    that the items of an event come out in the same order whatever the order
    of its records."""
    return (item.item, item.name is not None, item.name or "", item.nametype is not None, item.nametype or "",
            item.inode is not None, item.inode or 0, item.dev is not None, item.dev or "",
            item.mode is not None, item.mode or 0, item.otype is not None, item.otype or "")


def leading_int(value: str | None) -> int | None:
    """The integer at the start of ``value`` (``-13``, ``-13(Permission denied)``)."""
    if not value:
        return None
    m = _LEADING_INT.match(value)
    if m is None:
        return None
    try:
        return int(m.group())
    except ValueError:  # thousands of digits: not a number any record holds
        return None


def decode_saddr(hexv: str) -> tuple[str | None, str | None, int | None]:
    """``(family, address, port)`` of a raw SOCKADDR ``saddr=`` hex value."""
    try:
        raw = bytes.fromhex(hexv)
    except ValueError:
        return None, None, None
    if len(raw) < 2:
        return None, None, None
    fam = int.from_bytes(raw[:2], "little")
    if fam == 2 and len(raw) >= 8:
        return "inet", ".".join(str(b) for b in raw[4:8]), int.from_bytes(raw[2:4], "big")
    if fam == 10 and len(raw) >= 24:
        words = [raw[k:k + 2].hex() for k in range(8, 24, 2)]
        return "inet6", ":".join(words), int.from_bytes(raw[2:4], "big")
    if fam == 1:
        path = raw[2:]
        if path[:1] == b"\0":
            return "local", "@" + path[1:].split(b"\0", 1)[0].decode("utf-8", "backslashreplace"), None
        return "local", path.split(b"\0", 1)[0].decode("utf-8", "backslashreplace"), None
    if fam == 16:
        return "netlink", None, None
    return str(fam), None, None


def resolve_path(name: str, cwd: str | None) -> str:
    """``name`` made absolute with ``cwd`` when it is relative (and cwd is absolute)."""
    if name.startswith("/") or not cwd or not cwd.startswith("/"):
        return name
    return posixpath.normpath(posixpath.join(cwd, name))
