"""auditd's kernel counters (``auditctl -s``): warn when denials may have been dropped.

The kernel drops audit records when its backlog queue is full or the rate
limit is hit, and counts them in ``lost``. A loop that reads the log can only
trust "no new denial" if ``lost`` did not grow meanwhile; a backlog close to
its limit is a warning sign too.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from avcfix import proc
from avcfix.looptypes.preflight import AuditStatus

_PAIR_RE = re.compile(r"\b([a-z_]+)[= ](-?\d+)\b")

#: Warn when the backlog is at least this fraction of backlog_limit.
BACKLOG_WARN = 0.8


def parse_status(text: str) -> AuditStatus:
    """Parse ``auditctl -s`` output (``key value`` lines; older versions: ``key=value`` on one line)."""
    values = {key: int(value) for key, value in _PAIR_RE.findall(text)}
    return AuditStatus(
        enabled=values.get("enabled"),
        lost=values.get("lost"),
        backlog=values.get("backlog"),
        backlog_limit=values.get("backlog_limit"),
        rate_limit=values.get("rate_limit"),
        pid=values.get("pid"),
    )


def read_status(record: Callable[[proc.Result], None] | None = None) -> AuditStatus | None:
    """Run ``auditctl -s``; ``None`` when it cannot run (not root, no auditd tools)."""
    r = proc.run(["auditctl", "-s"], timeout=10, record=record)
    if not r.ok:
        return None
    return parse_status(r.stdout)


def status_warnings(before: AuditStatus | None, after: AuditStatus | None) -> tuple[str, ...]:
    """Warnings comparing two readings taken around a service run."""
    out: list[str] = []
    if after is None:
        return ()
    if after.enabled == 0:
        out.append("auditing is disabled in the kernel (auditctl -s: enabled 0): no denial can be logged")
    if before is not None and before.lost is not None and after.lost is not None and after.lost > before.lost:
        out.append(f"the kernel lost {after.lost - before.lost} audit record(s) during this run "
                   "(auditctl -s: lost): denials may be missing; raise the backlog (auditctl -b) and rerun")
    if after.backlog is not None and after.backlog_limit:
        if after.backlog >= BACKLOG_WARN * after.backlog_limit:
            out.append(f"audit backlog {after.backlog} is close to its limit {after.backlog_limit}: "
                       "records may be dropped")
    return tuple(out)
