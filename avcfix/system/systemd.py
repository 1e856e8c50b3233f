"""ServiceControl through systemctl: restart a unit, let it settle, read its state and domain."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from avcfix import proc
from avcfix.errors import UsageError
from avcfix.looptypes.interfaces import ServiceRun

#: systemd unit names: letters, digits, ``:_.@-\`` (never starting with ``-``).
_UNIT_RE = re.compile(r"[A-Za-z0-9:_.@\\][A-Za-z0-9:_.@\\-]{0,254}\Z")
_EXEC_PATH_RE = re.compile(r"path=(\S+)")
_TRANS_RE = re.compile(r"^type_transition\s+\S+\s+\S+:process\s+([A-Za-z][\w.-]*);", re.M)

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


def file_type(path: str) -> str | None:
    """The type of a file's SELinux label (``security.selinux`` xattr), or None."""
    try:
        raw = os.getxattr(path, "security.selinux")
    except (OSError, AttributeError):
        return None
    return context_type(raw.decode("utf-8", "replace"))


def domain_for_exec_type(policy: Path, exec_type: str, parent: str = "init_t",
                         record: Callable[[proc.Result], None] | None = None) -> str | None:
    """The domain ``parent`` enters by executing ``exec_type`` (``sesearch -T``), or None."""
    if not re.fullmatch(r"[A-Za-z][\w.-]*", exec_type):
        return None
    r = proc.run(["sesearch", "-T", "-s", parent, "-t", exec_type, "-c", "process", str(policy)],
                 timeout=120, record=record)
    found = sorted(set(_TRANS_RE.findall(r.stdout))) if r.ok else []
    return found[0] if len(found) == 1 else None


def context_type(text: str) -> str | None:
    """The type of a ``/proc/PID/attr/current`` context (``u:r:t:s0``)."""
    parts = text.strip("\x00\n ").split(":")
    return parts[2] if len(parts) >= 3 and parts[2] else None


class SystemdService:
    """A systemd unit. ``restart`` waits up to ``settle`` seconds, returning early when it dies."""

    def __init__(self, name: str, *, record: Callable[[proc.Result], None] | None = None,
                 poll: float = 0.25, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, proc_dir: Path = Path("/proc"),
                 policy: Path | None = None) -> None:
        self.name = check_unit_name(name)
        self.policy = policy
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
        """The service's domain: the main process's context while it runs
        (``/proc/PID/attr/current``), else the domain init enters by executing
        the unit's ExecStart binary (its file label + the policy's type_transition)."""
        props = self._show()
        pid = props.get("MainPID", "0")
        if pid.isdigit() and pid != "0":
            try:
                t = context_type((self.proc_dir / pid / "attr" / "current").read_text(errors="replace"))
            except OSError:
                t = None
            if t and t not in ("kernel", "unconfined_t", "init_t"):
                return (t,)
        if self.policy is None:
            return ()
        found = set()
        for exe in self.executables():
            exec_type = file_type(exe)
            domain = domain_for_exec_type(self.policy, exec_type, record=self.record) if exec_type else None
            if domain:
                found.add(domain)
        return tuple(sorted(found))

    def executables(self) -> tuple[str, ...]:
        """The unit's ExecStart binaries (to find its domain from denials' ``exe=``)."""
        r = proc.run(["systemctl", "show", "-p", "ExecStart", "--value", "--", self.name], timeout=30,
                     record=self.record)
        if not r.ok:
            return ()
        paths = set(_EXEC_PATH_RE.findall(r.stdout))
        return tuple(sorted(paths | {os.path.realpath(p) for p in paths}))
