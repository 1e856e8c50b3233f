"""The real host, as the loop's preflight reads it (:class:`avcfix.looptypes.preflight.HostFacts`).

Everything here only reads: libselinux (``is_selinux_enabled``,
``security_getenforce``), ``/proc/1/comm``, ``/run/systemd/system``,
``systemctl show``, ``auditctl -s``, ``/etc/audit/auditd.conf``, ``stat``,
``statvfs`` and ``access(2)``. The live policy store is not probed with
``access(2)``: semodule writes it in its own domain (``semanage_t``), and an
``access`` check from a confined admin domain could be denied, and logged,
where semodule would work; root's write permission there is a matter of the
file system being writable (``statvfs``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from avcfix import proc
from avcfix.looptypes.preflight import AUDITD_CONF, AuditStatus, Privileges, UnitState
from avcfix.system import auditctl
from avcfix.system.systemd import parse_show
from avcfix.toolchain.store import PolicyRoot

#: Bit of CAP_MAC_ADMIN in /proc/self/status's CapEff.
CAP_MAC_ADMIN = 33


def _read_text(path: Path) -> str | None:
    """The file's text, stripped; None when it is unreadable or empty."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def parse_auditd_conf(text: str) -> dict[str, str]:
    """``key = value`` lines (comments and blank lines skipped), keys lower-case."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def parse_cap_eff(status_text: str) -> int | None:
    """The effective capability mask of a ``/proc/PID/status`` text."""
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            try:
                return int(line.split(":", 1)[1].strip(), 16)
            except ValueError:
                return None
    return None


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


class RealHost:
    """The machine avcfix runs on (read only)."""

    def __init__(self, *, record: Callable[[proc.Result], None] | None = None, proc_dir: Path = Path("/proc"),
                 run_dir: Path = Path("/run"), auditd_conf: Path = AUDITD_CONF) -> None:
        self.record = record
        self.proc_dir = proc_dir
        self.run_dir = run_dir
        self.auditd_conf = auditd_conf

    def selinux_mode(self) -> str:
        try:
            import selinux
        except ImportError:  # no Python bindings: the kernel's own file tells
            value = _read_text(Path("/sys/fs/selinux/enforce"))
            return {"1": "enforcing", "0": "permissive"}.get(value or "", "disabled")
        try:
            if selinux.is_selinux_enabled() != 1:
                return "disabled"
            return "enforcing" if selinux.security_getenforce() == 1 else "permissive"
        except OSError:
            return "disabled"

    def init_name(self) -> str | None:
        return _read_text(self.proc_dir / "1" / "comm")

    def systemd_booted(self) -> bool:
        return (self.run_dir / "systemd" / "system").is_dir()

    def unit_state(self, unit: str) -> UnitState:
        r = proc.run(["systemctl", "show", "-p", "Id", "-p", "LoadState", "--", unit], timeout=30,
                     record=self.record)
        if not r.ok:
            lines = (r.stderr or r.stdout).strip().splitlines()
            return UnitState(None, error=lines[0] if lines else f"systemctl exited {r.returncode}")
        props = parse_show(r.stdout)
        return UnitState(props.get("LoadState") or None, props.get("Id", ""),
                         "" if props.get("LoadState") else "systemctl show gave no LoadState")

    def audit_status(self) -> AuditStatus | None:
        return auditctl.read_status(self.record)

    def auditd_config(self) -> dict[str, str] | None:
        try:
            return parse_auditd_conf(self.auditd_conf.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return None

    def same_file(self, a: Path, b: Path) -> bool:
        try:
            return os.path.samefile(a, b)
        except OSError:
            return os.path.abspath(a) == os.path.abspath(b)

    def log_problem(self, path: Path) -> str | None:
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # never open a FIFO or a device
                return "not a regular file"
            with open(path, "rb") as fh:
                fh.read(1)
        except FileNotFoundError:
            return "does not exist (is auditd installed and running?)"
        except PermissionError:
            return "permission denied (the audit log is root's: run with sudo)"
        except OSError as exc:
            return exc.strerror or str(exc)
        return None

    def privileges(self) -> Privileges:
        text = _read_text(self.proc_dir / "self" / "status") or ""
        caps = parse_cap_eff(text)
        return Privileges(os.geteuid(), bool(caps is not None and caps >> CAP_MAC_ADMIN & 1))

    def store_problem(self, root: PolicyRoot) -> str | None:
        store = root.store_dir
        if not store.is_dir():
            return "no policy store there (is the policy package installed?)" if not store.exists() \
                else "not a directory"
        if _read_only_fs(store):
            return "on a read-only file system"
        if root.root == Path("/") and os.geteuid() == 0:
            return None  # see the module doc: no access(2) probe of the live store
        if not os.access(store, os.W_OK | os.X_OK):
            return "not writable by this user"
        return None

    def dir_problem(self, path: Path) -> str | None:
        path = Path(os.path.abspath(path))
        existing = path
        while not existing.exists():
            if existing.is_symlink():
                return f"{existing} is a dangling symbolic link"
            existing = existing.parent
        if not existing.is_dir():
            return f"{existing} is not a directory"
        if os.access(existing, os.W_OK | os.X_OK):
            return None
        if _read_only_fs(existing):
            return f"{existing} is on a read-only file system"
        return f"{existing} is not writable by this user (or immutable)"
