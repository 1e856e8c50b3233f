"""The preflight of ``avcfix loop`` on a host that cannot be produced here (SELinux
enforcing, a unit that exists, auditd running): :class:`FakeHost`, which has
exactly :class:`RealHost`'s interface (checked), each fault failing its own check.

The real checks on this machine, and the CLI's exit 13 with its JSON document:
tests/integration/test_preflight_tools.py.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path

import pytest
from preflight_helpers import CHECKS, LOG, _request

from avcfix.looptypes.model import PreflightCheck
from avcfix.looptypes.preflight import (
    AuditStatus,
    HostFacts,
    Privileges,
    UnitState,
    failure_message,
    run_preflight,
)
from avcfix.system.hostfacts import RealHost
from avcfix.toolchain.store import PolicyRoot

# ------------------------------------------------------------------ a host where everything is right


@dataclasses.dataclass
class FakeHost:
    """Host facts for what this machine cannot be (the same interface as RealHost: tested)."""

    mode: str = "enforcing"
    init: str | None = "systemd"
    booted: bool = True
    units: dict[str, UnitState] = dataclasses.field(
        default_factory=lambda: {"eucanetd": UnitState("loaded", "eucanetd.service")})
    status: AuditStatus | None = AuditStatus(1, 0, 0, 8192, 0, pid=612)
    conf: dict[str, str] | None = dataclasses.field(
        default_factory=lambda: {"log_file": "/var/log/audit/audit.log", "write_logs": "yes"})
    readable: dict[str, str | None] = dataclasses.field(default_factory=dict)
    priv: Privileges = Privileges(0, True)
    store: str | None = None
    out: str | None = None

    def selinux_mode(self) -> str:
        return self.mode

    def init_name(self) -> str | None:
        return self.init

    def systemd_booted(self) -> bool:
        return self.booted

    def unit_state(self, unit: str) -> UnitState:
        return self.units.get(unit, UnitState("not-found", f"{unit}.service"))

    def audit_status(self) -> AuditStatus | None:
        return self.status

    def auditd_config(self) -> dict[str, str] | None:
        return self.conf

    def same_file(self, a: Path, b: Path) -> bool:
        return os.path.abspath(a) == os.path.abspath(b)

    def log_problem(self, path: Path) -> str | None:
        return self.readable.get(str(path))

    def privileges(self) -> Privileges:
        return self.priv

    def store_problem(self, root: PolicyRoot) -> str | None:
        return self.store

    def dir_problem(self, path: Path) -> str | None:
        return self.out


def test_the_fake_host_has_the_real_hosts_interface() -> None:
    names = [n for n, _ in inspect.getmembers(HostFacts, inspect.isfunction) if not n.startswith("_")]
    assert len(names) == 11
    for name in names:
        assert inspect.signature(getattr(FakeHost, name)) == inspect.signature(getattr(RealHost, name)), name
    assert isinstance(RealHost(), HostFacts) and isinstance(FakeHost(), HostFacts)


def test_a_host_that_can_run_the_loop_passes_every_check() -> None:
    checks = run_preflight(FakeHost(), _request())
    assert [c.check for c in checks] == CHECKS
    assert all(c.ok for c in checks), checks
    assert failure_message(checks) is None
    assert checks[0].detail == "SELinux is enforcing"
    assert checks[2].detail == "eucanetd.service exists (LoadState=loaded)"
    assert checks[4].detail == "an audit daemon receives the records (auditctl -s: pid 612)"


@pytest.mark.parametrize("host, ok", [
    (FakeHost(mode="permissive"), "SELinux is permissive"),
    (FakeHost(priv=Privileges(1000, True)), "uid 1000 with CAP_MAC_ADMIN"),
    (FakeHost(status=AuditStatus(2, 0, 0, 8192, 0, pid=1)), "the kernel audits (auditctl -s: enabled 2)"),
    (FakeHost(conf=None), f"{LOG} is readable (/etc/audit/auditd.conf unreadable: not compared)"),
])
def test_also_fine(host: FakeHost, ok: str) -> None:
    checks = run_preflight(host, _request())
    assert all(c.ok for c in checks) and ok in [c.detail for c in checks]


def test_a_private_root_needs_no_privilege_but_its_store() -> None:
    host = FakeHost(priv=Privileges(1000, False))
    root = PolicyRoot(Path("/srv/root"))
    checks = {c.check: c for c in run_preflight(host, _request(root=root))}
    assert checks["rights"].ok
    host.store = "not writable by this user"
    checks = {c.check: c for c in run_preflight(host, _request(root=root))}
    assert not checks["policy_store"].ok
    assert checks["policy_store"].detail == "/srv/root/var/lib/selinux/default: not writable by this user"
    assert not {c.check: c for c in run_preflight(host, _request())}["rights"].ok  # the live policy: yes


@pytest.mark.parametrize("fault, check, detail", [
    (dict(mode="disabled"), "selinux",
     "SELinux is disabled on this host: no denial is ever logged; to try the loop anyway, on a simulated "
     "kernel: avcfix loop --lab eucanetd"),
    (dict(booted=False, init="bash"), "systemd",
     "systemd is not the init system (PID 1 is 'bash', no /run/systemd/system): the loop restarts the "
     "service with systemctl; to try the loop anyway, on a simulated kernel: avcfix loop --lab eucanetd"),
    (dict(units={}), "unit", "no unit eucanetd.service (systemctl show: LoadState=not-found): check the "
     "name with systemctl list-unit-files"),
    (dict(units={"eucanetd": UnitState("masked", "eucanetd.service")}), "unit",
     "eucanetd.service is masked: it cannot be started (systemctl unmask eucanetd.service)"),
    (dict(units={"eucanetd": UnitState(None, error="Failed to connect to bus")}), "unit",
     "cannot ask systemd about eucanetd: Failed to connect to bus"),
    (dict(status=AuditStatus(0, 0, 0, 64, 0, pid=612)), "audit",
     "auditing is off in the kernel (auditctl -s: enabled 0): no denial is logged; turn it on with auditctl -e 1"),
    (dict(status=AuditStatus(1, 0, 0, 64, 0, pid=0)), "auditd",
     "no audit daemon receives the kernel's records (auditctl -s: pid 0): nothing writes the audit log; "
     "start it: systemctl start auditd"),
    (dict(readable={str(LOG): "permission denied"}), "audit_log", f"{LOG}: permission denied"),
    (dict(conf={"write_logs": "no"}), "audit_log",
     f"auditd writes no log file (write_logs = no in /etc/audit/auditd.conf): {LOG} gets no new denial"),
    (dict(conf={"log_format": "NOLOG"}), "audit_log",
     f"auditd writes no log file (log_format = NOLOG in /etc/audit/auditd.conf): {LOG} gets no new denial"),
    (dict(conf={"log_file": "/srv/audit/audit.log"}), "audit_log",
     f"auditd writes /srv/audit/audit.log (log_file in /etc/audit/auditd.conf), not {LOG}: "
     "give --log /srv/audit/audit.log"),
    (dict(priv=Privileges(1000, False)), "rights",
     "uid 1000 without CAP_MAC_ADMIN cannot install policy modules or restart services: run it as root "
     "(sudo avcfix loop ...)"),
    (dict(store="on a read-only file system"), "policy_store",
     "/var/lib/selinux/default: on a read-only file system"),
    (dict(out="/srv is on a read-only file system"), "out_dir",
     "the module cannot be written in .: /srv is on a read-only file system (--out-dir)"),
])
def test_each_fault_fails_its_own_check_and_only_it(fault: dict, check: str, detail: str) -> None:
    checks = run_preflight(FakeHost(**fault), _request())
    failed = [c for c in checks if not c.ok]
    assert failed == [PreflightCheck(check, False, detail)]
    assert failure_message(checks) == f"this host cannot run a real loop (nothing was changed): {detail}"


def test_auditctl_unavailable_fails_both_audit_checks() -> None:
    failed = [c.check for c in run_preflight(FakeHost(status=None), _request()) if not c.ok]
    assert failed == ["audit", "auditd"]
    msg = failure_message(run_preflight(FakeHost(status=None), _request()))
    assert msg is not None and msg.endswith("(and 1 more: auditd)")
