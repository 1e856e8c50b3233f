"""``avcfix loop`` end to end on the lab: simulated kernel, real policy, real toolchain.

Installs go into a private copy of the reference store (``semodule -p``);
the tests that install are marked slow. Rules are checked with setools on the
lab root's rebuilt policy.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest
import setools

from avcfix.errors import ExitCode
from avcfix.explain.model import Finding
from avcfix.lab.backends import Lab
from avcfix.lab.scenario import LABS_DIR, Access, Check, Target, load_scenario
from avcfix.loop.backends import BuilderInstaller
from avcfix.loop.engine import EventKind, Loop, LoopEvent
from avcfix.looptypes.interfaces import Installed
from avcfix.looptypes.model import LoopOptions, Outcome, Phase
from avcfix.system import auditlog
from avcfix.toolchain.store import PolicyRoot, copy_root
from avcfix.triage import FactsExplainer

DOMAIN = "eucalyptus_eucanetd_t"
MODULE = "eucanetd_local"

#: What the module must grant after the loop (source, target, class, perms).
EXPECTED_RULES = {
    (DOMAIN, "eucalyptus_var_run_t", "dir", frozenset({"add_name", "search", "write"})),
    (DOMAIN, "eucalyptus_var_run_t", "file", frozenset({"create", "open", "write"})),
    (DOMAIN, "eucalyptus_var_lib_t", "dir", frozenset({"search"})),
    (DOMAIN, DOMAIN, "capability", frozenset({"dac_read_search"})),
    (DOMAIN, "eucalyptus_var_lib_t", "file", frozenset({"open", "read"})),
}


@pytest.fixture
def lab_root(euca_root: PolicyRoot, tmp_path: Path) -> PolicyRoot:
    """A writable copy of the reference store + the Eucalyptus fixture module."""
    return copy_root(euca_root, tmp_path / "lab" / "root")


def _lab(name: str, root: PolicyRoot, scenario=None) -> Lab:
    sc = scenario or load_scenario(LABS_DIR / f"{name}.toml")
    return Lab(sc, root.root.parent, root)


def _loop(lab: Lab, installer=None, explainer=None, events: list | None = None, **opts) -> Loop:
    options = LoopOptions(service=lab.scenario.service, module=MODULE, **opts)
    return Loop(options, lab.service(), lab.trail(), lab.admin(),
                installer or BuilderInstaller(MODULE, lab.module_dir, lab.root),
                explainer or lab.explainer(),
                progress=(events.append if events is not None else (lambda e: None)), lab=True)


def _granted(policy: Path, rule: tuple) -> bool:
    source, target, tclass, perms = rule
    p = setools.SELinuxPolicy(str(policy))
    q = setools.TERuleQuery(p, ruletype=[setools.TERuletype.allow], source=source, target=target,
                            tclass=[tclass], perms=set(perms), perms_subset=True)
    q.source_indirect = False
    q.target_indirect = False
    return any(True for _ in q.results())


def _final_enforcing_run_is_clean(lab: Lab) -> None:
    mark = auditlog.checkpoint(lab.log)
    lab.kernel.state.permissive_domains.clear()
    run = lab.kernel.run_service()
    assert run.ok and run.denied == 0
    assert auditlog.denials_in(auditlog.read_new(mark).data, "lab") == []


@pytest.mark.slow
def test_enforcing_loop_converges_in_six_iterations(lab_root: PolicyRoot) -> None:
    """--exact (complete=False), with the facts completion would ask given: one restart per denial."""
    lab = _lab("eucanetd", lab_root)
    report = _loop(lab, installer=BuilderInstaller(MODULE, lab.module_dir, lab.root, facts=lab.facts),
                   complete=False).run()
    assert all(it.completed == () for it in report.iterations)
    assert report.outcome is Outcome.CONVERGED and report.exit_code == 0
    its = report.iterations
    assert len(its) == 6
    assert [it.phase for it in its] == [Phase.ENFORCING] * 6
    # one new denial per iteration, one rule added, the version bumped each time
    assert [len(it.denials) for it in its] == [1, 1, 1, 1, 1, 0]
    assert [len(it.rules_added) for it in its] == [1, 1, 1, 1, 1, 0]
    assert [it.module_version for it in its] == ["1.0", "1.1", "1.2", "1.3", "1.4", "1.4"]
    assert [it.healthy for it in its] == [False] * 5 + [True]
    seen = {(d.source, d.target, d.tclass, frozenset(d.perms)) for it in its for d in it.denials}
    assert seen == EXPECTED_RULES
    for rule in EXPECTED_RULES:
        assert _granted(lab_root.policy_file, rule), rule
    assert (lab.module_dir / f"{MODULE}.te").read_text().count("allow ") == 5
    _final_enforcing_run_is_clean(lab)


@pytest.mark.slow
def test_permissive_loop_converges_in_two_iterations(lab_root: PolicyRoot) -> None:
    lab = _lab("eucanetd", lab_root)
    admin_actions = []
    loop = _loop(lab, permissive=True)
    loop.admin.actions = admin_actions  # type: ignore[attr-defined]
    report = loop.run()
    assert report.outcome is Outcome.CONVERGED
    assert [it.phase for it in report.iterations] == [Phase.PERMISSIVE, Phase.VERIFY]
    first, second = report.iterations
    assert first.healthy and len(first.denials) == 5 and all(d.permissive for d in first.denials)
    assert len(first.rules_added) == 5 and first.module_version == "1.0"
    assert second.healthy and second.denials == ()
    assert lab.kernel.state.permissive_domains == set()
    assert admin_actions == [f"semanage permissive -a {DOMAIN}", f"semanage permissive -d {DOMAIN}"]
    assert report.restored == (f"removed the permissive mark of {DOMAIN}",)
    for rule in EXPECTED_RULES:
        assert _granted(lab_root.policy_file, rule), rule
    _final_enforcing_run_is_clean(lab)

    # the module removed, its .te left in place (make e2e does this): the rules are
    # already in the .te, so nothing is added, but reinstalling it is progress
    from avcfix.toolchain import semodule

    semodule.remove(lab_root, MODULE)
    assert not _granted(lab_root.policy_file, next(iter(EXPECTED_RULES)))
    again = _loop(lab, permissive=True).run()
    assert again.outcome is Outcome.CONVERGED and len(again.iterations) == 2, again.message
    assert again.iterations[0].rules_added == () and again.module_version == "1.0"
    for rule in EXPECTED_RULES:
        assert _granted(lab_root.policy_file, rule), rule


def test_boolean_scenario_needs_a_decision_then_converges_with_apply_advice(euca_root: PolicyRoot,
                                                                           tmp_path: Path) -> None:
    # no install happens: the session root is only read
    lab = Lab(load_scenario(LABS_DIR / "eucanetd-boolean.toml"), tmp_path, euca_root)
    report = _loop(lab).run()
    assert report.outcome is Outcome.NEEDS_DECISION and report.exit_code == ExitCode.NEEDS_DECISION == 11
    assert report.decisions == ("setsebool -P global_ssp on",)
    assert len(report.iterations) == 1 and report.iterations[0].denials[0].reason == "boolean"
    assert not (lab.module_dir / f"{MODULE}.te").exists()
    assert lab.kernel.state.booleans == {}

    report = _loop(lab, apply_advice=True).run()
    assert report.outcome is Outcome.CONVERGED
    assert len(report.iterations) == 2
    assert report.iterations[0].applied == ("setsebool -P global_ssp on (in the lab)",)
    assert lab.kernel.state.booleans == {"global_ssp": True}
    assert not (lab.module_dir / f"{MODULE}.te").exists()  # no module was needed


@pytest.mark.slow
def test_install_failure_rolls_back_to_the_previous_version(lab_root: PolicyRoot) -> None:
    lab = _lab("eucanetd", lab_root)
    events: list[LoopEvent] = []

    def corrupt_third_install(ev: LoopEvent) -> None:
        events.append(ev)
        if ev.kind is EventKind.BUILD_STEP and ev.iteration == 3 and ev.message.startswith("install: "):
            Path(ev.message.split(": ", 1)[1]).write_bytes(b"not a policy package")

    from avcfix import proc

    rec = proc.Recorder()
    installer = BuilderInstaller(MODULE, lab.module_dir, lab.root, record=rec)
    loop = _loop(lab, installer=installer)
    loop.progress = corrupt_third_install
    report = loop.run()
    assert report.outcome is Outcome.INSTALL_FAILED and report.exit_code == ExitCode.INSTALL
    assert "rolled back" in report.message
    # the loop kept each package it installed; the rollback reinstalled its own 1.1, and
    # never ran semodule -E (semanage_t may not write where the loop runs)
    kept = lab.module_dir / ".avcfix-loop" / MODULE
    assert sorted(p.name for p in kept.iterdir()) == ["1.0", "1.1", "installed"]
    assert (kept / "installed").read_text() == "1.1\n"
    semodules = [r.argv for r in rec.results if r.argv[0] == "semodule"]
    assert not any("-E" in argv for argv in semodules)
    assert semodules[-1][-2:] == ("-i", str(kept / "1.1" / f"{MODULE}.pp"))
    assert semodules[-2][-2:] == ("-i", str(lab.module_dir / f"{MODULE}.pp"))  # the corrupted one
    assert len(report.iterations) == 3 and report.module_version == "1.1"
    te = (lab.module_dir / f"{MODULE}.te").read_text()
    assert "1.1" in te.splitlines()[0] or "1.1" in te
    assert "eucalyptus_var_lib_t" not in te
    rules = sorted(EXPECTED_RULES, key=str)
    run_dir = [r for r in rules if r[1] == "eucalyptus_var_run_t"]
    assert all(_granted(lab_root.policy_file, r) for r in run_dir)
    assert not _granted(lab_root.policy_file, (DOMAIN, "eucalyptus_var_lib_t", "dir", frozenset({"search"})))
    # the working module is the previous one again: a rerun goes on from there
    assert (lab.module_dir / f"{MODULE}.pp").read_bytes()[:4] != b"not "


@pytest.mark.slow
def test_a_failed_first_install_leaves_the_store_as_it_was(lab_root: PolicyRoot) -> None:
    """No version of the loop's before: nothing to reinstall, and the module is not in the store."""
    from avcfix import proc
    from avcfix.toolchain import semodule

    lab = _lab("eucanetd", lab_root)

    def corrupt_first_install(ev: LoopEvent) -> None:
        if ev.kind is EventKind.BUILD_STEP and ev.message.startswith("install: "):
            Path(ev.message.split(": ", 1)[1]).write_bytes(b"not a policy package")

    rec = proc.Recorder()
    loop = _loop(lab, installer=BuilderInstaller(MODULE, lab.module_dir, lab.root, record=rec))
    loop.progress = corrupt_first_install
    report = loop.run()
    assert report.outcome is Outcome.INSTALL_FAILED and len(report.iterations) == 1
    assert "nothing to roll back" in report.message
    assert MODULE not in {m.name for m in semodule.list_modules(lab.root)}
    assert not (lab.module_dir / f"{MODULE}.te").exists()  # the working files are as before too
    assert not (lab.module_dir / ".avcfix-loop" / MODULE / "installed").exists()
    assert [r.argv[-2] for r in rec.results if r.argv[0] == "semodule"] == ["-i"]


