"""``avcfix loop``: restart a service until no new denial appears (real system or ``--lab``)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Optional

import typer
from rich.prompt import Confirm
from rich.table import Table

from avcfix.cli.app import app, console, console_err
from avcfix.cli.common import markup_text
from avcfix.cli.output import FORMAT_HELP, OutputFormat, resolve_format
from avcfix.errors import ToolError, UsageError
from avcfix.loop.engine import Confirm as ConfirmFn
from avcfix.loop.engine import EventKind, Loop, LoopEvent
from avcfix.loop.session import BusyError, LoopSession, state_dir_for
from avcfix.looptypes.model import IterationReport, LoopOptions, LoopReport, NewDomainPlan, Outcome, PreflightCheck
from avcfix.looptypes.preflight import failure_message
from avcfix.report.documents import versioned, write_document
from avcfix.toolchain.store import PolicyRoot, host_policy_name

#: Version of the ``--json`` report (README, "avcfix loop").

DEFAULT_LOG = Path("/var/log/audit/audit.log")

_OUTCOME_STYLE = {
    Outcome.CONVERGED: "bold green",
    Outcome.NEEDS_DECISION: "bold yellow",
}



def module_name_for(service: str) -> str:
    """``eucanetd`` -> ``eucanetd_local`` (letters, digits and ``_`` only)."""
    base = re.sub(r"\.service$", "", service)
    base = re.sub(r"[^A-Za-z0-9_]", "_", base).strip("_") or "avcfix"
    if not base[0].isalpha():
        base = "m_" + base
    return f"{base}_local"


class _Printer:
    """The rich listener: one block per iteration on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, ev: LoopEvent) -> None:
        if self.quiet:
            return
        p = console_err.print
        if ev.kind is EventKind.ITERATION:
            p(f"[bold]iteration {ev.iteration}[/] ({markup_text(ev.message)}): restarting...")
        elif ev.kind is EventKind.RESTARTED:
            p(f"  service: {markup_text(ev.message)}")
        elif ev.kind is EventKind.BUILD_STEP:
            p(f"  [dim]{markup_text(ev.message)}[/]")
        elif ev.kind is EventKind.INSTALLED:
            p(f"  [green]installed[/] {markup_text(ev.message)}")
        elif ev.kind is EventKind.APPLIED:
            p(f"  [green]applied[/] {markup_text(ev.message)}")
        elif ev.kind is EventKind.FALLBACK:
            p(f"  [yellow]fallback[/] {markup_text(ev.message)}")
        elif ev.kind is EventKind.WARNING:
            p(f"  [yellow]warning:[/] {markup_text(ev.message)}")
        elif ev.kind is EventKind.NOTE:
            p(f"  {markup_text(ev.message)}")
        elif ev.kind is EventKind.DENIALS:
            for d in ev.denials:
                perms = " ".join(d.perms)
                mode = " permissive=1" if d.permissive else ""
                p(f"  [red]denied[/] {{ {markup_text(perms)} }} {markup_text(d.source)} -> {markup_text(d.target)}:{markup_text(d.tclass)}"
                  f"  [dim]({markup_text(d.reason)}{mode}{', ' + markup_text(d.path) if d.path else ''})[/]")
        elif ev.kind is EventKind.DONE and ev.report is not None:
            self._done(ev.report)

    def _done(self, r: IterationReport) -> None:
        p = console_err.print
        for rule in r.rules_added:
            p(f"  [green]{markup_text(rule)}[/]")
        p(f"  -> {len(r.denials)} new denial group(s), {len(r.rules_added)} rule(s) added, "
          f"module {markup_text(r.module_version or '-')}, {r.seconds:.1f}s")


def _confirm_factory(yes: bool) -> ConfirmFn:
    """Ask before each install on a terminal; ``--yes`` or no TTY: go ahead."""
    interactive = not yes and sys.stdin.isatty()

    def confirm(question: str, details: Sequence[str]) -> bool:
        if not interactive:
            return True
        for line in details:
            console_err.print(f"    {markup_text(line)}")
        return Confirm.ask(markup_text(question), console=console_err.real, default=False)

    return confirm


