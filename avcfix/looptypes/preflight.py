"""Preflight of a real ``avcfix loop``: can this host run it at all?

A real loop restarts a service, waits for its denials in the audit log and
installs a module. On a host where one of these cannot work (SELinux
disabled, no systemd, an unknown unit, auditing off, an unreadable log, no
right to install) it would restart the service for nothing and end with a
misleading "not converged". So before changing anything the loop checks:

======================  ====================================================
check                   passes when
======================  ====================================================
``selinux``             SELinux is enabled, enforcing or permissive
``systemd``             systemd is the init system (``/run/systemd/system``)
``unit``                ``systemctl show`` knows the unit (``LoadState=loaded``)
``audit``               the kernel audits (``auditctl -s``: ``enabled`` 1 or 2)
``auditd``              an audit daemon receives the records (``auditctl -s``: ``pid`` > 0)
``audit_log``           the log is readable and is the one auditd writes
                        (``log_file``, ``write_logs`` in ``auditd.conf``)
``rights``              root or ``CAP_MAC_ADMIN`` (the live policy); none for a private ``--root``
``policy_store``        the root's module store exists and is writable
``out_dir``             the module's directory is writable, or can be created
======================  ====================================================

Every check runs (one failure does not hide the others); any failure stops
the loop with exit 13 (``preflight_failed``), nothing changed. The host is
read through :class:`HostFacts`: :class:`avcfix.system.hostfacts.RealHost`
reads the real one, tests give a fake with the same interface for what
cannot be produced on the test machine. The lab skips this: its kernel is
simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from avcfix.looptypes.model import PreflightCheck
from avcfix.toolchain.store import PolicyRoot

#: Where auditd writes unless ``auditd.conf`` says otherwise.
AUDITD_DEFAULT_LOG = Path("/var/log/audit/audit.log")
#: auditd's configuration.
AUDITD_CONF = Path("/etc/audit/auditd.conf")
#: What to run where the host cannot run a real loop.
LAB_HINT = "to try the loop anyway, on a simulated kernel: avcfix loop --lab eucanetd"


@dataclass(frozen=True, slots=True)
class AuditStatus:
    """The counters ``auditctl -s`` prints (None when missing)."""

    enabled: int | None
    lost: int | None
    backlog: int | None
    backlog_limit: int | None
    rate_limit: int | None
    #: The audit daemon registered with the kernel (0: none; records go to the kernel log).
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class Privileges:
    """Who avcfix runs as."""

    euid: int
    cap_mac_admin: bool


@dataclass(frozen=True, slots=True)
class UnitState:
    """``systemctl show -p Id -p LoadState UNIT``: None when systemctl could not answer."""

    load_state: str | None
    unit_id: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class PreflightRequest:
    """What the loop is about to do."""

    service: str
    root: PolicyRoot
    log: Path
    out_dir: Path


@runtime_checkable
class HostFacts(Protocol):
    """What the preflight reads from the host (real: :class:`avcfix.system.hostfacts.RealHost`)."""

    def selinux_mode(self) -> str:
        """``enforcing``, ``permissive`` or ``disabled``."""
        ...

    def init_name(self) -> str | None:
        """PID 1's command name (``/proc/1/comm``), None when unreadable."""
        ...

    def systemd_booted(self) -> bool:
        """Whether systemd is the init system (``/run/systemd/system`` is a directory, as ``sd_booted``)."""
        ...

    def unit_state(self, unit: str) -> UnitState:
        """How systemd knows ``unit``."""
        ...

    def audit_status(self) -> AuditStatus | None:
        """``auditctl -s``; None when it cannot run."""
        ...

    def auditd_config(self) -> dict[str, str] | None:
        """``auditd.conf`` as ``key: value``; None when missing or unreadable."""
        ...

    def same_file(self, a: Path, b: Path) -> bool:
        """Whether two paths name the same file (or the same path when neither exists)."""
        ...

    def log_problem(self, path: Path) -> str | None:
        """Why ``path`` cannot be read as the audit log; None when it can."""
        ...

    def privileges(self) -> Privileges:
        ...

    def store_problem(self, root: PolicyRoot) -> str | None:
        """Why ``root``'s module store cannot be written; None when it can."""
        ...

    def dir_problem(self, path: Path) -> str | None:
        """Why files cannot be written in directory ``path`` (created if missing); None when they can."""
        ...


def _check(name: str, ok: bool, detail: str) -> PreflightCheck:
    return PreflightCheck(name, ok, detail)


def check_selinux(host: HostFacts) -> PreflightCheck:
    mode = host.selinux_mode()
    if mode in ("enforcing", "permissive"):
        return _check("selinux", True, f"SELinux is {mode}")
    return _check("selinux", False, f"SELinux is {mode} on this host: no denial is ever logged; {LAB_HINT}")


def check_systemd(host: HostFacts) -> PreflightCheck:
    init = host.init_name()
    pid1 = f"PID 1 is {init!r}" if init else "PID 1 is unknown"
    if host.systemd_booted():
        return _check("systemd", True, f"systemd is the init system ({pid1})")
    return _check("systemd", False, f"systemd is not the init system ({pid1}, no /run/systemd/system): "
                                    f"the loop restarts the service with systemctl; {LAB_HINT}")