class _Boom:
    """An installer that fails with an unexpected error (a bug, a full disk...)."""

    module = MODULE

    def installed_version(self) -> str | None:
        return None

    def preview(self, findings: Sequence[Finding], complete: bool = False) -> tuple[str, ...]:
        return ()

    def install(self, findings: Sequence[Finding], on_step=None, complete=False) -> Installed:
        raise RuntimeError("disk on fire")


def test_an_exception_mid_loop_still_removes_the_permissive_mark(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)
    loop = _loop(lab, installer=_Boom(), permissive=True, dontaudit_off=True)
    with pytest.raises(RuntimeError, match="disk on fire"):
        loop.run()
    assert lab.kernel.state.permissive_domains == set()
    assert lab.kernel.state.dontaudit is True
    assert loop.admin.actions == [  # type: ignore[attr-defined]
        "semodule -DB", f"semanage permissive -a {DOMAIN}", f"semanage permissive -d {DOMAIN}", "semodule -B",
    ]


def test_sigterm_mid_loop_is_an_interruption_that_restores(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)

    class KilledWhileExplaining(FactsExplainer):
        def explain(self, groups):
            os.kill(os.getpid(), signal.SIGTERM)
            return super().explain(groups)

    before = signal.getsignal(signal.SIGTERM)
    report = _loop(lab, explainer=KilledWhileExplaining(euca_root), permissive=True).run()
    assert report.outcome is Outcome.INTERRUPTED and report.exit_code == 130
    assert lab.kernel.state.permissive_domains == set()
    assert signal.getsignal(signal.SIGTERM) is before