def _summary(report: LoopReport) -> None:
    style = _OUTCOME_STYLE.get(report.outcome, "bold red")
    lab = " [dim](lab: simulated kernel)[/]" if report.lab else ""
    console.print(f"[{style}]{markup_text(report.outcome.value.replace('_', ' '))}[/]{lab}: {markup_text(report.message)}")
    if report.outcome is Outcome.PREFLIGHT_FAILED:
        for c in report.preflight:
            mark = "[green]ok[/]    " if c.ok else "[bold red]FAILED[/]"
            console.print(f"  {mark} {markup_text(c.check)}: {markup_text(c.detail)}")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("#", "phase", "service", "new denials", "rules added", "module", "seconds"):
        table.add_column(col, justify="right" if col in ("#", "new denials", "rules added", "seconds") else "left")
    for it in report.iterations:
        table.add_row(str(it.number), it.phase.value, markup_text(it.service_state), str(len(it.denials)),
                      str(len(it.rules_added)), markup_text(it.module_version or "-"), f"{it.seconds:.1f}")
    console.print(table)
    console.print(f"module {markup_text(report.module)} {markup_text(report.module_version or '(not installed)')}; "
                  f"{len(report.rules_added)} rule(s) added in {len(report.iterations)} iteration(s), "
                  f"{report.seconds:.1f}s")
    for fb in report.fallbacks:
        console.print(f"fallback: {markup_text(fb.line())}")
    if report.decisions:
        console.print("[bold yellow]an admin must decide; the fix(es):[/]")
        for cmd in report.decisions:
            console.print(f"  {markup_text(cmd)}")
    for line in report.recovered:
        console.print(f"recovered: {markup_text(line)}")
    for line in report.restored:
        console.print(f"restored: {markup_text(line)}")
    for line in report.notes:
        console.print(f"note: {markup_text(line)}")
    nd = report.new_domain
    if nd is not None:
        if nd.get("installed") and nd.get("relabelled"):
            console.print(f"new domain {markup_text(nd['domain'])}: module {markup_text(nd['name'])} installed, "
                          f"{markup_text(', '.join(nd['relabel']))} relabelled; {markup_text(report.service)} runs confined")
        else:
            console.print(f"new domain {markup_text(nd['domain'])}: taken back (the loop did not converge); "
                          f"{markup_text(report.service)} runs as before the loop")


