"""The real AuditTrail: the audit log from a checkpoint, plus the kernel's live feed.

Two sources, merged, so that a denial is never missed:

1. ``/var/log/audit/audit.log`` read from a checkpoint (inode + offset,
   following rotation; :mod:`avcfix.system.auditlog`). This is the record of
   truth, but auditd's default configuration (``flush = INCREMENTAL_ASYNC``,
   ``freq = 50``) writes records in batches, so the newest denials may not be
   in the file yet when the service has settled.
2. The kernel's audit multicast group (netlink ``AUDIT_NLGRP_READLOG``, Linux
   3.16+, needs CAP_AUDIT_READ, i.e. root): every record as the kernel emits it,
   independent of auditd's buffering. Subscribed at the checkpoint, drained
   after the run. When the socket cannot be opened (no permission, old
   kernel, a container), the log alone is used and a note says so.

Denials seen by both are counted once (same event id, contexts, class and
permissions). ``auditctl -s`` is read before and after: a growing ``lost``
counter or a backlog near its limit gives a warning that denials may be missing.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from avcfix.audit.api import ScanStats
from avcfix.audit.model import Denial
from avcfix.audit.records import NUMERIC_TYPES
from avcfix.loop.interfaces import TrailRead
from avcfix.system import auditctl, auditlog

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1
_NLMSG_HDR = struct.Struct("=IHHII")
#: After the run, stop draining the live feed once it has been quiet this long.
QUIET = 0.3
#: ... and never drain longer than this.
MAX_DRAIN = 3.0


def netlink_lines(buffer: bytes) -> list[str]:
    """Audit records in one netlink datagram, as ``type=NAME msg=audit(...): ...`` lines."""
    out: list[str] = []
    offset = 0
    while offset + _NLMSG_HDR.size <= len(buffer):
        length, mtype, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(buffer, offset)
        if length < _NLMSG_HDR.size or offset + length > len(buffer):
            break
        payload = buffer[offset + _NLMSG_HDR.size: offset + length].rstrip(b"\x00").decode("utf-8", "replace")
        name = NUMERIC_TYPES.get(str(mtype), str(mtype))
        if payload.startswith("audit(") and "\n" not in payload:
            out.append(f"type={name} msg={payload}")
        offset += (length + 3) & ~3
    return out


class LiveFeed:
    """A subscription to the kernel's audit multicast group (None-safe: may be unavailable)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lines: list[str] = []

    @classmethod
    def open(cls) -> "tuple[LiveFeed | None, str | None]":
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        except (OSError, AttributeError) as exc:
            return None, f"no live audit feed ({exc}); reading the log file only"
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((0, AUDIT_NLGRP_READLOG))
        except OSError as exc:
            sock.close()
            why = "needs root (CAP_AUDIT_READ)" if exc.errno in (errno.EPERM, errno.EACCES) else str(exc)
            return None, f"no live audit feed ({why}); reading the log file only"
        return cls(sock), None

    def drain(self, clock: Callable[[], float] = time.monotonic) -> list[str]:
        """Read what arrived, waiting until the feed is quiet; then close."""
        start = last = clock()
        try:
            while clock() - start < MAX_DRAIN:
                ready, _, _ = select.select([self.sock], [], [], QUIET)
                if not ready:
                    if clock() - last >= QUIET:
                        break
                    continue
                try:
                    data = self.sock.recv(1 << 16)
                except OSError:
                    break  # ENOBUFS: the auditctl lost check warns about drops
                self.lines += netlink_lines(data)
                last = clock()
        finally:
            self.sock.close()
        return self.lines


@dataclass(frozen=True, slots=True)
class TrailMark:
    log: auditlog.LogCheckpoint
    status: auditctl.AuditStatus | None
    feed: LiveFeed | None
    feed_note: str | None


AUDITD_CONF = Path("/etc/audit/auditd.conf")


def batched_writes(conf_text: str) -> int | None:
    """``freq`` when auditd.conf makes auditd write records in batches (incremental flush, freq > 1)."""
    values: dict[str, str] = {}
    for line in conf_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.strip().startswith("#"):
            values[key.strip().lower()] = value.strip().lower()
    if values.get("flush", "incremental_async") not in ("incremental", "incremental_async"):
        return None
    try:
        freq = int(values.get("freq", "50"))
    except ValueError:
        return None
    return freq if freq > 1 else None


def _key(d: Denial) -> tuple:
    return (d.node, d.time, d.serial, str(d.scontext), str(d.tcontext), d.tclass, d.perms)


def merge_denials(from_log: list[Denial], from_feed: list[Denial]) -> list[Denial]:
    """The log's denials, plus the feed's that the log does not hold (yet)."""
    seen = {_key(d) for d in from_log}
    extra = [d for d in from_feed if _key(d) not in seen]
    return sorted(from_log + extra, key=lambda d: (d.time, d.serial))


class SystemTrail:
    """AuditTrail over the live system's audit log (and the live feed when available)."""

    def __init__(self, log: Path, *, live: bool = True, auditd_conf: Path = AUDITD_CONF,
                 record: Callable[..., None] | None = None) -> None:
        self.log = Path(log)
        self.auditd_conf = Path(auditd_conf)
        self.live = live
        self.record = record
        self._noted = False

    def checkpoint(self) -> object:
        feed, note = LiveFeed.open() if self.live else (None, None)
        return TrailMark(auditlog.checkpoint(self.log), auditctl.read_status(self.record), feed, note)

    def read_since(self, mark: object) -> TrailRead:
        assert isinstance(mark, TrailMark)
        feed_lines = mark.feed.drain() if mark.feed is not None else []
        new = auditlog.read_new(mark.log)
        stats = ScanStats()
        from_log = auditlog.denials_in(new.data, str(self.log), stats)
        from_feed = auditlog.denials_in(("\n".join(feed_lines) + "\n").encode(), "audit netlink feed",
                                        ScanStats()) if feed_lines else []
        warnings = list(new.notes)
        if mark.feed_note and not self._noted:
            warnings.append(mark.feed_note)
            self._noted = True
            try:
                freq = batched_writes(self.auditd_conf.read_text(errors="replace"))
            except OSError:
                freq = None
            if freq:
                warnings.append(f"{self.auditd_conf}: auditd writes records in batches of {freq} (freq); "
                                "without the live feed the newest denials may arrive late: set freq = 1 "
                                "or a longer --settle")
        warnings += auditctl.status_warnings(mark.status, auditctl.read_status(self.record))
        if stats.skipped_lines:
            warnings.append(f"{stats.skipped_lines} line(s) of {self.log} could not be read")
        return TrailRead(tuple(merge_denials(from_log, from_feed)), stats.skipped_lines, tuple(warnings))
