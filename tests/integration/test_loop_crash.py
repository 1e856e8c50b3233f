"""``avcfix loop`` after a crash, and two loops at once: real processes, a real SIGKILL.

A loop killed half-way (SIGKILL, OOM, power cut) cannot run its ``finally``:
the permissive mark, dontaudit off and the fixes it applied stay. Its journal
(``LAB_DIR/var/lib/avcfix/loop/SERVICE.journal.json`` in a lab) lets the next
loop, or ``avcfix loop --recover``, undo them. The kill points come from the
test hook ``AVCFIX_TEST_KILL_AT`` (avcfix.loop.journal): the process SIGKILLs
itself right after the named change. The lab keeps its state on disk
(``lab-state.json``), as a real machine keeps its policy settings.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pexpect
import pytest
from cli_helpers import PROJECT, avcfix_exe, lab_settings, run_loop

from avcfix.lab.kernel import LabState
from avcfix.lab.scenario import LABS_DIR, load_scenario
from avcfix.toolchain import semodule
from avcfix.toolchain.store import PolicyRoot

DOMAIN = "eucalyptus_eucanetd_t"
MODULE = "eucanetd_local"
#: Everything a killed --permissive --apply-advice run can change (each kill point below).
ALL_IN = ("--permissive", "--dontaudit-off", "--apply-advice", "--yes", "--json")


def _pristine(scenario: str) -> dict:
    sc = load_scenario(LABS_DIR / f"{scenario}.toml")
    st = LabState(ports={(p.proto, p.port): p.context for p in sc.ports},
                  files={f.path: f.context for f in sc.files})
    return {k: v for k, v in st.to_json().items() if k not in ("clock", "serial", "next_pid")}


def _journals(lab: Path) -> list[Path]:
    return sorted((lab / "var/lib/avcfix/loop").glob("*.journal.json"))


def _dirty(scenario: str, *, dontaudit: bool = True, permissive: bool = False, booleans: dict | None = None,
           port: str | None = None) -> dict:
    want = _pristine(scenario)
    want["dontaudit"] = dontaudit
    want["permissive_domains"] = [DOMAIN] if permissive else []
    want["booleans"] = booleans or {}
    if port:
        want["ports"] = [[p, n, port if (p, n) == ("udp", 63822) else c] for p, n, c in want["ports"]]
    return want


# what each kill point leaves in eucanetd-boolean (--permissive --dontaudit-off --apply-advice):
# dontaudit off, then the permissive mark, then global_ssp on, then the mark removed for the verify run
KILLS = {
    "dontaudit": dict(dontaudit=False),
    "permissive": dict(dontaudit=False, permissive=True),
    "before:fix": dict(dontaudit=False, permissive=True),  # journaled, killed before setsebool ran
    "fix": dict(dontaudit=False, permissive=True, booleans={"global_ssp": True}),
    "undo:permissive": dict(dontaudit=False, booleans={"global_ssp": True}),
}


@pytest.mark.parametrize("point", list(KILLS))
def test_a_killed_loop_is_undone_by_recover(lab_dir: Path, point: str) -> None:
    cp = run_loop("--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir), *ALL_IN, kill_at=point)
    assert cp.returncode == -signal.SIGKILL, cp.stderr
    # the killed run's changes are on the lab machine's disk, with its journal beside them
    assert lab_settings(lab_dir) == _dirty("eucanetd-boolean", **KILLS[point])
    [journal] = _journals(lab_dir)
    assert json.loads(journal.read_text())["owner"]["pid"] > 0

    cp = run_loop("--recover", "--lab-dir", str(lab_dir), "--json")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "recovered" and doc["exit_code"] == 0 and doc["service"] == "eucanetd"
    assert lab_settings(lab_dir) == _pristine("eucanetd-boolean")  # exactly as before the killed run
    assert _journals(lab_dir) == []
    undone = [line.split(" (left by")[0] for line in doc["recovered"]]
    expected = [line for line, changed in (
        ("boolean global_ssp set back to (unset) (in the lab)", "booleans" in KILLS[point]),
        (f"removed the permissive mark of {DOMAIN}", KILLS[point].get("permissive", False)),
        ("dontaudit rules enabled again (semodule -B)", True),
    ) if changed]
    assert undone == expected  # newest change first
    assert all("left by an interrupted loop, pid " in line for line in doc["recovered"])

    again = run_loop("--recover", "--lab-dir", str(lab_dir), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["recovered"] == []


def test_the_next_loop_undoes_a_killed_one_before_it_starts(lab_dir: Path) -> None:
    cp = run_loop("--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir), *ALL_IN, kill_at="fix")
    assert cp.returncode == -signal.SIGKILL
    assert lab_settings(lab_dir)["booleans"] == {"global_ssp": True}

    # a plain loop: the boolean the killed run set is NOT taken for the admin's own setting
    cp = run_loop("--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir), "--json")
    assert cp.returncode == 11, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "needs_decision" and doc["decisions"] == ["setsebool -P global_ssp on"]
    assert [line.split(" (left by")[0] for line in doc["recovered"]] == [
        "boolean global_ssp set back to (unset) (in the lab)",
        f"removed the permissive mark of {DOMAIN}",
        "dontaudit rules enabled again (semodule -B)",
    ]
    assert "recovered: boolean global_ssp set back" in cp.stderr
    assert lab_settings(lab_dir) == _pristine("eucanetd-boolean")
    assert _journals(lab_dir) == []


def test_an_orderly_run_leaves_no_journal_and_keeps_its_fixes(lab_dir: Path) -> None:
    cp = run_loop("--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir), *ALL_IN)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["recovered"] == []
    assert _journals(lab_dir) == []
    # the applied boolean stays (it is in the report), on the lab's disk like on a real machine
    assert lab_settings(lab_dir) == _dirty("eucanetd-boolean", booleans={"global_ssp": True})
    cp = run_loop("--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir), "--json")
    assert cp.returncode == 0 and json.loads(cp.stdout)["recovered"] == []  # converged: the boolean is on


@pytest.mark.slow
def test_killed_after_the_install_and_the_port_label(lab_dir: Path, tmp_path: Path) -> None:
    """eucanetd-seed: the module installed and the port labelled, then SIGKILL (one store install)."""
    cp = run_loop("--lab", "eucanetd-seed", "--lab-dir", str(lab_dir), "--permissive", "--apply-advice", "--yes",
              "--json", kill_at="fix")
    assert cp.returncode == -signal.SIGKILL, cp.stderr
    port_t = "system_u:object_r:eucalyptus_eucanetd_port_t:s0"
    assert lab_settings(lab_dir) == _dirty("eucanetd-seed", permissive=True, port=port_t)
    root = PolicyRoot(lab_dir / "root")
    assert MODULE in {m.name for m in semodule.list_modules(root)}
    # the same killed machine twice: one recovered by --recover, one by the next loop
    other = tmp_path / "other"
    shutil.copytree(lab_dir, other, symlinks=True)

    cp = run_loop("--recover", "--lab-dir", str(lab_dir), "--json")
    assert cp.returncode == 0, cp.stderr
    lines = [line.split(" (left by")[0] for line in json.loads(cp.stdout)["recovered"]]
    assert lines[0] == ("port udp/63822 label set back to system_u:object_r:unreserved_port_t:s0 (in the lab)")
    assert lines[1].startswith(f"kept module {MODULE} 1.0 installed by the run")
    assert lines[2:] == [f"removed the permissive mark of {DOMAIN}"]
    assert lab_settings(lab_dir) == _pristine("eucanetd-seed")
    assert MODULE in {m.name for m in semodule.list_modules(root)}  # the module is kept

    cp = run_loop("--lab", "eucanetd-seed", "--lab-dir", str(other), "--json")
    assert cp.returncode == 11, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["decisions"] == ["semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822"]
    assert len(doc["recovered"]) == 3
    assert lab_settings(other) == _pristine("eucanetd-seed")


def test_two_loops_at_once_the_second_is_busy(lab_dir: Path) -> None:
    first = pexpect.spawn(avcfix_exe(), ["loop", "--lab", "eucanetd", "--lab-dir", str(lab_dir), "--permissive"],
                          cwd=str(PROJECT), encoding="utf-8", timeout=180, dimensions=(50, 200),
                          env={k: v for k, v in os.environ.items() if k != "AVCFIX_TEST_KILL_AT"})
    try:
        first.expect(r"marked eucalyptus_eucanetd_t permissive")
        first.expect(r"\[y/n\]")  # holds the lock, waiting for an answer

        cp = run_loop("--lab", "eucanetd", "--lab-dir", str(lab_dir), "--json")
        assert cp.returncode == 12, cp.stderr
        doc = json.loads(cp.stdout)
        assert doc["outcome"] == "busy" and doc["exit_code"] == 12 and doc["iterations"] == []
        assert "another avcfix loop holds" in doc["message"] and f"pid {first.pid}," in doc["message"]

        cp = run_loop("--lab", "eucanetd", "--lab-dir", str(lab_dir), "--permissive", "--yes")
        assert cp.returncode == 12 and "another avcfix loop holds" in cp.stderr
        assert "Traceback" not in cp.stderr and cp.stdout == ""
        cp = run_loop("--recover", "--lab-dir", str(lab_dir))
        assert cp.returncode == 12
        # neither touched the first loop's state nor its journal
        assert lab_settings(lab_dir)["permissive_domains"] == [DOMAIN]
        assert len(_journals(lab_dir)) == 1

        # the holder is killed for real: the kernel drops the lock, the next run recovers
        first.kill(signal.SIGKILL)
        first.expect(pexpect.EOF)
    finally:
        first.close(force=True)
    cp = run_loop("--recover", "--lab-dir", str(lab_dir), "--json")
    assert cp.returncode == 0, cp.stderr
    assert [line.split(" (left by")[0] for line in json.loads(cp.stdout)["recovered"]] == [
        f"removed the permissive mark of {DOMAIN}"]
    assert f"pid {first.pid}" in json.loads(cp.stdout)["recovered"][0]
    assert lab_settings(lab_dir) == _pristine("eucanetd")


def test_recover_usage(tmp_path: Path) -> None:
    assert run_loop("--recover", "--lab", "eucanetd").returncode == 2  # which lab dir?
    assert run_loop("--recover", "--lab-dir", str(tmp_path / "nope")).returncode == 2
    cp = run_loop("--recover", "--lab-dir", str(tmp_path), "--json")
    assert cp.returncode == 0 and json.loads(cp.stdout)["message"].startswith("nothing to recover")