@app.command()
def loop(
    service: Optional[str] = typer.Option(None, "--service", "-s", help="systemd unit to restart."),
    lab: Optional[str] = typer.Option(None, "--lab", help="Run a lab scenario (SIMULATED kernel, real "
                                      "policy and toolchain): a shipped scenario (avcfix/lab/scenarios) or a .toml path."),
    domain: Optional[list[str]] = typer.Option(None, "--domain", "-d",
                                               help="Domain(s) to collect; overrides the service's."),
    module: Optional[str] = typer.Option(None, "--module", "-m", help="Module name (default SERVICE_local)."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Where the module's .te/.pp go "
                                           "(default: . ; lab: LAB_DIR/module)."),
    settle: Optional[float] = typer.Option(None, "--settle", help="Seconds to let the service run "
                                           "after a restart (default 5; lab 0)."),
    max_iterations: int = typer.Option(10, "--max-iterations", help="Stop after this many iterations."),
    permissive: bool = typer.Option(False, "--permissive", help="Collect everything in one permissive "
                                    "run, install, then verify enforcing."),
    dontaudit_off: bool = typer.Option(False, "--dontaudit-off", help="Disable dontaudit rules while "
                                       "collecting (semodule -DB); restored after."),
    apply_advice: bool = typer.Option(False, "--apply-advice", help="Apply boolean/port/restorecon fixes "
                                      "instead of stopping for a decision."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before each install."),
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable report on stdout "
                                 "(--format json)."),
    fmt: Optional[OutputFormat] = typer.Option(None, "--format", help=FORMAT_HELP),
    root: Optional[Path] = typer.Option(None, "--root", help="Policy root to install into "
                                        "(semodule -p ROOT; default /). Lab: the lab's base store."),
    priority: Optional[int] = typer.Option(None, "--priority", help="semodule -X PRIORITY."),
    log: Path = typer.Option(DEFAULT_LOG, "--log", help="The audit log to read."),
    lab_dir: Optional[Path] = typer.Option(None, "--lab-dir", help="Lab workspace (policy root, log, "
                                           "module); reused when it exists. Default: a new temp dir."),
    recover: bool = typer.Option(False, "--recover", help="Only undo what an interrupted (killed) loop "
                                 "left on this root (--root) or lab (--lab-dir), then exit."),
    new_domain: Optional[str] = typer.Option(None, "--new-domain", help="Confine a service that has no domain "
                                             "yet: install the skeleton module NAME (domain NAME_t, as 'build "
                                             "--new-domain'), relabel --exec, then loop; taken back unless "
                                             "the loop converges."),
    exec_path: Optional[str] = typer.Option(None, "--exec", help="With --new-domain: the service's executable."),
    exact: bool = typer.Option(False, "--exact", help="No permission completion: only the denied "
                               "permissions, one restart per denial (docs/completion.md)."),
) -> None:
    """Restart a service, collect new denials, rebuild and reinstall the module, until none appear.

    Exit codes: 0 converged, 10 not converged (no progress, max iterations,
    service unhealthy without denials, install declined), 11 needs an admin's
    decision (boolean, port label, restorecon), 3 the module's files cannot be
    written, 6 compile error, 7 install failed (rolled back), 12 another loop
    holds the lock, 13 preflight failed (a real loop cannot work on this host;
    nothing changed), 130 interrupted.
    """
    as_json = resolve_format(fmt, as_json) == "json"
    if recover:
        _emit(_recover(lab, lab_dir, root, service), as_json)
        return
    if (service is None) == (lab is None):
        raise UsageError("give exactly one of --service NAME or --lab SCENARIO")
    if max_iterations < 1:
        raise UsageError("--max-iterations must be at least 1")
    _check_names(tuple(domain or ()), module)
    confirm = _confirm_factory(yes)
    printer = _Printer(quiet=False)
    domains = tuple(domain or ())
    if new_domain is not None or exec_path is not None:
        from avcfix.policy.skeleton import check_name, check_path

        if new_domain is None or exec_path is None:
            raise UsageError("--new-domain NAME and --exec PATH go together")
        check_name(new_domain)
        check_path(exec_path)
        if module is not None and module != new_domain:
            raise UsageError(f"--new-domain {new_domain}: the loop's module is {new_domain} (drop --module {module})")
        if permissive:
            raise UsageError("--new-domain confines the service enforcing: it does not go with --permissive")
        module = new_domain
        domains = domains or (f"{new_domain}_t",)
    nd = (new_domain, exec_path) if new_domain is not None and exec_path is not None else None
    try:
        if lab is not None:
            report = _run_lab(lab, lab_dir, root, domains, module, out_dir, settle, max_iterations, permissive,
                              dontaudit_off, apply_advice, priority, confirm, printer, nd, complete=not exact)
        else:
            assert service is not None
            report = _run_system(service, domains, module, out_dir, settle, max_iterations, permissive,
                                 dontaudit_off, apply_advice, root, priority, log, confirm, printer, nd,
                                 complete=not exact)
    except BusyError as exc:
        if not as_json:
            raise
        name = service or lab or ""
        report = LoopReport(Outcome.BUSY, str(exc), name, module or module_name_for(name), domains, (),
                            lab=lab is not None)
    _emit(report, as_json)


def _emit(report: LoopReport, as_json: bool) -> None:
    if as_json:
        write_document(versioned(**report.to_json()))
    else:
        _summary(report)
    if report.exit_code:
        raise SystemExit(report.exit_code)


def _check_names(domains: Sequence[str], module: str | None) -> None:
    """--domain and --module must be SELinux identifiers (usage errors, exit 2)."""
    from avcfix.names.identifiers import identifier_problem

    for what, value in [("--domain", d) for d in domains] + ([("--module", module)] if module else []):
        problem = identifier_problem(value)
        if problem:
            raise UsageError(f"{what} {value!r}: {problem}")


