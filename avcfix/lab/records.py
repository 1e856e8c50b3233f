"""Audit records in the real ``audit.log`` format, written by the simulated kernel (pure).

The lab writes what the kernel's audit subsystem would: for a denied access an
``AVC`` record followed by ``SYSCALL``, ``CWD``, one ``PATH`` per path item and
``PROCTITLE``, all sharing one event id ``audit(SECONDS.MILLIS:SERIAL)``. The
field order and quoting follow the kernel (``comm="..."`` quoted, hex-encoded
``proctitle``), so avcfix's own parser, ``ausearch`` and ``audit2allow`` read the
lab's log like any other.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

#: AUDIT_ARCH_X86_64, as the SYSCALL record prints it.
ARCH_X86_64 = "c000003e"
#: -EACCES, the exit value of a syscall SELinux denied.
EACCES = -13


@dataclass(frozen=True, slots=True)
class Process:
    """The process that made the access."""

    pid: int
    comm: str
    exe: str
    context: str
    argv: tuple[str, ...]
    cwd: str = "/"
    ppid: int = 1


@dataclass(frozen=True, slots=True)
class AvcLine:
    """One denied check, as the AVC record states it."""

    perms: tuple[str, ...]
    tcontext: str
    tclass: str
    permissive: bool
    name: str | None = None
    path_dev: str | None = None
    ino: int | None = None
    port: int | None = None
    capability: int | None = None


def _quote(value: str) -> str:
    """The kernel's audit_log_untrustedstring: quoted when plain, hex otherwise."""
    if all(0x21 <= ord(c) < 0x7F and c != '"' for c in value):
        return f'"{value}"'
    return value.encode("utf-8", "surrogateescape").hex().upper()


def stable_ino(path: str) -> int:
    """A deterministic inode number for a lab path."""
    return 100000 + zlib.crc32(path.encode()) % 900000


def header(kind: str, when: float, serial: int) -> str:
    return f"type={kind} msg=audit({when:.3f}:{serial}): "


def avc_record(when: float, serial: int, proc: Process, avc: AvcLine) -> str:
    """``type=AVC ... avc:  denied  { perms } for  pid= comm= ... permissive=N``."""
    parts = [f"avc:  denied  {{ {' '.join(avc.perms)} }} for  pid={proc.pid} comm={_quote(proc.comm)}"]
    if avc.capability is not None:
        parts.append(f"capability={avc.capability} ")
    if avc.port is not None:
        parts.append(f"src={avc.port}")
    if avc.name is not None:
        parts.append(f"name={_quote(avc.name)}")
        if avc.path_dev is not None:
            parts.append(f"dev={_quote(avc.path_dev)}")
        if avc.ino is not None:
            parts.append(f"ino={avc.ino}")
    parts.append(f"scontext={proc.context} tcontext={avc.tcontext} tclass={avc.tclass}")
    parts.append(f"permissive={1 if avc.permissive else 0}")
    return header("AVC", when, serial) + " ".join(parts)


#: The args the SYSCALL record shows when the caller gives none (an openat creating a file).
DEFAULT_ARGS = (0xFFFFFF9C, 0x7FFD5E1C2A10, 0x80241, 0x1B6)


def syscall_record(
    when: float, serial: int, proc: Process, nr: int, success: bool, exit_value: int, items: int,
    args: tuple[int, int, int, int] = DEFAULT_ARGS,
) -> str:
    """``type=SYSCALL`` with the process identity (root daemon started by init); ``args``
    are a0..a3, printed in hex as the kernel does."""
    a0, a1, a2, a3 = (f"{a:x}" for a in args)
    return header("SYSCALL", when, serial) + (
        f"arch={ARCH_X86_64} syscall={nr} success={'yes' if success else 'no'} exit={exit_value} "
        f"a0={a0} a1={a1} a2={a2} a3={a3} items={items} ppid={proc.ppid} pid={proc.pid} "
        "auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) "
        f"ses=4294967295 comm={_quote(proc.comm)} exe={_quote(proc.exe)} subj={proc.context} key=(null)"
    )


def sockaddr_record(when: float, serial: int, address: str, port: int) -> str:
    """``type=SOCKADDR`` of an IPv4 ``sockaddr_in`` (family little-endian, port big-endian)."""
    raw = (2).to_bytes(2, "little") + port.to_bytes(2, "big") + bytes(int(b) for b in address.split(".")) + bytes(8)
    return header("SOCKADDR", when, serial) + f"saddr={raw.hex().upper()}"


def cwd_record(when: float, serial: int, cwd: str) -> str:
    return header("CWD", when, serial) + f"cwd={_quote(cwd)}"


def path_record(when: float, serial: int, item: int, path: str, obj: str, is_dir: bool) -> str:
    mode = "040755" if is_dir else "0100644"
    return header("PATH", when, serial) + (
        f"item={item} name={_quote(path)} inode={stable_ino(path)} dev=00:19 mode={mode} ouid=0 ogid=0 "
        f"rdev=00:00 obj={obj} nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
    )


def proctitle_record(when: float, serial: int, argv: tuple[str, ...]) -> str:
    raw = "\0".join(argv).encode("utf-8", "surrogateescape")[:128]
    return header("PROCTITLE", when, serial) + f"proctitle={raw.hex().upper()}"


def service_record(when: float, serial: int, kind: str, unit: str, ok: bool) -> str:
    """``SERVICE_START`` / ``SERVICE_STOP`` from systemd (context for a human reading the log)."""
    return header(kind, when, serial) + (
        "pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:init_t:s0 "
        f"msg='unit={unit} comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? "
        f"terminal=? res={'success' if ok else 'failed'}'"
    )