def check_unit(host: HostFacts, service: str) -> PreflightCheck:
    st = host.unit_state(service)
    name = st.unit_id or service
    if st.load_state is None:
        return _check("unit", False, f"cannot ask systemd about {service}: {st.error or 'systemctl failed'}")
    if st.load_state == "loaded":
        return _check("unit", True, f"{name} exists (LoadState=loaded)")
    if st.load_state == "not-found":
        return _check("unit", False, f"no unit {name} (systemctl show: LoadState=not-found): "
                                     "check the name with systemctl list-unit-files")
    if st.load_state == "masked":
        return _check("unit", False, f"{name} is masked: it cannot be started (systemctl unmask {name})")
    return _check("unit", False, f"{name} cannot be loaded (LoadState={st.load_state}): "
                                 f"see systemctl status {name}")


def check_audit(status: AuditStatus | None) -> PreflightCheck:
    if status is None or status.enabled is None:
        return _check("audit", False, "cannot read the kernel's audit status (auditctl -s did not run: "
                                      "install auditd, run as root)")
    if status.enabled >= 1:
        return _check("audit", True, f"the kernel audits (auditctl -s: enabled {status.enabled})")
    return _check("audit", False, "auditing is off in the kernel (auditctl -s: enabled 0): no denial is "
                                  "logged; turn it on with auditctl -e 1")


def check_auditd(status: AuditStatus | None) -> PreflightCheck:
    if status is None or status.pid is None:
        return _check("auditd", False, "cannot tell whether auditd runs (auditctl -s did not run)")
    if status.pid > 0:
        return _check("auditd", True, f"an audit daemon receives the records (auditctl -s: pid {status.pid})")
    return _check("auditd", False, "no audit daemon receives the kernel's records (auditctl -s: pid 0): "
                                   "nothing writes the audit log; start it: systemctl start auditd")


def check_audit_log(host: HostFacts, log: Path) -> PreflightCheck:
    problem = host.log_problem(log)
    if problem:
        return _check("audit_log", False, f"{log}: {problem}")
    conf = host.auditd_config()
    if conf is None:
        return _check("audit_log", True, f"{log} is readable ({AUDITD_CONF} unreadable: not compared)")
    for key, off in (("write_logs", "no"), ("log_format", "nolog")):  # NOLOG: auditd before 2.5
        if conf.get(key, "").lower() == off:
            return _check("audit_log", False, f"auditd writes no log file ({key} = {conf[key]} in "
                                              f"{AUDITD_CONF}): {log} gets no new denial")
    written = Path(conf.get("log_file") or AUDITD_DEFAULT_LOG)
    if not host.same_file(written, log):
        return _check("audit_log", False, f"auditd writes {written} (log_file in {AUDITD_CONF}), not {log}: "
                                          f"give --log {written}")
    return _check("audit_log", True, f"{log} is readable and auditd writes it")


def check_rights(host: HostFacts, root: PolicyRoot) -> PreflightCheck:
    if root.root != Path("/"):
        return _check("rights", True, f"a private policy root ({root.root}): its store's permissions "
                                      "decide (policy_store)")
    priv = host.privileges()
    if priv.euid == 0:
        return _check("rights", True, "running as root")
    if priv.cap_mac_admin:
        return _check("rights", True, f"uid {priv.euid} with CAP_MAC_ADMIN")
    return _check("rights", False, f"uid {priv.euid} without CAP_MAC_ADMIN cannot install policy modules "
                                   "or restart services: run it as root (sudo avcfix loop ...)")


def check_store(host: HostFacts, root: PolicyRoot) -> PreflightCheck:
    problem = host.store_problem(root)
    if problem:
        return _check("policy_store", False, f"{root.store_dir}: {problem}")
    return _check("policy_store", True, f"{root.store_dir} is writable")


def check_out_dir(host: HostFacts, out_dir: Path) -> PreflightCheck:
    problem = host.dir_problem(out_dir)
    if problem:
        return _check("out_dir", False, f"the module cannot be written in {out_dir}: {problem} (--out-dir)")
    return _check("out_dir", True, f"{out_dir} is writable")


def run_preflight(host: HostFacts, request: PreflightRequest) -> tuple[PreflightCheck, ...]:
    """Every check, in a fixed order (see the module doc)."""
    status = host.audit_status()
    return (
        check_selinux(host),
        check_systemd(host),
        check_unit(host, request.service),
        check_audit(status),
        check_auditd(status),
        check_audit_log(host, request.log),
        check_rights(host, request.root),
        check_store(host, request.root),
        check_out_dir(host, request.out_dir),
    )


def failure_message(checks: tuple[PreflightCheck, ...]) -> str | None:
    """The loop's message when a check failed (the first failure in full); None when all passed."""
    failed = [c for c in checks if not c.ok]
    if not failed:
        return None
    more = f" (and {len(failed) - 1} more: {', '.join(c.check for c in failed[1:])})" if len(failed) > 1 else ""
    return f"this host cannot run a real loop (nothing was changed): {failed[0].detail}{more}"
