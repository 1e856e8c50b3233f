"""Typed, frozen audit records (the output of :mod:`avcfix.audit.parse`).

Every record carries its header (type, node, time, serial), the raw text it
was parsed from (for ``--raw`` and bundles) and where it came from. Subclasses
add the fields their type defines; any other type is a :class:`GenericRecord`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from avcfix.audit.model import Context


class RecordType(str, enum.Enum):
    """The record types avcfix understands; anything else is ``OTHER``."""

    AVC = "AVC"
    USER_AVC = "USER_AVC"
    SELINUX_ERR = "SELINUX_ERR"
    USER_SELINUX_ERR = "USER_SELINUX_ERR"
    SYSCALL = "SYSCALL"
    PATH = "PATH"
    CWD = "CWD"
    PROCTITLE = "PROCTITLE"
    SOCKADDR = "SOCKADDR"
    AVC_PATH = "AVC_PATH"
    MAC_POLICY_LOAD = "MAC_POLICY_LOAD"
    MAC_STATUS = "MAC_STATUS"
    OTHER = "OTHER"


#: Numeric record types (kernel/dmesg/logcat lines say ``type=1400``).
NUMERIC_TYPES: Mapping[str, str] = MappingProxyType({
    "1107": "USER_AVC",
    "1122": "USER_SELINUX_ERR",
    "1300": "SYSCALL",
    "1302": "PATH",
    "1306": "SOCKADDR",
    "1307": "CWD",
    "1320": "EOE",
    "1327": "PROCTITLE",
    "1400": "AVC",
    "1401": "SELINUX_ERR",
    "1402": "AVC_PATH",
    "1403": "MAC_POLICY_LOAD",
    "1404": "MAC_STATUS",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """Header and raw text common to every record."""

    type: str
    node: str | None
    time: float
    serial: int
    text: str
    source: str = ""
    line: int = 0

    @property
    def key(self) -> tuple[str, float, int]:
        """The event id: ``(node or "", time, serial)``."""
        return (self.node or "", self.time, self.serial)


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericRecord(Record):
    """A record of a type avcfix does not interpret; its fields, in order."""

    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AvcRecord(Record):
    """An ``avc:`` message (AVC, USER_AVC or a kernel line)."""

    kind: str  # "AVC" or "USER_AVC"
    granted: bool
    perms: tuple[str, ...]
    scontext: Context
    tcontext: Context
    tclass: str
    permissive: bool | None = None
    pid: int | None = None
    comm: str | None = None
    exe: str | None = None
    name: str | None = None
    path: str | None = None
    dev: str | None = None
    ino: int | None = None
    port: int | None = None
    ioctlcmd: int | None = None
    capability: int | None = None
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SelinuxErrRecord(Record):
    """SELINUX_ERR / USER_SELINUX_ERR: ``op=``, ``reason=`` and the contexts."""

    kind: str
    message: str
    op: str | None = None
    reason: str | None = None
    scontext: Context | None = None
    tcontext: Context | None = None
    tclass: str | None = None
    perms: tuple[str, ...] = ()
    invalid_context: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyscallRecord(Record):
    """The SYSCALL record of an event."""

    arch: str | None = None
    syscall_nr: int | None = None
    syscall: str | None = None
    success: bool | None = None
    exit: int | None = None
    pid: int | None = None
    ppid: int | None = None
    uid: str | None = None
    comm: str | None = None
    exe: str | None = None
    subj: Context | None = None
    key_: str | None = None
    items: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PathRecord(Record):
    """One PATH item (``nametype`` and ``dev`` unquoted; ``mode`` as logged)."""

    item: int | None = None
    name: str | None = None
    nametype: str | None = None
    obj: Context | None = None
    inode: int | None = None
    dev: str | None = None
    mode: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CwdRecord(Record):
    cwd: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProctitleRecord(Record):
    """PROCTITLE: the command line, argv decoded (NUL-separated hex)."""

    argv: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True, slots=True, kw_only=True)
class SockaddrRecord(Record):
    """SOCKADDR: the decoded address family, address and port."""

    family: str | None = None
    addr: str | None = None
    port: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AvcPathRecord(Record):
    path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyLoadRecord(Record):
    """MAC_POLICY_LOAD: a policy was (re)loaded."""

    auid: str | None = None
    ses: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MacStatusRecord(Record):
    """MAC_STATUS: enforcing mode changed."""

    enforcing: bool | None = None
    old_enforcing: bool | None = None
