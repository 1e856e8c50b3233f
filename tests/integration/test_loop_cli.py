"""``avcfix loop`` from the command line: exit codes, --json, and the confirmation in a real pty."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pexpect
from cli_helpers import avcfix_exe

from avcfix.toolchain import semodule
from avcfix.toolchain.store import PolicyRoot, copy_root

PROJECT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([avcfix_exe(), "loop", *args], capture_output=True, text=True, cwd=PROJECT,
                          timeout=600, check=False)


def test_boolean_lab_json_needs_decision_then_apply_advice_converges(lab_dir: Path) -> None:
    cp = _run("--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir), "--json")
    assert cp.returncode == 11, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "needs_decision" and doc["exit_code"] == 11 and doc["lab"] is True
    assert doc["decisions"] == ["setsebool -P global_ssp on"]
    assert doc["iterations"][0]["new_denials"][0]["target"] == "urandom_device_t"
    assert "SIMULATED" in cp.stderr  # the lab says what it is

    cp = _run("--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir), "--json", "--apply-advice", "--yes")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "converged" and len(doc["iterations"]) == 2
    assert doc["iterations"][0]["applied"] == ["setsebool -P global_ssp on (in the lab)"]


def test_human_summary(lab_dir: Path) -> None:
    cp = _run("--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir))
    assert cp.returncode == 11
    assert "needs decision" in cp.stdout and "setsebool -P global_ssp on" in cp.stdout
    assert "iteration 1" in cp.stderr and "denied" in cp.stderr


def test_usage_errors() -> None:
    assert _run().returncode == 2  # neither --service nor --lab
    assert _run("--service", "x", "--lab", "eucanetd").returncode == 2
    assert _run("--service", "--evil").returncode == 2
    assert _run("--lab", "eucanetd", "--max-iterations", "0").returncode == 2
    cp = _run("--lab", "eucanetd", "--module", "bad name;")
    assert cp.returncode == 2 and "Traceback" not in cp.stderr


def test_answering_n_in_a_real_terminal_installs_nothing(lab_dir: Path) -> None:
    child = pexpect.spawn(avcfix_exe(), ["loop", "--lab", "eucanetd", "--lab-dir", str(lab_dir)],
                          cwd=str(PROJECT), encoding="utf-8", timeout=180, dimensions=(50, 200))
    try:
        child.expect(r"Install module eucanetd_local")
        prompt_context = child.before
        assert "allow eucalyptus_eucanetd_t eucalyptus_var_run_t:dir" in prompt_context
        child.expect(r"\[y/n\]")
        child.sendline("n")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 10, child.before
    module_dir = lab_dir / "module"
    assert not (module_dir / "eucanetd_local.pp").exists()
    assert not (module_dir / "eucanetd_local.te").exists()
    root = PolicyRoot(lab_dir / "root")
    assert "eucanetd_local" not in {m.name for m in semodule.list_modules(root)}


def test_no_tty_means_no_question(lab_dir: Path) -> None:
    # stdin is not a terminal: no prompt, the boolean is applied with --apply-advice straight away
    cp = subprocess.run([avcfix_exe(), "loop", "--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir),
                         "--apply-advice"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                        cwd=PROJECT, timeout=600, check=False)
    assert cp.returncode == 0, cp.stderr
    assert "[y/n]" not in cp.stderr + cp.stdout


def test_ctrl_c_at_the_prompt_restores_the_permissive_mark(lab_dir: Path) -> None:
    child = pexpect.spawn(avcfix_exe(), ["loop", "--lab", "eucanetd", "--lab-dir", str(lab_dir), "--permissive"],
                          cwd=str(PROJECT), encoding="utf-8", timeout=180, dimensions=(50, 200))
    try:
        child.expect(r"marked eucalyptus_eucanetd_t permissive")
        child.expect(r"\[y/n\]")
        child.sendintr()  # Ctrl-C
        child.expect(pexpect.EOF)
        out = child.before
    finally:
        child.close()
    assert child.exitstatus == 130, out
    assert "removed the permissive mark of eucalyptus_eucanetd_t" in out
    assert not (lab_dir / "module" / "eucanetd_local.pp").exists()


def test_seed_scenario_asks_for_the_port_label(lab_dir: Path) -> None:
    cp = _run("--lab", "eucanetd-seed", "--lab-dir", str(lab_dir), "--json")
    assert cp.returncode == 11, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["decisions"] == ["semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822"]
    [d] = doc["iterations"][0]["new_denials"]
    assert (d["target"], d["perms"]) == ("unreserved_port_t", ["name_bind"])


def test_exact_turns_completion_off(euca_root: PolicyRoot, tmp_path: Path) -> None:
    """The first enforcing iteration of the eucanetd lab: with completion (the default) the pid
    file's directory denial brings the file's create permissions, marked in the JSON; --exact adds
    only the denied ones."""
    docs = {}
    for flag in ("", "--exact"):
        lab_dir = tmp_path / (flag.strip("-") or "default")
        copy_root(euca_root, lab_dir / "root")  # the fixture module in already: no setup install
        cp = _run("--lab", "eucanetd", "--lab-dir", str(lab_dir), "--json", "--yes", "--max-iterations", "1",
                  *([flag] if flag else []))
        assert cp.returncode == 10, cp.stderr  # one iteration is not enough either way
        docs[flag] = json.loads(cp.stdout)["iterations"][0]
    marks = {(c["target"], c["tclass"], c["perm"]) for c in docs[""]["completed"]}
    assert ("eucalyptus_var_run_t", "file", "create") in marks
    assert docs["--exact"]["completed"] == []
    assert any("file" in r for r in docs[""]["rules_added"])
    assert not any(":file" in r for r in docs["--exact"]["rules_added"])