class _InstallsNothing:
    """Claims an install but leaves the policy alone: the same denial comes back."""

    module = MODULE

    def installed_version(self) -> str | None:
        return None

    def preview(self, findings, complete: bool = False) -> tuple[str, ...]:
        return ("allow something;",)

    def install(self, findings, on_step=None, complete=False) -> Installed:
        return Installed("1.0", True, ("+ allow something;",), MODULE)


def test_the_same_denials_twice_is_no_progress(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)
    report = _loop(lab, installer=_InstallsNothing()).run()
    assert report.outcome is Outcome.NO_PROGRESS and report.exit_code == ExitCode.NOT_CONVERGED
    assert len(report.iterations) == 2
    assert report.iterations[0].denials == report.iterations[1].denials


def test_max_iterations(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)
    report = _loop(lab, installer=_InstallsNothing(), max_iterations=1).run()
    assert report.outcome is Outcome.MAX_ITERATIONS and report.exit_code == 10
    assert len(report.iterations) == 1


def test_a_hidden_denial_is_reported_as_unhealthy_and_dontaudit_off_shows_it(euca_root: PolicyRoot,
                                                                            tmp_path: Path) -> None:
    base = load_scenario(LABS_DIR / "eucanetd.toml")
    probe = Access("read a leaked /tmp file of a user", "read",
                   (Check("file", ("read",), Target("context", context="user_u:object_r:user_tmp_t:s0")),))
    lab = Lab(dataclasses.replace(base, accesses=(probe,)), tmp_path, euca_root)
    report = _loop(lab).run()
    assert report.outcome is Outcome.UNHEALTHY and "--dontaudit-off" in report.message
    assert report.iterations[0].denials == ()

    report = _loop(lab, dontaudit_off=True).run()
    [d] = report.iterations[0].denials
    assert (d.target, d.tclass, d.reason) == ("user_tmp_t", "file", "dontaudit")
    assert lab.kernel.state.dontaudit is True  # restored
    assert report.restored == ("dontaudit rules enabled again (semodule -B)",)