def _options(service: str, domains: tuple[str, ...], module: str | None, settle: float,
             max_iterations: int, permissive: bool, dontaudit_off: bool, apply_advice: bool,
             complete: bool = True) -> LoopOptions:
    """``complete``: permission completion in the enforcing phase (``--exact`` turns it off)."""
    name = module or module_name_for(service)
    _check_names(domains, name)
    return LoopOptions(service=service, module=name, domains=domains, settle=settle,
                       max_iterations=max_iterations, permissive=permissive, dontaudit_off=dontaudit_off,
                       apply_advice=apply_advice, complete=complete)


def _plan(nd: tuple[str, str] | None, exists: Callable[[str], bool]) -> NewDomainPlan | None:
    """The ``--new-domain`` plan: relabel the executable and the skeleton's directories that exist."""
    from avcfix.policy.skeleton import LIB_DIR, LOG_DIR, RUN_DIR

    if nd is None:
        return None
    name, exe = nd
    dirs = [f"{d}/{name}" for d in (RUN_DIR, LOG_DIR, LIB_DIR)]
    return NewDomainPlan(name, exe, (exe, *[d for d in dirs if exists(d)]))


def _run_lab(lab: str, lab_dir: Path | None, base: Path | None, domains: tuple[str, ...], module: str | None,
             out_dir: Path | None, settle: float | None, max_iterations: int, permissive: bool,
             dontaudit_off: bool, apply_advice: bool, priority: int | None, confirm: ConfirmFn, printer: _Printer,
             nd: tuple[str, str] | None = None, complete: bool = True) -> LoopReport:
    from avcfix.lab.backends import Lab, prepare_root
    from avcfix.lab.scenario import find_scenario, load_scenario
    from avcfix.loop.backends import BuilderInstaller

    scenario_path = find_scenario(lab)
    scenario = load_scenario(scenario_path)
    workdir = Path(lab_dir) if lab_dir is not None else Path(tempfile.mkdtemp(prefix=f"avcfix-lab-{scenario.name}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    console_err.print(f"[bold]lab[/] {markup_text(scenario.name)}: a SIMULATED kernel deciding with the real policy; "
                      f"workspace {markup_text(workdir)}")
    base_root = PolicyRoot(base, host_policy_name(base)) if base is not None else PolicyRoot(Path("/"), host_policy_name())
    opts = _options(scenario.service, domains, module, 0.0 if settle is None else settle, max_iterations,
                    permissive, dontaudit_off, apply_advice, complete)
    meta = {"kind": "lab", "service": scenario.service, "module": opts.module, "scenario_name": scenario.name,
            "scenario": str(scenario_path.resolve()), "lab_dir": str(workdir.resolve()),
            "policy_name": base_root.name}
    with _session(state_dir_for(workdir), meta) as session:  # the lab dir is the machine
        root = prepare_root(scenario, workdir, base_root, note=lambda m: console_err.print(f"  {markup_text(m)}"))
        the_lab = Lab(scenario, workdir, root)
        installer = BuilderInstaller(opts.module, out_dir or the_lab.module_dir, root, priority=priority,
                                     facts=the_lab.facts)
        plan = _plan(nd, lambda p: p in the_lab.kernel.state.files)
        if plan is not None and plan.exec_path not in the_lab.kernel.state.files:
            raise UsageError(f"--exec {plan.exec_path}: the lab scenario has no such file (its exe is "
                             f"{scenario.exe})")
        loop = Loop(opts, the_lab.service(), the_lab.trail(), the_lab.admin(), installer, the_lab.explainer(),
                    confirm=confirm, progress=printer, lab=True, journal=session.journal,
                    recovered=session.recovered, new_domain=plan)
        report = loop.run()
    console_err.print(f"lab log: {markup_text(the_lab.log)}; module: {markup_text(installer.te_path)}")
    return report


def _run_system(service: str, domains: tuple[str, ...], module: str | None, out_dir: Path | None,
                settle: float | None, max_iterations: int, permissive: bool, dontaudit_off: bool,
                apply_advice: bool, root: Path | None, priority: int | None, log: Path, confirm: ConfirmFn,
                printer: _Printer, nd: tuple[str, str] | None = None, complete: bool = True) -> LoopReport:
    from avcfix.loop.backends import BuilderInstaller
    from avcfix.system.semanage import SemanageAdmin
    from avcfix.system.systemd import SystemdService, check_unit_name
    from avcfix.system.trail import SystemTrail
    from avcfix.triage import FactsExplainer

    check_unit_name(service)
    proot = PolicyRoot(root, host_policy_name(root)) if root is not None else PolicyRoot(Path("/"), host_policy_name())
    opts = _options(service, domains, module, 5.0 if settle is None else settle, max_iterations, permissive,
                    dontaudit_off, apply_advice, complete)
    explainer = FactsExplainer(proot)
    installer = BuilderInstaller(opts.module, out_dir or Path("."), proot, priority=priority,
                                 facts=explainer.facts)
    checks = _preflight(service, proot, log, out_dir or Path("."))
    failed = failure_message(checks)
    if failed is not None:
        return LoopReport(outcome=Outcome.PREFLIGHT_FAILED, message=failed, service=service, module=opts.module,
                          domains=opts.domains, iterations=(), module_version=installer.installed_version(),
                          preflight=checks)
    try:
        policy = proot.policy_file
    except Exception:  # no policy in that root: the domain must come from the running service
        policy = None
    meta = {"kind": "system", "service": service, "module": opts.module, "root": str(proot.root.resolve()),
            "policy_name": proot.name}
    with _session(state_dir_for(proot.root), meta) as session:
        plan = _plan(nd, os.path.lexists)
        if plan is not None and not os.path.isfile(plan.exec_path):
            raise UsageError(f"--exec {plan.exec_path}: no such file")
        loop = Loop(opts, SystemdService(service, policy=policy), SystemTrail(log), SemanageAdmin(proot),
                    installer, explainer, confirm=confirm, progress=printer, journal=session.journal,
                    recovered=session.recovered, new_domain=plan)
        return dataclasses.replace(loop.run(), preflight=checks)


@contextlib.contextmanager
def _session(state_dir: Path, meta: dict[str, str], announce: bool = True) -> Iterator[LoopSession]:
    """Lock the machine, undo what a killed loop left (shown on stderr), journal this run."""
    with LoopSession(state_dir, meta) as session:
        for line in session.recovered if announce else ():
            console_err.print(f"  [yellow]recovered:[/] {markup_text(line)}")
        if session.failures:
            raise ToolError("recovering an interrupted loop failed: " + "; ".join(session.failures)
                            + f" (its journal is kept in {state_dir}; fix this, then run avcfix loop --recover)")
        yield session


def _recover(lab: str | None, lab_dir: Path | None, root: Path | None,
             service: str | None) -> LoopReport:
    """``--recover``: lock, undo what interrupted runs left, report it."""
    if lab is not None and lab_dir is None:
        raise UsageError("--recover of a lab needs its --lab-dir DIR")
    if lab_dir is not None:
        machine, kind = Path(lab_dir), True
        if not machine.is_dir():
            raise UsageError(f"--lab-dir {lab_dir}: no such directory")
    else:
        machine, kind = (Path(root) if root is not None else Path("/")), False
    state = state_dir_for(machine)
    with _session(state, {"kind": "recover"}, announce=False) as session:
        recovered = session.recovered
    services = sorted({r.service for r in session.recoveries if r.service})
    if recovered:
        message = f"undid what an interrupted loop left in {machine}"
    elif session.recoveries:
        message = f"an interrupted loop had left nothing to undo in {machine}"
    else:
        message = f"nothing to recover: no interrupted loop in {machine}"
    return LoopReport(Outcome.RECOVERED, message, ", ".join(services) or (service or lab or ""), "",
                      (), (), recovered=recovered, lab=kind)


def _preflight(service: str, root: PolicyRoot, log: Path, out_dir: Path) -> tuple[PreflightCheck, ...]:
    """The host checks of a real loop (never in the lab); failures are the report's."""
    from avcfix.looptypes.preflight import PreflightRequest, run_preflight
    from avcfix.system.hostfacts import RealHost

    checks = run_preflight(RealHost(), PreflightRequest(service, root, log, out_dir))
    if all(c.ok for c in checks):
        console_err.print(f"[bold]preflight[/]: ok ({markup_text(', '.join(c.check for c in checks))})")
    return checks
