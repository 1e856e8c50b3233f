"""The real AuditTrail: the audit log read from a checkpoint, until it is quiet.

How a new denial is seen, reliably and promptly:

1. **Checkpoint** before the restart: ``/var/log/audit/audit.log``'s inode and
   size (:mod:`avcfix.system.auditlog`). Reading resumes there, follows a
   rotation (the rest of ``audit.log.N`` with that inode, then the new file)
   and only ever returns whole lines.
2. **Settle**: the service runs for ``--settle`` seconds or until it exits
   (:mod:`avcfix.system.systemd`). A denial is logged in the failing syscall,
   so by then the kernel has queued every record of the run.
3. **Read until quiet**: the log is read from the checkpoint, then re-read
   every :data:`POLL` seconds until nothing new has arrived for
   :data:`QUIET` seconds (at most :data:`MAX_WAIT`). That covers the short
   way from the kernel's queue through auditd to the file.

auditd writes records as they arrive: it opens ``audit.log`` line-buffered
(``setlinebuf`` in auditd-event.c), so each record is one ``write(2)``.
Debian's default ``flush = INCREMENTAL_ASYNC`` with ``freq = 50`` only spaces
the fsyncs (durability on a crash), not the writes: records are readable at
once, and no ``freq = 1`` is needed. In the e2e VM (software emulation) the
first denial of a failed start is in the file at the first look, 1 s after the
service is seen failed.

Nothing here talks to the kernel's audit netlink socket: reading the
multicast feed needs ``CAP_AUDIT_READ``, which the reference policy does not
grant ``unconfined_t``, so it was always refused and logged a denial of
avcfix's own. ``auditctl -s`` is read before and after: a growing ``lost``
counter or a backlog near its limit gives a warning that denials may be
missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avcfix.audit.api import ScanStats
from avcfix.looptypes.interfaces import TrailRead
from avcfix.looptypes.preflight import AuditStatus
from avcfix.system import auditctl, auditlog

#: Re-read the log this often while waiting for it to be quiet (seconds).
POLL = 0.2
#: The log counts as quiet once nothing new arrived for this long.
QUIET = 1.0
#: ... and reading never waits longer than this in all.
MAX_WAIT = 10.0


@dataclass(frozen=True, slots=True)
class TrailMark:
    log: auditlog.LogCheckpoint
    status: AuditStatus | None


def read_until_quiet(mark: auditlog.LogCheckpoint, *, quiet: float = QUIET, poll: float = POLL,
                     max_wait: float = MAX_WAIT, clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> tuple[bytes, tuple[str, ...]]:
    """Every whole line logged after MARK, re-reading until no new line came for QUIET seconds."""
    chunks: list[bytes] = []
    notes: list[str] = []
    start = last_new = clock()
    while True:
        new = auditlog.read_new(mark)
        notes += [n for n in new.notes if n not in notes]
        mark = new.checkpoint
        now = clock()
        if new.data:
            chunks.append(new.data)
            last_new = now
        if now - last_new >= quiet or now - start >= max_wait:
            return b"".join(chunks), tuple(notes)
        sleep(poll)


class SystemTrail:
    """AuditTrail over the live system's audit log file."""

    def __init__(self, log: Path, *, record: Callable[..., None] | None = None,
                 quiet: float = QUIET, max_wait: float = MAX_WAIT) -> None:
        self.log = Path(log)
        self.record = record
        self.quiet = quiet
        self.max_wait = max_wait

    def checkpoint(self) -> object:
        return TrailMark(auditlog.checkpoint(self.log), auditctl.read_status(self.record))

    def read_since(self, mark: object) -> TrailRead:
        assert isinstance(mark, TrailMark)
        data, notes = read_until_quiet(mark.log, quiet=self.quiet, max_wait=self.max_wait)
        stats = ScanStats()
        denials = auditlog.denials_in(data, str(self.log), stats)
        warnings = list(notes)
        warnings += auditctl.status_warnings(mark.status, auditctl.read_status(self.record))
        if stats.skipped_lines:
            warnings.append(f"{stats.skipped_lines} line(s) of {self.log} could not be read")
        return TrailRead(tuple(denials), stats.skipped_lines, tuple(warnings))
