"""ServiceControl through systemctl: restart a unit, let it settle, read its state and domain."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

from avcfix import proc
from avcfix.errors import UsageError
from avcfix.loop.interfaces import ServiceRun

#: systemd unit names: letters, digits, ``:_.@-\`` (never starting with ``-``).
_UNIT_RE = re.compile(r"[A-Za-z0-9:_.@\\][A-Za-z0-9:_.@\\-]{0,254}\Z")
_EXEC_PATH_RE = re.compile(r"path=(\S+)")

#: How long ``systemctl restart`` may take before it counts as failed.
RESTART_TIMEOUT = 120.0


def check_unit_name(name: str) -> str:
    """A valid unit name (no option injection); :class:`UsageError` otherwise."""
    if not _UNIT_RE.match(name):
        raise UsageError(f"{name!r} is not a systemd unit name")
    return name


def parse_show(text: str) -> dict[str, str]:
    """``systemctl show -p A -p B`` output (``KEY=VALUE`` lines) as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def healthy(props: dict[str, str]) -> bool:
    """Running, or a oneshot that finished successfully."""
    state = props.get("ActiveState", "")
    if state in ("active", "reloading"):
        return True
    return state == "inactive" and props.get("Result") == "success" and props.get("Type") == "oneshot"


def context_type(text: str) -> str | None:
    """The type of a ``/proc/PID/attr/current`` context (``u:r:t:s0``)."""
    parts = text.strip("\x00\n ").split(":")
    return parts[2] if len(parts) >= 3 and parts[2] else None


class SystemdService:
    """A systemd unit. ``restart`` waits up to ``settle`` seconds, returning early when it dies."""

    def __init__(self, name: str, *, record: Callable[[proc.Result], None] | None = None,
                 poll: float = 0.25, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, proc_dir: Path = Path("/proc")) -> None:
        self.name = check_unit_name(name)
        self.record = record
        self.poll = poll
        self.sleep = sleep
        self.clock = clock
        self.proc_dir = proc_dir

    def _show(self) -> dict[str, str]:
        r = proc.run(["systemctl", "show", "-p", "ActiveState", "-p", "SubState", "-p", "Result",
                      "-p", "MainPID", "-p", "Type", "-p", "ExecMainStatus", "--", self.name],
                     timeout=30, record=self.record)
        return parse_show(r.stdout) if r.ok else {}

    def restart(self, settle: float) -> ServiceRun:
        r = proc.run(["systemctl", "restart", "--", self.name], timeout=RESTART_TIMEOUT, record=self.record)
        detail = r.stderr.strip().splitlines()[0] if (not r.ok and r.stderr.strip()) else ""
        domains = self.domains()
        end = self.clock() + max(0.0, settle)
        props = self._show()
        while self.clock() < end and props.get("ActiveState") not in ("failed", "inactive"):
            self.sleep(min(self.poll, max(0.0, end - self.clock())))
            domains = domains or self.domains()
            props = self._show()
        state = props.get("ActiveState", "unknown")
        if props.get("SubState") and props.get("SubState") != state:
            state = f"{state} ({props['SubState']})"
        if props.get("ExecMainStatus") not in (None, "", "0"):
            detail = detail or f"main process exited with status {props['ExecMainStatus']}"
        return ServiceRun(healthy(props), state, detail, domains)

    def domains(self) -> tuple[str, ...]:
        """The main process's domain while it runs (``/proc/PID/attr/current``)."""
        props = self._show()
        pid = props.get("MainPID", "0")
        if not pid.isdigit() or pid == "0":
            return ()
        try:
            text = (self.proc_dir / pid / "attr" / "current").read_text(errors="replace")
        except OSError:
            return ()
        t = context_type(text)
        return (t,) if t and t not in ("kernel", "unconfined_t", "init_t") else ()

    def executables(self) -> tuple[str, ...]:
        """The unit's ExecStart binaries (to find its domain from denials' ``exe=``)."""
        r = proc.run(["systemctl", "show", "-p", "ExecStart", "--value", "--", self.name], timeout=30,
                     record=self.record)
        return tuple(sorted(set(_EXEC_PATH_RE.findall(r.stdout)))) if r.ok else ()
