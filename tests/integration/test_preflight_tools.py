"""The preflight of a real ``avcfix loop``: exit 13 and the JSON document, nothing changed.

The real checks read this machine (:class:`RealHost`), and this test finds out
independently what the machine lacks (no SELinux kernel, no systemd as PID 1,
auditing off... in the Debian container the project is developed in) and
holds the preflight to it. What cannot be produced here (SELinux enforcing, a
unit that exists, auditd running) goes through ``FakeHost``, which has
exactly :class:`RealHost`'s interface (checked), in tests/unit/test_preflight.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from cli_helpers import avcfix_exe
from fs_helpers import read_only_mount
from preflight_helpers import CHECKS, LOG, _request

from avcfix.looptypes.preflight import run_preflight
from avcfix.system import auditctl
from avcfix.system.hostfacts import RealHost, parse_auditd_conf, parse_cap_eff

PROJECT = Path(__file__).resolve().parents[2]
#: A unit no host has: the "unit" check fails everywhere, so the CLI tests stop at the preflight.
NO_UNIT = "avcfix-test-no-such-unit"


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
