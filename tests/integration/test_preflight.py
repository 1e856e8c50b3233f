"""The preflight of a real ``avcfix loop``: exit 13 and the JSON document, nothing changed.

The real checks read this machine (:class:`RealHost`), and this test finds out
independently what the machine lacks (no SELinux kernel, no systemd as PID 1,
auditing off... in the Debian container the project is developed in) and
holds the preflight to it. What cannot be produced here (SELinux enforcing, a
unit that exists, auditd running) goes through :class:`FakeHost`, which has
exactly :class:`RealHost`'s interface (checked).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from cli_helpers import avcfix_exe
from fs_helpers import read_only_mount

from avcfix.looptypes.model import PreflightCheck
from avcfix.looptypes.preflight import (
    AuditStatus,
    HostFacts,
    PreflightRequest,
    Privileges,
    UnitState,
    failure_message,
    run_preflight,
)
from avcfix.system import auditctl
from avcfix.system.hostfacts import RealHost, parse_auditd_conf, parse_cap_eff
from avcfix.toolchain.store import PolicyRoot

PROJECT = Path(__file__).resolve().parents[2]
LOG = Path("/var/log/audit/audit.log")
#: A unit no host has: the "unit" check fails everywhere, so the CLI tests stop at the preflight.
NO_UNIT = "avcfix-test-no-such-unit"
CHECKS = ["selinux", "systemd", "unit", "audit", "auditd", "audit_log", "rights", "policy_store", "out_dir"]


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


def _request(**kw) -> PreflightRequest:
    base = dict(service="eucanetd", root=PolicyRoot(Path("/")), log=LOG, out_dir=Path("."))
    return PreflightRequest(**{**base, **kw})


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


# ------------------------------------------------------------------ this machine, for real


def _independent_facts() -> dict[str, bool]:
    """What this machine lacks, found without avcfix's code."""
    facts = {
        "selinux": Path("/sys/fs/selinux/enforce").is_file(),
        "systemd": Path("/run/systemd/system").is_dir(),
        "unit": False,  # NO_UNIT exists nowhere
    }
    try:
        cp = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, timeout=10, check=False)
        out = cp.stdout if cp.returncode == 0 else ""
    except FileNotFoundError:
        out = ""
    enabled = re.search(r"\benabled[ =](\d+)", out)
    pid = re.search(r"\bpid[ =](\d+)", out)
    facts["audit"] = bool(enabled and int(enabled.group(1)) >= 1)
    facts["auditd"] = bool(pid and int(pid.group(1)) > 0)
    status = Path("/proc/self/status").read_text()
    cap_eff = int(re.search(r"CapEff:\s*([0-9a-f]+)", status).group(1), 16)  # type: ignore[union-attr]
    facts["rights"] = os.geteuid() == 0 or bool(cap_eff >> 33 & 1)
    return facts


def test_the_real_preflight_finds_what_this_host_really_lacks(tmp_path: Path) -> None:
    expected = _independent_facts()
    checks = {c.check: c for c in run_preflight(RealHost(), _request(service=NO_UNIT, out_dir=tmp_path / "m"))}
    assert list(checks) == CHECKS
    for name, ok in expected.items():
        assert checks[name].ok is ok, (name, checks[name])
    if not os.access(LOG, os.R_OK):
        assert not checks["audit_log"].ok
    assert checks["out_dir"].ok  # tmp_path is writable
    if not expected["systemd"]:
        assert checks["unit"].detail.startswith(f"cannot ask systemd about {NO_UNIT}: ")
    else:
        assert "LoadState=not-found" in checks["unit"].detail


def _loop(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([avcfix_exe(), "loop", "--service", NO_UNIT, *args], capture_output=True, text=True,
                          cwd=PROJECT, timeout=300, check=False)


def test_cli_stops_with_exit_13_and_the_json_document_and_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "module"
    cp = _loop("--yes", "--json", "--out-dir", str(out), "--settle", "30")
    assert cp.returncode == 13, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "preflight_failed" and doc["exit_code"] == 13
    assert doc["iterations"] == [] and doc["lab"] is False
    assert [c["check"] for c in doc["preflight"]] == CHECKS
    expected = run_preflight(RealHost(), _request(service=NO_UNIT, out_dir=out))
    assert doc["preflight"] == [c.to_json() for c in expected]
    first = next(c for c in expected if not c.ok)
    assert doc["message"].startswith(f"this host cannot run a real loop (nothing was changed): {first.detail}")
    assert not out.exists()  # nothing written; no iteration ran (the settle time would be 30 s)


def test_cli_human_summary_lists_every_check() -> None:
    cp = _loop("--yes")
    assert cp.returncode == 13
    assert cp.stdout.startswith("preflight failed: this host cannot run a real loop")
    for name in CHECKS:
        assert re.search(rf"^\s+(ok|FAILED)\s+{name}: ", cp.stdout, re.M), name
    assert re.search(rf"FAILED\s+unit: .*{NO_UNIT}", cp.stdout)


def test_cli_with_root_checks_that_roots_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty-root"
    empty.mkdir()
    doc = json.loads(_loop("--json", "--root", str(empty)).stdout)
    store = {c["check"]: c for c in doc["preflight"]}["policy_store"]
    assert store == {"check": "policy_store", "ok": False,
                     "detail": f"{empty}/var/lib/selinux/default: no policy store there (is the policy "
                               "package installed?)"}

    root = tmp_path / "root"
    (root / "var" / "lib" / "selinux" / "default").mkdir(parents=True)
    doc = json.loads(_loop("--json", "--root", str(root)).stdout)
    checks = {c["check"]: c for c in doc["preflight"]}
    assert checks["policy_store"]["ok"] and checks["rights"]["ok"]
    with read_only_mount(root):
        doc = json.loads(_loop("--json", "--root", str(root)).stdout)
    assert {c["check"]: c for c in doc["preflight"]}["policy_store"] == {
        "check": "policy_store", "ok": False,
        "detail": f"{root}/var/lib/selinux/default: on a read-only file system"}


# ------------------------------------------------------------------ RealHost's pieces


def test_real_host_pieces(tmp_path: Path) -> None:
    host = RealHost()
    conf = parse_auditd_conf("# c\nlog_file = /var/log/audit/audit.log\n\nwrite_logs = yes\nFlush=INCREMENTAL\n")
    assert conf == {"log_file": "/var/log/audit/audit.log", "write_logs": "yes", "flush": "INCREMENTAL"}
    assert parse_cap_eff("Name:\tx\nCapEff:\t000001fffeffffff\n") == 0x1fffeffffff
    assert auditctl.parse_status("enabled 1\npid 612\n").pid == 612
    # a FIFO is refused without being opened (opening it would block)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert host.log_problem(fifo) == "not a regular file"
    assert host.log_problem(tmp_path / "none") == "does not exist (is auditd installed and running?)"
    log = tmp_path / "audit.log"
    log.write_text("type=DAEMON_START msg=audit(1.0:1): x\n")
    assert host.log_problem(log) is None
    assert host.same_file(log, tmp_path / "." / "audit.log") and not host.same_file(log, fifo)
    # out dirs: missing ones can be created below a writable directory, not below a file
    assert host.dir_problem(tmp_path / "a" / "b") is None
    afile = tmp_path / "afile"
    afile.write_text("")
    assert host.dir_problem(afile / "sub") == f"{afile} is not a directory"
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only_mount(ro):
        assert host.dir_problem(ro / "m") == f"{ro} is on a read-only file system"
