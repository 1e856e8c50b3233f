"""``avcfix loop`` when its module directory cannot be written, before or during an iteration.

The failure the admin sees is always the first one (the build's or semodule's);
a rollback step that fails too (removing or restoring the ``.te``/``.pp`` in a
read-only directory, reinstalling the kept package) is a note, never the error.
The lab runs the real policy and toolchain; the directory is made read-only
for real: a read-only bind mount or ``chattr +i`` as root (root ignores the
mode bits), ``chmod 555`` otherwise.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from cli_helpers import avcfix_exe
from fs_helpers import read_only_mount, unwritable

from avcfix import proc
from avcfix.errors import ExitCode
from avcfix.lab.backends import Lab
from avcfix.lab.scenario import LABS_DIR, load_scenario
from avcfix.loop.backends import BuilderInstaller
from avcfix.loop.engine import EventKind, Loop, LoopEvent
from avcfix.looptypes.model import LoopOptions, Outcome
from avcfix.toolchain import semodule
from avcfix.toolchain.store import PolicyRoot, copy_root
from avcfix.triage import FactsExplainer

PROJECT = Path(__file__).resolve().parents[2]
MODULE = "eucanetd_local"


def _loop(lab: Lab, installer: BuilderInstaller, progress) -> Loop:
    options = LoopOptions(service=lab.scenario.service, module=MODULE)
    return Loop(options, lab.service(), lab.trail(), lab.admin(), installer, FactsExplainer(lab.root),
                progress=progress, lab=True)


def test_the_pp_write_failing_after_the_te_write_is_the_error_and_the_rollback_a_note(
        euca_root: PolicyRoot, tmp_path: Path) -> None:
    """The .te is written, then the directory turns read-only: the compiled .pp cannot be
    written (the first error), and the rollback cannot remove the new .te either (a note)."""
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)
    lab.module_dir.mkdir(parents=True)
    installer = BuilderInstaller(MODULE, lab.module_dir, lab.root)
    with contextlib.ExitStack() as stack:

        def freeze_before_compile(ev: LoopEvent) -> None:
            if ev.kind is EventKind.BUILD_STEP and ev.message.startswith("compile: "):
                stack.enter_context(unwritable(lab.module_dir))

        report = _loop(lab, installer, freeze_before_compile).run()
    assert report.outcome is Outcome.WRITE_FAILED
    assert report.exit_code == ExitCode.INPUT == 3
    assert report.message.startswith(f"{lab.module_dir}: cannot write the compiled module")
    te = lab.module_dir / f"{MODULE}.te"
    [note] = report.notes
    assert note.startswith(f"rollback: could not remove {te} (")
    assert note.endswith("): it is the new version, which is not installed")
    assert te.exists() and not (lab.module_dir / f"{MODULE}.pp").exists()
    assert MODULE not in {m.name for m in semodule.list_modules(lab.root)}
    doc = report.to_json()
    assert doc["outcome"] == "write_failed" and doc["exit_code"] == 3 and doc["notes"] == list(report.notes)


def test_a_failed_install_in_a_directory_turned_read_only_reports_the_install_error(
        euca_root: PolicyRoot, tmp_path: Path) -> None:
    """semodule rejects the package (the first error); the rollback then cannot remove the new
    .te and .pp from the read-only directory: two notes, and the install error stays the error."""
    root = copy_root(euca_root, tmp_path / "root")
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, root)
    rec = proc.Recorder()
    installer = BuilderInstaller(MODULE, lab.module_dir, lab.root, record=rec)
    with contextlib.ExitStack() as stack:

        def corrupt_and_freeze(ev: LoopEvent) -> None:
            if ev.kind is EventKind.BUILD_STEP and ev.message.startswith("install: "):
                Path(ev.message.split(": ", 1)[1]).write_bytes(b"not a policy package")
                stack.enter_context(unwritable(lab.module_dir))

        report = _loop(lab, installer, corrupt_and_freeze).run()
    assert report.outcome is Outcome.INSTALL_FAILED and report.exit_code == ExitCode.INSTALL
    [failed] = [r for r in rec.results if r.argv[0] == "semodule" and "-i" in r.argv]
    assert not failed.ok
    assert report.message.startswith(f"installing {MODULE}.pp failed")
    assert report.message.endswith(f"nothing to roll back: {MODULE} was not installed before")
    assert [n.split(" (")[0] for n in report.notes] == [
        f"rollback: could not remove {lab.module_dir / (MODULE + '.te')}",
        f"rollback: could not remove {lab.module_dir / (MODULE + '.pp')}",
    ]
    assert MODULE not in {m.name for m in semodule.list_modules(lab.root)}


@pytest.mark.slow
def test_a_failed_rollback_is_a_note_and_the_first_install_error_stays_the_error(
        euca_root: PolicyRoot, tmp_path: Path) -> None:
    """Iteration 1 installs 1.0 for real; iteration 2's package is rejected, and so is the kept
    1.0 package the rollback reinstalls: the error is the first semodule failure."""
    root = copy_root(euca_root, tmp_path / "root")
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, root)
    rec = proc.Recorder()
    installer = BuilderInstaller(MODULE, lab.module_dir, lab.root, record=rec)
    kept = installer.state_dir / "1.0" / f"{MODULE}.pp"

    def corrupt_both(ev: LoopEvent) -> None:
        if ev.kind is EventKind.BUILD_STEP and ev.iteration == 2 and ev.message.startswith("install: "):
            Path(ev.message.split(": ", 1)[1]).write_bytes(b"not a policy package")
            kept.write_bytes(b"not a kept package either")

    report = _loop(lab, installer, corrupt_both).run()
    assert report.outcome is Outcome.INSTALL_FAILED and len(report.iterations) == 2
    installs = [r for r in rec.results if r.argv[0] == "semodule" and "-i" in r.argv]
    assert [r.argv[-1] for r in installs] == [str(lab.module_dir / f"{MODULE}.pp")] * 2 + [str(kept)]
    assert [r.ok for r in installs] == [True, False, False]
    assert report.message.startswith(f"installing {MODULE}.pp failed")
    assert report.message.endswith("; the rollback failed too (see the notes)")
    [note] = report.notes
    assert note.startswith(f"rollback: installing {MODULE}.pp failed")
    assert note.endswith(f"(reinstall it: {' '.join(root.semodule_argv('-i', str(kept)))})")
    # semodule commits nothing when it fails: the store still holds 1.0
    assert {m.name: m for m in semodule.list_modules(lab.root)}[MODULE]
    assert report.module_version == "1.0"


# ------------------------------------------------------------------ the command line


def _loop_json(lab_dir: Path, out_dir: Path) -> tuple[subprocess.CompletedProcess, dict]:
    cp = subprocess.run([avcfix_exe(), "loop", "--lab", "eucanetd", "--yes", "--json", "--lab-dir", str(lab_dir),
                         "--out-dir", str(out_dir)], capture_output=True, text=True, cwd=PROJECT, timeout=600,
                        check=False)
    assert "This is a bug" not in cp.stderr and "Traceback" not in cp.stderr, cp.stderr
    return cp, json.loads(cp.stdout)


def test_cli_read_only_out_dir_is_exit_3_with_the_json_document(lab_dir: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only_mount(ro):
        cp, doc = _loop_json(lab_dir, ro)
    assert cp.returncode == 3
    assert doc["outcome"] == "write_failed" and doc["exit_code"] == 3
    assert doc["message"] == f"{ro / MODULE}.te: cannot write: Read-only file system"
    assert doc["notes"] == [] and len(doc["iterations"]) == 1  # nothing was written: nothing to undo


def test_cli_out_dir_under_a_file_is_exit_3_with_the_json_document(lab_dir: Path, tmp_path: Path) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("not a directory\n")
    cp, doc = _loop_json(lab_dir, afile / "module")
    assert cp.returncode == 3
    assert doc["outcome"] == "write_failed" and doc["exit_code"] == 3
    assert doc["message"] == f"{afile / 'module'}: cannot create the module directory: Not a directory"
    assert doc["preflight"] == []  # the lab skips the host's preflight (this host would fail it)


@pytest.mark.slow
def test_a_package_that_cannot_be_kept_after_a_good_install_is_a_warning(euca_root: PolicyRoot,
                                                                         tmp_path: Path) -> None:
    """The install worked; only keeping its package for a later rollback failed (the state
    directory's place is taken by a file): the loop says so and goes on."""
    root = copy_root(euca_root, tmp_path / "root")
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, root)
    lab.module_dir.mkdir(parents=True)
    (lab.module_dir / ".avcfix-loop").write_text("in the way\n")
    events: list[LoopEvent] = []
    installer = BuilderInstaller(MODULE, lab.module_dir, lab.root)
    report = Loop(LoopOptions(service=lab.scenario.service, module=MODULE, max_iterations=1), lab.service(),
                  lab.trail(), lab.admin(), installer, FactsExplainer(lab.root), progress=events.append,
                  lab=True).run()
    assert report.outcome is Outcome.MAX_ITERATIONS and report.module_version == "1.0"
    [note] = report.notes
    assert note.startswith(f"could not keep the package of {MODULE} 1.0 in {installer.state_dir} (")
    assert note.endswith("a failed install later cannot roll back to this version")
    assert [e.message for e in events if e.kind is EventKind.WARNING] == [note]
    assert MODULE in {m.name for m in semodule.list_modules(lab.root)}
