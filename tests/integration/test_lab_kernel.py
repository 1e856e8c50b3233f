"""The lab's simulated kernel: decisions from the real policy, real audit.log records."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from avcfix.audit.api import ScanStats, scan
from avcfix.errors import UsageError
from avcfix.lab.backends import Lab
from avcfix.lab.scenario import LABS_DIR, Access, Check, Target, load_scenario, parse_scenario
from avcfix.toolchain.store import PolicyRoot

EUCANETD = LABS_DIR / "eucanetd.toml"
BOOLEAN = LABS_DIR / "eucanetd-boolean.toml"

#: The five accesses the fixture policy lacks, in the order eucanetd meets them.
FIVE = [
    ("eucalyptus_var_run_t", "dir", ("add_name", "search", "write")),
    ("eucalyptus_var_run_t", "file", ("create", "open", "write")),
    ("eucalyptus_var_lib_t", "dir", ("search",)),
    ("eucalyptus_eucanetd_t", "capability", ("dac_read_search",)),
    ("eucalyptus_var_lib_t", "file", ("open", "read")),
]


def _denials(log: Path):
    stats = ScanStats()
    out = list(scan([str(log)], stats=stats))
    assert stats.skipped_lines == 0
    return out


@pytest.fixture
def lab(euca_root: PolicyRoot, tmp_path: Path) -> Lab:
    # the kernel only reads the policy: the shared session root is enough
    return Lab(load_scenario(EUCANETD), tmp_path, euca_root)


def test_enforcing_stops_at_the_first_denial(lab: Lab) -> None:
    r = lab.kernel.run_service()
    assert not r.ok and r.logged == 1 and r.denied == 1
    assert "pid file" in (r.failed or "")
    [d] = _denials(lab.log)
    assert (d.ttype, d.tclass, d.perms) == FIVE[0]
    assert d.permissive is False
    assert d.syscall == "openat" and d.success is False and d.exit == -13
    assert d.exe == "/usr/sbin/eucanetd" and d.comm == "eucanetd"
    assert "/run/eucalyptus/eucanetd.pid" in d.paths
    # a second start fails the same way: nothing changed in the policy
    r2 = lab.kernel.run_service()
    assert r2.failed == r.failed and r2.pid != r.pid


def test_permissive_domain_logs_every_denial_and_goes_on(lab: Lab) -> None:
    lab.admin().set_permissive("eucalyptus_eucanetd_t", True)
    r = lab.kernel.run_service()
    assert r.ok and r.failed is None and r.logged == 5
    found = [(d.ttype, d.tclass, d.perms) for d in _denials(lab.log)]
    assert sorted(found) == sorted(FIVE)  # records of one event come out in canonical order
    assert all(d.permissive for d in _denials(lab.log))


def test_global_permissive_mode_too(lab: Lab) -> None:
    lab.kernel.state.enforcing = False
    assert lab.kernel.run_service().logged == 5


def test_the_port_label_decides_the_bind(lab: Lab) -> None:
    # with the port back at its policy default (unreserved_port_t) the bind is denied:
    # the fixture allows name_bind only on eucalyptus_eucanetd_port_t
    lab.kernel.state.ports[("udp", 63822)] = "system_u:object_r:unreserved_port_t:s0"
    r = lab.kernel.run_service()
    assert r.failed == "bind UDP 63822"
    [d] = _denials(lab.log)
    assert (d.ttype, d.tclass, d.perms, d.port) == ("unreserved_port_t", "udp_socket", ("name_bind",), 63822)


def test_a_runtime_boolean_allows_what_its_conditional_rule_allows(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(BOOLEAN), tmp_path, euca_root)
    r = lab.kernel.run_service()
    assert r.failed and "/dev/urandom" in r.failed
    [d] = _denials(lab.log)
    assert (d.ttype, d.tclass, d.perms) == ("urandom_device_t", "chr_file", ("open", "read"))
    lab.kernel.state.booleans["global_ssp"] = True
    assert lab.kernel.run_service().ok
    lab.kernel.state.booleans["global_ssp"] = False
    assert not lab.kernel.run_service().ok


def test_dontaudit_hides_the_record_but_not_the_failure(euca_root: PolicyRoot, tmp_path: Path) -> None:
    # refpolicy: dontaudit daemon user_tmp_t:file { read ... } (a leaked temp file)
    base = load_scenario(EUCANETD)
    probe = Access("read a leaked /tmp file of a user", "read",
                   (Check("file", ("read",), Target("context", context="user_u:object_r:user_tmp_t:s0")),))
    lab = Lab(dataclasses.replace(base, accesses=(probe,)), tmp_path, euca_root)
    r = lab.kernel.run_service()
    assert not r.ok and r.denied == 1 and r.logged == 0
    assert _denials(lab.log) == []
    lab.admin().set_dontaudit(False)  # what semodule -DB does to a real kernel
    r = lab.kernel.run_service()
    assert not r.ok and r.logged == 1
    [d] = _denials(lab.log)
    assert (d.ttype, d.tclass, d.perms) == ("user_tmp_t", "file", ("read",))


def test_records_are_real_audit_log_format(lab: Lab, tmp_path: Path) -> None:
    lab.kernel.state.enforcing = False
    lab.kernel.run_service()
    text = lab.log.read_text()
    for kind in ("AVC", "SYSCALL", "CWD", "PATH", "PROCTITLE"):
        assert f"type={kind} msg=audit(" in text
    if shutil.which("ausearch"):
        cp = subprocess.run(["ausearch", "-i", "--input", str(lab.log), "-m", "AVC", "-c", "eucanetd"],
                            capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.count("type=AVC") == 5
        assert "proctitle=/usr/sbin/eucanetd -d --config" in cp.stdout
        assert "syscall=openat" in cp.stdout
    if shutil.which("audit2allow"):
        cp = subprocess.run(["audit2allow", "-p", str(lab.root.policy_file), "-i", str(lab.log)], capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stderr
        assert "allow eucalyptus_eucanetd_t self:capability dac_read_search;" in cp.stdout
        assert "allow eucalyptus_eucanetd_t eucalyptus_var_run_t:dir { add_name search write };" in cp.stdout


def test_same_scenario_same_bytes(euca_root: PolicyRoot, tmp_path: Path) -> None:
    logs = []
    for i in range(2):
        lab = Lab(load_scenario(EUCANETD), tmp_path / str(i), euca_root)
        lab.kernel.state.enforcing = False
        lab.kernel.run_service()
        lab.kernel.run_service()
        logs.append(lab.log.read_bytes())
    assert logs[0] == logs[1] and logs[0]


def test_restorecon_in_the_lab_uses_the_policy_file_contexts(euca_root: PolicyRoot, tmp_path: Path) -> None:
    from avcfix.index.setools_facts import PolicyFacts

    lab = Lab(load_scenario(EUCANETD), tmp_path, euca_root)
    lab.kernel.state.files["/var/lib/eucalyptus"] = "system_u:object_r:var_lib_t:s0"  # mislabelled
    with PolicyFacts(euca_root.policy_file, euca_root.file_contexts) as facts:
        # the type comes from the root's real file_contexts (avcfix/lab/policies/eucalyptus.fc)
        assert lab.kernel.relabel("/var/lib/eucalyptus", facts) == "system_u:object_r:eucalyptus_var_lib_t:s0"
        assert lab.kernel.state.files["/var/lib/eucalyptus"].endswith(":eucalyptus_var_lib_t:s0")


@pytest.mark.parametrize("patch, message", [
    ({"service": None}, "missing [service]"),
    ({"access": []}, "at least one [[access]]"),
    ({"service": {"name": "x", "exe": "/x", "context": "not-a-context"}}, "not a user:role:type"),
    ({"service": {"name": "x", "exe": "/x", "context": "u:r:bad;allow:s0"}}, "context"),
])
def test_bad_scenarios_are_usage_errors(patch: dict, message: str) -> None:
    import tomllib

    data = tomllib.loads(EUCANETD.read_text())
    for k, v in patch.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(data, "bad.toml")


def test_check_needs_exactly_one_target() -> None:
    import tomllib

    data = tomllib.loads(EUCANETD.read_text())
    data["access"][0]["checks"][0]["self"] = True  # now path AND self
    with pytest.raises(UsageError, match="exactly one target"):
        parse_scenario(data, "bad.toml")


def test_the_cli_never_crashes_on_a_broken_scenario_file(tmp_path: Path) -> None:
    from avcfix.cli import main

    bad = tmp_path / "broken.toml"
    bad.write_text("[service\nname=")
    assert main(["loop", "--lab", str(bad)]) == 2
    assert main(["loop", "--lab", "no-such-scenario"]) == 2
    assert main(["loop", "--lab", str(tmp_path / "missing.toml")]) == 3