def test_domain_option_filters_other_domains(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)
    # collecting for another domain: eucanetd's denials are not ours, the service is unhealthy
    report = _loop(lab, installer=_InstallsNothing(), domains=("eucalyptus_cloud_t",)).run()
    assert report.outcome is Outcome.UNHEALTHY
    assert report.domains == ("eucalyptus_cloud_t",)


def test_a_failed_permissive_mark_is_not_undone_twice(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)
    loop = _loop(lab, permissive=True)
    admin = loop.admin

    def broken(domain: str, on: bool) -> None:
        raise RuntimeError("semanage: cannot commit")

    admin.set_permissive = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="cannot commit"):
        loop.run()
    assert loop.guard.failures == [] and loop.guard.marked == []


def test_the_domain_is_learnt_from_the_service_executable(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)

    class Anonymous(type(lab.service())):  # a service whose domain is unknown before it runs
        def domains(self) -> tuple[str, ...]:
            return ()

        def restart(self, settle: float):
            return dataclasses.replace(super().restart(settle), domains=())

    loop = _loop(lab, installer=_InstallsNothing())
    loop.service = Anonymous(lab)
    report = loop.run()
    assert report.domains == (DOMAIN,)
    assert report.iterations[0].denials[0].source == DOMAIN
    assert any("found from its executable" in n for n in report.notes)


def test_a_failed_install_restores_the_permissive_mark_and_dontaudit(euca_root: PolicyRoot, tmp_path: Path) -> None:
    from avcfix.errors import InstallError

    class Fails(_Boom):
        def install(self, findings, on_step=None, complete=False) -> Installed:
            raise InstallError("semodule: failed to commit; rolled back to the previous version")

    lab = Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)
    loop = _loop(lab, installer=Fails(), permissive=True, dontaudit_off=True)
    report = loop.run()
    assert report.outcome is Outcome.INSTALL_FAILED and report.exit_code == 7
    assert lab.kernel.state.permissive_domains == set() and lab.kernel.state.dontaudit is True
    assert report.restored == (f"removed the permissive mark of {DOMAIN}",
                               "dontaudit rules enabled again (semodule -B)")


@pytest.mark.slow
def test_enforcing_loop_with_completion_converges_in_four_iterations(lab_root: PolicyRoot) -> None:
    """Completion (the loop's default): the pid file's dir denial brings the file's create/write
    permissions, the state dir's search the file's read_file_perms; 4 iterations instead of 6
    (the counts measured with --exact and without, README "Permission completion")."""
    lab = _lab("eucanetd", lab_root)
    asked: list[tuple[str, ...]] = []
    loop = _loop(lab, installer=BuilderInstaller(MODULE, lab.module_dir, lab.root, facts=lab.facts))
    loop.confirm = lambda question, details: asked.append(tuple(details)) or True
    report = loop.run()
    assert report.outcome is Outcome.CONVERGED, report.message
    # the admin is shown the rules as installed, the completed permissions included
    assert "allow eucalyptus_eucanetd_t eucalyptus_var_run_t:file { create getattr open write };" in asked[0]
    its = report.iterations
    assert len(its) <= 4 and [it.phase for it in its] == [Phase.ENFORCING] * len(its)
    # every rule the daemon needs is in the installed policy (what --exact's 5 denials asked for)
    for rule in EXPECTED_RULES:
        assert _granted(lab_root.policy_file, rule), rule
    marks = [c for it in its for c in it.completed]
    assert {(c["target"], c["tclass"], c["perm"]) for c in marks} >= {
        ("eucalyptus_var_run_t", "file", "create"), ("eucalyptus_var_lib_t", "file", "read")}
    assert all(c["set"] and c["after"] for c in marks)
    assert its[0].to_json()["completed"] == [dict(c) for c in its[0].completed]
    te = (lab.module_dir / f"{MODULE}.te").read_text()
    assert "# completed: { create getattr open } after denied eucalyptus_var_run_t:dir" in te
    _final_enforcing_run_is_clean(lab)
