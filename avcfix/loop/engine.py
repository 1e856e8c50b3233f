"""The loop: restart, collect new denials, rebuild, reinstall, until none appear.

One iteration:

1. set a checkpoint in the audit trail;
2. restart the service and let it settle;
3. collect the denials logged since the checkpoint for the service's domains;
4. none and the service healthy: converged;
5. classify them with the explanation engine: missing TE rules go into the
   module (merged, version bumped, compiled, installed); a better fix
   (boolean, port label, restorecon) stops the loop with the exact commands,
   or with ``apply_advice`` is applied through the backend;
6. stop on no progress (the same denials twice), on ``max_iterations``, or on
   a failed install (the installer has rolled back to the previous version).

``permissive``: the domains are marked permissive for one run that collects
every denial, the module is built and installed, the mark is removed, and an
enforcing run verifies. ``dontaudit_off``: dontaudit rules are disabled for
the whole loop. Whatever happens, :class:`~avcfix.loop.guard.StateGuard`
restores the permissive marks and the dontaudit state.

Progress goes to a callback (:class:`LoopEvent`); the rich UI is one listener.
Confirmation before each install goes through ``confirm``.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from avcfix.audit.group import group_denials
from avcfix.audit.model import Denial, DenialGroup
from avcfix.errors import CompileError, InputError, ToolError, UsageError
from avcfix.explain.model import Finding, Reason
from avcfix.loop.fixes import Fix, fix_for
from avcfix.loop.guard import StateGuard, interrupts_as_keyboard
from avcfix.loop.journal import Journal
from avcfix.loop.interfaces import (
    AuditTrail,
    Explainer,
    ModuleInstaller,
    PolicyAdmin,
    ServiceControl,
)
from avcfix.loop.model import (
    DenialSummary,
    IterationReport,
    LoopOptions,
    LoopReport,
    Outcome,
    Phase,
)

#: Reasons that need nothing done: the policy allows it now, or hides it on purpose.
IGNORABLE = (Reason.ALLOWED_NOW, Reason.DONTAUDIT)


class EventKind(str, enum.Enum):
    ITERATION = "iteration"      # an iteration starts
    RESTARTED = "restarted"      # the service was restarted and settled
    DENIALS = "denials"          # new denials found (report.denials)
    BUILD_STEP = "build_step"    # generate/compile/install... (message = step: detail)
    INSTALLED = "installed"      # module installed (message = version)
    APPLIED = "applied"          # a non-module fix applied
    DONE = "done"                # an iteration finished (report set)
    NOTE = "note"                # anything else worth a line
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class LoopEvent:
    kind: EventKind
    iteration: int
    message: str = ""
    report: IterationReport | None = None
    #: For DENIALS: the new denial groups, as the report will list them.
    denials: tuple[DenialSummary, ...] = ()


#: ``progress(event)``: called as the loop goes.
Progress = Callable[[LoopEvent], None]
#: ``confirm(question, details) -> bool``: True to go on.
Confirm = Callable[[str, Sequence[str]], bool]


def _yes(question: str, details: Sequence[str]) -> bool:
    return True


def _quiet(event: LoopEvent) -> None:
    return None


def _summaries(findings: Sequence[Finding], groups: Sequence[DenialGroup]) -> tuple[DenialSummary, ...]:
    out: list[DenialSummary] = []
    covered: set[tuple] = set()
    for f in findings:
        g = f.group
        covered.add(g.key)
        fix = f.advice[0].command if f.advice else None
        out.append(DenialSummary(g.source, g.target, g.tclass, f.perms, g.permissive, g.count,
                                 f.reason.value, g.example.example_path, fix))
    for g in groups:
        if g.key not in covered:
            out.append(DenialSummary(g.source, g.target, g.tclass, g.perms, g.permissive, g.count,
                                     "unexplained", g.example.example_path))
    return tuple(sorted(out, key=lambda d: (d.source, d.target, d.tclass, d.perms, d.permissive)))


def _progress_key(groups: Sequence[DenialGroup]) -> frozenset[tuple[str, str, str, tuple[str, ...]]]:
    """What "the same denials" means: (source, target, class, perms), mode ignored."""
    return frozenset((g.source, g.target, g.tclass, g.perms) for g in groups)


class Loop:
    """One ``avcfix loop`` run over the given backends."""

    def __init__(
        self,
        options: LoopOptions,
        service: ServiceControl,
        trail: AuditTrail,
        admin: PolicyAdmin,
        installer: ModuleInstaller,
        explainer: Explainer,
        *,
        confirm: Confirm = _yes,
        progress: Progress = _quiet,
        clock: Callable[[], float] = time.monotonic,
        lab: bool = False,
        journal: Journal | None = None,
        recovered: Sequence[str] = (),
    ) -> None:
        if options.max_iterations < 1:
            raise UsageError("--max-iterations must be at least 1")
        if options.settle < 0:
            raise UsageError("--settle must not be negative")
        self.o = options
        self.service = service
        self.trail = trail
        self.admin = admin
        self.installer = installer
        self.explainer = explainer
        self.confirm = confirm
        self.progress = progress
        self.clock = clock
        self.lab = lab
        #: Every change is journaled before it is made (None: in memory, as in unit tests).
        self.journal = journal if journal is not None else Journal(None)
        #: What a recovery of an interrupted run undid before this one (for the report).
        self.recovered = tuple(recovered)
        self.guard = StateGuard(admin, self.journal)
        self.iterations: list[IterationReport] = []
        self.domains: tuple[str, ...] = tuple(options.domains)
        self.version: str | None = None
        self.notes: list[str] = []

    # ------------------------------------------------------------------ run

    def run(self) -> LoopReport:
        """Run to an outcome. Errors propagate (after restoring); Ctrl-C is an outcome."""
        start = self.clock()
        self.version = self.installer.installed_version()
        outcome, message, decisions = Outcome.INTERRUPTED, "interrupted", ()
        try:
            with interrupts_as_keyboard():
                outcome, message, decisions = self._run()
        except KeyboardInterrupt as exc:
            outcome, message = Outcome.INTERRUPTED, "interrupted: the system was restored"
            self.notes.extend(getattr(exc, "__notes__", ()))  # rollback steps that failed
        finally:
            self.guard.restore()
            for failure in self.guard.failures:  # shown even when an error is on its way out
                self._emit(EventKind.WARNING, len(self.iterations), failure)
            # an orderly end: the marks are off (else the journal stays for a recovery)
            self.journal.finish(restored=not self.guard.failures)
        restored = tuple(self.guard.restored)
        if self.guard.failures:
            # restoring failed: that is an error the admin must see, whatever the outcome
            raise ToolError("; ".join(self.guard.failures))
        return LoopReport(
            outcome=outcome,
            message=message,
            service=self.o.service,
            module=self.installer.module,
            domains=self.domains,
            iterations=tuple(self.iterations),
            module_version=self.version,
            decisions=tuple(decisions),
            restored=restored,
            recovered=self.recovered,
            seconds=self.clock() - start,
            lab=self.lab,
            notes=tuple(self.notes),
        )

    def _emit(self, kind: EventKind, iteration: int, message: str = "",
              report: IterationReport | None = None) -> None:
        self.progress(LoopEvent(kind, iteration, message, report))

    def _run(self) -> tuple[Outcome, str, tuple[str, ...]]:
        o = self.o
        if not self.domains:
            self.domains = tuple(self.service.domains())
        if o.permissive and not self.domains:
            raise UsageError(f"--permissive needs the domain of {o.service}: give --domain")
        if o.dontaudit_off:
            self._emit(EventKind.NOTE, 0, "disabling dontaudit rules (semodule -DB)")
            self.guard.disable_dontaudit()
        phase = Phase.ENFORCING
        if o.permissive:
            phase = Phase.PERMISSIVE
            for d in self.domains:
                if self.guard.mark_permissive(d):
                    self._emit(EventKind.NOTE, 0, f"marked {d} permissive (semanage permissive -a {d})")
                else:
                    self.notes.append(f"{d} was already permissive: left so")
        previous: frozenset | None = None
        for n in range(1, o.max_iterations + 1):
            t0 = self.clock()
            self._emit(EventKind.ITERATION, n, phase.value)
            mark = self.trail.checkpoint()
            run = self.service.restart(o.settle)
            self._emit(EventKind.RESTARTED, n, f"{run.state}{': ' + run.detail if run.detail else ''}")
            read = self.trail.read_since(mark)
            for w in read.warnings:
                self._emit(EventKind.WARNING, n, w)
            if not self.domains:
                self.domains = tuple(run.domains) or self._learn_domains(read.denials)
            mine = [d for d in read.denials if d.stype in self.domains]
            groups = group_denials(mine)
            findings = self.explainer.explain(groups) if groups else []
            actionable = [f for f in findings if f.reason not in IGNORABLE]
            summaries = _summaries(findings, groups)
            base = dict(number=n, phase=phase, healthy=run.healthy, service_state=run.state,
                        denials=summaries, warnings=read.warnings)
            if summaries:
                self.progress(LoopEvent(EventKind.DENIALS, n, f"{len(summaries)} new denial group(s)",
                                        denials=summaries))

            if not actionable:
                if run.healthy:
                    if phase is Phase.PERMISSIVE:
                        # nothing to collect: drop the mark and verify enforcing
                        self._unmark_all(n)
                        self._finish(base, t0, module_version=self.version)
                        phase = Phase.VERIFY
                        continue
                    self._finish(base, t0, module_version=self.version)
                    ignored = f" ({len(findings)} denial group(s) the policy allows now or hides)" if findings else ""
                    return Outcome.CONVERGED, (f"converged after {n} iteration(s): {o.service} runs with no "
                                               f"new denial{ignored}"), ()
                self._finish(base, t0, module_version=self.version)
                hint = "" if o.dontaudit_off else "; a dontaudit rule may hide it: rerun with --dontaudit-off"
                return Outcome.UNHEALTHY, (f"{o.service} is {run.state} but logged no new denial for "
                                           f"{', '.join(self.domains) or 'its domain'}{hint}"), ()

            key = _progress_key([f.group for f in actionable])
            if key == previous:
                self._finish(base, t0, module_version=self.version)
                return Outcome.NO_PROGRESS, "the same denials came back after the last fix", ()
            previous = key

            module_findings = [f for f in actionable if f.needs_module]
            fixes: list[Fix] = []
            decisions: list[str] = []
            for f in actionable:
                if f.needs_module:
                    continue
                fix = fix_for(f)
                if fix is not None and o.apply_advice:
                    if fix.key not in {x.key for x in fixes}:
                        fixes.append(fix)
                elif f.advice:
                    decisions.append(f.advice[0].command)
                else:
                    decisions.append(f"# {f.group.source} {f.group.target}:{f.group.tclass} "
                                     f"{{ {' '.join(f.perms)} }}: {f.reason.value} {f.detail}".strip())
            decisions = sorted(set(decisions))

            added: tuple[str, ...] = ()
            did_something = False
            if module_findings:
                ok, added, installed, failure = self._install(n, module_findings)
                if failure is not None:
                    self._finish(base, t0, module_version=self.version)
                    return failure
                if not ok:
                    self._finish(base, t0, module_version=self.version)
                    return Outcome.DECLINED, "the install was declined; nothing was installed", ()
                # an unchanged module reinstalled (it had been removed) is progress too;
                # if it changes nothing, the same denials come back: no progress next time
                did_something = bool(added) or installed

            applied: list[str] = []
            if fixes:
                details = [fx.command for fx in fixes]
                if not self.confirm(f"Apply {len(fixes)} fix(es)?", details):
                    self._finish(base, t0, rules_added=added, module_version=self.version)
                    return Outcome.DECLINED, "applying the fixes was declined", tuple(details)
                for fx in fixes:
                    entry = self.journal.begin("fix", {"fix": fx.to_json()}, self.admin.fix_before(fx))
                    done = self.admin.apply_fix(fx)
                    self.journal.done(entry)
                    applied.append(done)
                    self._emit(EventKind.APPLIED, n, done)
                did_something = True

            if decisions:
                self._finish(base, t0, rules_added=added, module_version=self.version, applied=tuple(applied))
                return (Outcome.NEEDS_DECISION,
                        "these denials have a better fix than a policy module; an admin must choose "
                        "(rerun with --apply-advice to apply them)", tuple(decisions))
            if not did_something:
                self._finish(base, t0, rules_added=added, module_version=self.version, applied=tuple(applied))
                return (Outcome.NO_PROGRESS,
                        "the module already holds these rules but they are still denied", ())
            if phase is Phase.PERMISSIVE:
                self._unmark_all(n)
                phase_after = Phase.VERIFY
            else:
                phase_after = Phase.ENFORCING
            self._finish(base, t0, rules_added=added, module_version=self.version, applied=tuple(applied))
            phase = phase_after
        return (Outcome.MAX_ITERATIONS,
                f"not converged after {o.max_iterations} iteration(s) (--max-iterations)", ())

    def _learn_domains(self, denials: Sequence[Denial]) -> tuple[str, ...]:
        exes = set(self.service.executables())
        comm = self.o.service.removesuffix(".service")[:15]
        found = sorted({d.stype for d in denials if (d.exe and d.exe in exes) or d.comm == comm})
        if found:
            self.notes.append(f"domain(s) of {self.o.service} found from its executable: {', '.join(found)}")
        return tuple(found)

    def _unmark_all(self, n: int) -> None:
        for d in list(self.guard.marked):
            self.guard.unmark(d)
            self._emit(EventKind.NOTE, n, f"removed the permissive mark of {d}; verifying in enforcing mode")

    def _install(self, n: int, findings: Sequence[Finding]
                 ) -> tuple[bool, tuple[str, ...], bool, tuple[Outcome, str, tuple[str, ...]] | None]:
        """(confirmed, rules added, semodule ran, failure outcome or None)."""
        from avcfix.policy.generate import generate_module  # preview of the rules, pure
        from avcfix.policy.render import rule_te

        preview = generate_module(findings, name=self.installer.module).module
        lines = tuple(sorted(rule_te(r) for r in preview.rules))
        question = f"Install module {self.installer.module} with these rules into the policy?"
        if not self.confirm(question, lines):
            return False, (), False, None

        def on_step(step: str, detail: str) -> None:
            self._emit(EventKind.BUILD_STEP, n, f"{step}: {detail}")

        entry = self.journal.begin("module", {"module": self.installer.module, "version_before": self.version})
        try:
            result = self.installer.install(findings, on_step)
        except (CompileError, ToolError, InputError) as exc:
            # the installer has rolled back already; rollback steps that failed are notes
            for note in getattr(exc, "__notes__", ()):
                self.notes.append(note)
                self._emit(EventKind.WARNING, n, note)
            outcome = (Outcome.COMPILE_FAILED if isinstance(exc, CompileError) else
                       Outcome.WRITE_FAILED if isinstance(exc, InputError) else Outcome.INSTALL_FAILED)
            self.journal.undone(entry, {Outcome.COMPILE_FAILED: "did not compile",
                                        Outcome.WRITE_FAILED: "could not write the module; rolled back",
                                        Outcome.INSTALL_FAILED: "install failed; rolled back"}[outcome])
            return True, (), False, (outcome, str(exc), ())
        self.journal.done(entry, version=result.version)
        self.version = result.version
        for m in result.missing:
            self._emit(EventKind.WARNING, n, f"not in the policy after install: {m}")
        for w in result.warnings:
            self.notes.append(w)
            self._emit(EventKind.WARNING, n, w)
        self._emit(EventKind.INSTALLED, n, f"{result.module} {result.version}")
        return True, result.added if result.changed else (), result.installed, None

    def _finish(self, base: dict, t0: float, **more: object) -> None:
        report = IterationReport(**base, seconds=self.clock() - t0, **more)  # type: ignore[arg-type]
        self.iterations.append(report)
        self._emit(EventKind.DONE, report.number, report=report)


def run_loop(options: LoopOptions, service: ServiceControl, trail: AuditTrail, admin: PolicyAdmin,
             installer: ModuleInstaller, explainer: Explainer, **kw: object) -> LoopReport:
    """Convenience: ``Loop(...).run()``."""
    return Loop(options, service, trail, admin, installer, explainer, **kw).run()  # type: ignore[arg-type]
