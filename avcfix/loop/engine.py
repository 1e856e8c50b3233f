"""The loop: restart, collect new denials, rebuild, reinstall, until none appear.

One iteration:

1. set a checkpoint in the audit trail;
2. restart the service and let it settle;
3. collect the denials logged since the checkpoint for the service's domains;
4. none and the service healthy: converged;
5. classify them with the explanation engine: missing TE rules go into the
   module (merged, version bumped, compiled, installed); a better fix
   (boolean, port label, restorecon, fcontext, fcontext equivalence) stops the
   loop with the exact commands, or with ``apply_advice`` is applied through
   the backend -- a relabel only when it is aimed at the denied object
   (:func:`avcfix.explain.fixes.aimed_at_object`);
6. stop on no progress (the same denials twice with nothing new to try), on
   ``max_iterations``, or on a failed install (the installer has rolled back to
   the previous version).

Fallback (``apply_advice``): the loop remembers, per denial key (source,
target, class, perms), the fixes it applied. When the same denial comes back
on the same object in the next run, the fix did not help: the loop takes it
back at once (an admin reverts a boolean or relabel that did not help, which
keeps the system as narrow as it was; a fix that helped another denial of the
same run is kept), journals that, and tries the finding's next applicable
advice, then its module rule, instead of stopping. Each fallback is in the
iteration's report (``fallbacks``). The same key on *another* object (a
second mislabelled file after the first was restored) is not a failure: the
fix is kept and the new object's own advice is applied.

``permissive``: the domains are marked permissive for one run that collects
every denial, the module is built and installed, the mark is removed, and an
enforcing run verifies. ``dontaudit_off``: dontaudit rules are disabled for
the whole loop. Whatever happens, :class:`~avcfix.loop.guard.StateGuard`
restores the permissive marks and the dontaudit state.

The policy is opened once per policy: the explainer's facts are shared by
everything that asks the policy (the installer's check and verification; in
the lab, the simulated kernel and its relabels too), reopened when a file
they were read from changed (an install's verification opens the rebuilt
policy, which the next iteration explains with), and closed when the loop
ends (``explainer.close()``, when the explainer has it;
``explainer.end_iteration()`` is called as each iteration ends).

Progress goes to a callback (:class:`LoopEvent`); the rich UI is one listener.
Confirmation before each install goes through ``confirm``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NotRequired, TypedDict, Unpack

from avcfix.audit.group import Key, group_denials
from avcfix.audit.model import Denial, DenialGroup
from avcfix.errors import AvcfixError, CompileError, InputError, ToolError, UsageError
from avcfix.explain.fixes import RELABELS, Fix, FixKey, aimed_at_object, fix_from_advice, restorecon_fix
from avcfix.explain.model import AdviceKind, Finding, Reason
from avcfix.explain.objects import ObjectKind
from avcfix.loop.guard import StateGuard, interrupts_as_keyboard
from avcfix.loop.journal import Journal
from avcfix.looptypes.interfaces import (
    AuditTrail,
    Explainer,
    ModuleInstaller,
    PolicyAdmin,
    ServiceControl,
)
from avcfix.looptypes.model import (
    DenialSummary,
    Fallback,
    IterationReport,
    LoopOptions,
    LoopReport,
    NewDomainPlan,
    Outcome,
    Phase,
)


class _IterationBase(TypedDict):
    """The fields of an iteration's report known once its denials are read."""

    number: int
    phase: Phase
    healthy: bool
    service_state: str
    denials: tuple[DenialSummary, ...]
    warnings: tuple[str, ...]
    fallbacks: NotRequired[tuple[Fallback, ...]]


class _IterationEnd(TypedDict, total=False):
    """The fields of an iteration's report known when it ends."""

    rules_added: tuple[str, ...]
    module_version: str | None
    applied: tuple[str, ...]


#: Reasons that need nothing done: the policy allows it now, or hides it on purpose.
IGNORABLE = (Reason.ALLOWED_NOW, Reason.DONTAUDIT)


class EventKind(str, enum.Enum):
    ITERATION = "iteration"      # an iteration starts
    RESTARTED = "restarted"      # the service was restarted and settled
    DENIALS = "denials"          # new denials found (report.denials)
    BUILD_STEP = "build_step"    # generate/compile/install... (message = step: detail)
    INSTALLED = "installed"      # module installed (message = version)
    APPLIED = "applied"          # a non-module fix applied
    FALLBACK = "fallback"        # a denial came back after a fix: what is tried next
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
    covered: set[Key] = set()
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


#: One denial, as the fallback remembers it: (source, target, class, the finding's perms).
DenialKey = tuple[str, str, str, tuple[str, ...]]

#: Reasons whose finding a module rule can fix (what :attr:`Finding.needs_module` accepts).
_MODULE_REASONS = (Reason.TE_RULE, Reason.PERMISSIVE, Reason.NO_POLICY)


def _denial_key(f: Finding) -> DenialKey:
    g = f.group
    return (g.source, g.target, g.tclass, tuple(f.perms))


def _object_path(f: Finding) -> str | None:
    obj = f.object
    return obj.path if obj is not None and obj.kind is ObjectKind.PATH else None


def _module_only(f: Finding) -> Finding:
    """``f`` with its module rule as its only advice: what the installer builds a rule for."""
    return replace(f, advice=tuple(a for a in f.advice if a.kind is AdviceKind.MODULE))


def _key_json(k: DenialKey) -> list[Any]:
    return [k[0], k[1], k[2], list(k[3])]


@dataclass(slots=True)
class _Applied:
    """A fix the loop applied in the last iteration, for the denials it was chosen for."""

    fix: Fix
    entry: int
    before: dict[str, Any]
    #: denial key -> the object path of that finding (None when not a known path)
    objects: dict[DenialKey, str | None] = field(default_factory=dict)


@dataclass(slots=True)
class _Choice:
    """What the loop does for one finding it may fix itself."""

    what: str  # "fix", "module", "decision", "none"
    fix: Fix | None = None
    command: str = ""


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
        new_domain: NewDomainPlan | None = None,
    ) -> None:
        if options.max_iterations < 1:
            raise UsageError("--max-iterations must be at least 1")
        if options.settle < 0:
            raise UsageError("--settle must not be negative")
        self.options = options
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
        #: Per denial key, every fix applied for it (in order): the fallback never retries one.
        self._tried: dict[DenialKey, list[Fix]] = {}
        #: The fixes applied in the last iteration, judged when the next run's denials are in.
        self._last: list[_Applied] = []
        #: Denial keys whose fallback is the module rule.
        self._forced: set[DenialKey] = set()
        #: ``--new-domain``: the plan, and what confining the service did (for the end and the report).
        self.new_domain = new_domain
        self._nd: dict[str, Any] = {}
        #: The permissions completion added in this iteration's install (reported with the iteration).
        self._completed: tuple[dict[str, str], ...] = ()

    # ------------------------------------------------------------------ run

    def run(self) -> LoopReport:
        """Run to an outcome. Errors propagate (after restoring); Ctrl-C is an outcome."""
        start = self.clock()
        self.version = self.installer.installed_version()
        outcome, message = Outcome.INTERRUPTED, "interrupted"
        decisions: tuple[str, ...] = ()
        try:
            with interrupts_as_keyboard():
                outcome, message, decisions = self._run()
        except KeyboardInterrupt as exc:
            outcome, message = Outcome.INTERRUPTED, "interrupted: the system was restored"
            self.notes.extend(getattr(exc, "__notes__", ()))  # rollback steps that failed
        finally:
            self._end_iteration()  # an iteration cut short by an error or Ctrl-C
            if self.new_domain is not None and outcome is not Outcome.CONVERGED:
                self._unconfine()  # not converged: the service runs as before the loop
            close = getattr(self.explainer, "close", None)
            if close is not None:
                close()  # the policy facts, kept from one iteration to the next while unchanged
            self.guard.restore()
            for failure in self.guard.failures:  # shown even when an error is on its way out
                self._emit(EventKind.WARNING, len(self.iterations), failure)
            # an orderly end: the marks are off (else the journal stays for a recovery)
            self.journal.finish(restored=not self.guard.failures)
        restored = tuple(self._nd.get("restored", ())) + tuple(self.guard.restored)
        if self.guard.failures:
            # restoring failed: that is an error the admin must see, whatever the outcome
            raise ToolError("; ".join(self.guard.failures))
        return LoopReport(
            outcome=outcome,
            message=message,
            service=self.options.service,
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
            new_domain=self._nd_report(),
        )

    def _emit(self, kind: EventKind, iteration: int, message: str = "",
              report: IterationReport | None = None) -> None:
        self.progress(LoopEvent(kind, iteration, message, report))

    def _run(self) -> tuple[Outcome, str, tuple[str, ...]]:
        opts = self.options
        if self.new_domain is not None:
            failure = self._confine(self.new_domain)
            if failure is not None:
                return failure
        if not self.domains:
            self.domains = tuple(self.service.domains())
        if opts.permissive and not self.domains:
            raise UsageError(f"--permissive needs the domain of {opts.service}: give --domain")
        if opts.dontaudit_off:
            self._emit(EventKind.NOTE, 0, "disabling dontaudit rules (semodule -DB)")
            self.guard.disable_dontaudit()
        phase = Phase.ENFORCING
        if opts.permissive:
            phase = Phase.PERMISSIVE
            for d in self.domains:
                if self.guard.mark_permissive(d):
                    self._emit(EventKind.NOTE, 0, f"marked {d} permissive (semanage permissive -a {d})")
                else:
                    self.notes.append(f"{d} was already permissive: left so")
        previous: frozenset[tuple[str, str, str, tuple[str, ...]]] | None = None
        for n in range(1, opts.max_iterations + 1):
            t0 = self.clock()
            self._emit(EventKind.ITERATION, n, phase.value)
            mark = self.trail.checkpoint()
            run = self.service.restart(opts.settle)
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
            base = _IterationBase(number=n, phase=phase, healthy=run.healthy, service_state=run.state,
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
                    return Outcome.CONVERGED, (f"converged after {n} iteration(s): {opts.service} runs with no "
                                               f"new denial{ignored}"), ()
                self._finish(base, t0, module_version=self.version)
                hint = "" if opts.dontaudit_off else "; a dontaudit rule may hide it: rerun with --dontaudit-off"
                return Outcome.UNHEALTHY, (f"{opts.service} is {run.state} but logged no new denial for "
                                           f"{', '.join(self.domains) or 'its domain'}{hint}"), ()

            # the fixes of the last iteration whose denial came back: taken back, and what next
            current: dict[DenialKey, Finding] = {}
            for f in actionable:
                current.setdefault(_denial_key(f), f)
            failed = self._judge(n, current)

            module_findings = [f for f in actionable if f.needs_module]
            fixes: list[Fix] = []
            chosen_for: dict[FixKey, dict[DenialKey, str | None]] = {}
            decisions: list[str] = []
            fallbacks: list[Fallback] = []
            exhausted: list[Finding] = []
            new_things = False
            for f in actionable:
                if f.needs_module:
                    continue
                k = _denial_key(f)
                if not opts.apply_advice:
                    if f.advice:
                        decisions.append(f.advice[0].command)
                    else:
                        decisions.append(f"# {f.group.source} {f.group.target}:{f.group.tclass} "
                                         f"{{ {' '.join(f.perms)} }}: {f.reason.value} {f.detail}".strip())
                    continue
                if k in self._forced:  # the module rule was the fallback already: the module holds it
                    module_findings.append(_module_only(f))
                    continue
                fb = failed.get(k)
                choice = self._next(n, f, k, fallback=fb is not None)
                if fb is not None:
                    fallbacks.append(self._fallback(n, f, fb, choice))
                if choice.what == "fix" and choice.fix is not None:
                    if choice.fix.key not in chosen_for:
                        fixes.append(choice.fix)
                    chosen_for.setdefault(choice.fix.key, {})[k] = _object_path(f)
                    new_things = True
                elif choice.what == "module":
                    module_findings.append(_module_only(f))
                    self._forced.add(k)
                    new_things = True
                elif choice.what == "decision":
                    decisions.append(choice.command)
                elif fb is None and k not in self._tried:
                    # nothing the loop can apply (no advice, or none aimed at the object): the admin decides
                    decisions.append(f.advice[0].command if f.advice else
                                     f"# {f.group.source} {f.group.target}:{f.group.tclass} "
                                     f"{{ {' '.join(f.perms)} }}: {f.reason.value} {f.detail}".strip())
                else:
                    exhausted.append(f)
            decisions = sorted(set(decisions))
            base["fallbacks"] = tuple(fallbacks)

            key = _progress_key([f.group for f in actionable])
            if key == previous and not new_things:
                self._finish(base, t0, module_version=self.version)
                return Outcome.NO_PROGRESS, "the same denials came back after the last fix", ()
            previous = key
            if exhausted:
                self._finish(base, t0, module_version=self.version)
                what = "; ".join(
                    f"{f.group.source} {f.group.target}:{f.group.tclass} {{ {' '.join(f.perms)} }} (tried: "
                    + ", ".join(x.command for x in self._tried.get(_denial_key(f), ())) + ")" for f in exhausted)
                return (Outcome.NO_PROGRESS,
                        f"the same denial came back after every fix the loop could apply, and no module rule "
                        f"fits it: {what}", ())

            added: tuple[str, ...] = ()
            did_something = False
            if module_findings:
                forced = [_key_json(_denial_key(f)) for f in module_findings if _denial_key(f) in self._forced]
                # completion: the enforcing phase only (a permissive run logged every check already)
                ok, added, installed, failure = self._install(
                    n, module_findings, {"fallback_for": forced} if forced else {},
                    complete=opts.complete and phase is Phase.ENFORCING)
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
                    objects = chosen_for[fx.key]
                    args: dict[str, Any] = {"fix": fx.to_json(), "for": [_key_json(k) for k in sorted(objects)]}
                    after = sorted({failed[k][0].command for k in objects if k in failed})
                    if after:
                        args["fallback_after"] = after  # the fixes that did not help, before this one
                    before = self.admin.fix_before(fx)
                    entry = self.journal.begin("fix", args, before)
                    done = self.admin.apply_fix(fx)
                    self.journal.done(entry)
                    for k in objects:
                        self._tried.setdefault(k, []).append(fx)
                    self._last.append(_Applied(fx, entry, before, dict(objects)))
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
                f"not converged after {opts.max_iterations} iteration(s) (--max-iterations)", ())

    # ------------------------------------------------------------ new domain

    def _confine(self, nd: NewDomainPlan) -> tuple[Outcome, str, tuple[str, ...]] | None:
        """``--new-domain``: install the skeleton module, relabel the executable (and the
        skeleton's directories), before the first restart. Both are journaled; the loop
        takes them back at the end unless it converged (:meth:`_unconfine`)."""
        install = getattr(self.installer, "install_skeleton", None)
        if install is None:
            raise UsageError("--new-domain needs an installer that can install a skeleton module")
        fix = restorecon_fix(nd.relabel)
        if fix is None:
            raise UsageError(f"--new-domain: cannot relabel {', '.join(nd.relabel)} safely")
        question = (f"Install the new domain {nd.domain} (module {nd.name}) and relabel "
                    f"{nd.exec_path} so that {self.options.service} runs confined?")
        if not self.confirm(question, (fix.command,)):
            return Outcome.DECLINED, "installing the new domain was declined; nothing was changed", ()
        self._nd = {"name": nd.name, "domain": nd.domain, "exec": nd.exec_path, "relabel": list(nd.relabel)}
        self._nd["was_installed"] = bool(getattr(self.installer, "in_store", lambda: False)())

        def on_step(step: str, detail: str) -> None:
            self._emit(EventKind.BUILD_STEP, 0, f"{step}: {detail}")

        entry = self.journal.begin("module", {"module": self.installer.module, "version_before": self.version,
                                              "new_domain": nd.name})
        try:
            result = install(nd.name, nd.exec_path, on_step)
        except (CompileError, ToolError, InputError) as exc:
            self.journal.undone(entry, "the new domain did not install")
            outcome = (Outcome.COMPILE_FAILED if isinstance(exc, CompileError) else
                       Outcome.WRITE_FAILED if isinstance(exc, InputError) else Outcome.INSTALL_FAILED)
            return outcome, f"the new domain {nd.domain}: {exc}", ()
        self.journal.done(entry, version=result.version)
        self.version = result.version
        self._nd.update(installed=True, version=result.version, module_entry=entry,
                        skeleton=getattr(self.installer, "last_skeleton", None))
        self._emit(EventKind.INSTALLED, 0, f"{result.module} {result.version} (new domain {nd.domain})")
        before = self.admin.fix_before(fix)
        fentry = self.journal.begin("fix", {"fix": fix.to_json(), "for": [], "new_domain": nd.name}, before)
        done = self.admin.apply_fix(fix)
        self.journal.done(fentry)
        self._nd.update(relabelled=True, fix=fix, before=before, entry=fentry)
        self._emit(EventKind.APPLIED, 0, done)
        return None

    def _unconfine(self) -> None:
        """The loop did not converge (or was interrupted): the executable gets its label back and
        the new module, when the loop installed it, is removed, so the service runs as before."""
        restored: list[str] = []
        if self._nd.get("relabelled"):
            fix, before = self._nd["fix"], self._nd["before"]
            try:
                lines = self.admin.undo_fix(fix, before)
                self.journal.undone(self._nd["entry"], "the loop did not converge: the new domain is taken back")
                restored += lines or [f"{self._nd['exec']} keeps its label (unchanged)"]
                self._nd["relabelled"] = False
            except (AvcfixError, OSError) as exc:
                self.notes.append(f"could not relabel {self._nd['exec']} back: {exc}")
        if self._nd.get("installed") and not self._nd.get("was_installed"):
            remove = getattr(self.installer, "remove_module", None)
            try:
                if remove is not None:
                    restored.append(remove())
                    self.journal.undone(self._nd["module_entry"], "the loop did not converge: the new module is removed")
                    self._nd["installed"] = False
                    self.version = None
                    self._nd["removed"] = True
            except (AvcfixError, OSError) as exc:
                self.notes.append(f"could not remove the new module {self.installer.module}: {exc}")
        self._nd["restored"] = restored

    def _nd_report(self) -> dict[str, Any] | None:
        if self.new_domain is None:
            return None
        nd = self._nd
        out = {"name": self.new_domain.name, "domain": self.new_domain.domain, "exec": self.new_domain.exec_path,
               "relabel": list(self.new_domain.relabel), "installed": bool(nd.get("installed")),
               "relabelled": bool(nd.get("relabelled")), "removed": bool(nd.get("removed")),
               "version": nd.get("version")}
        if nd.get("skeleton"):
            out["skeleton"] = nd["skeleton"]
        return out

    # ------------------------------------------------------------ fallback

    def _judge(self, n: int, current: dict[DenialKey, Finding]
               ) -> dict[DenialKey, tuple[Fix, tuple[str, ...], str]]:
        """The last iteration's fixes whose denial came back on the same object.

        Returns, per such denial key, (the fix, what taking it back did, why
        it was kept instead). A fix is taken back when every denial it was
        applied for came back; one that helped another denial stays.
        """
        out: dict[DenialKey, tuple[Fix, tuple[str, ...], str]] = {}
        for ap in self._last:
            back = set()
            for k, path in ap.objects.items():
                f = current.get(k)
                if f is None:
                    continue
                now = _object_path(f)
                if ap.fix.kind in RELABELS and path is not None and now is not None and now != path:
                    continue  # the same kind of denial on another object: this fix did its part
                back.add(k)
            if not back:
                continue
            helped = sorted(set(ap.objects) - back)
            if helped:
                undone: tuple[str, ...] = ()
                kept = ("it helped " + ", ".join(f"{k[0]} {k[1]}:{k[2]}" for k in helped)
                        + " in the same run")
            else:
                undone, kept = self._take_back(n, ap)
            for k in back:
                out[k] = (ap.fix, undone, kept)
        self._last = []
        return out

    def _take_back(self, n: int, ap: _Applied) -> tuple[tuple[str, ...], str]:
        """Undo a fix that did not help (journaled as undone); (what was done, why kept)."""
        try:
            lines = tuple(self.admin.undo_fix(ap.fix, ap.before))
        except (AvcfixError, OSError) as exc:
            msg = f"could not take back {ap.fix.command}, which did not help: {exc}"
            self.notes.append(msg)
            self._emit(EventKind.WARNING, n, msg)
            return (), f"taking it back failed ({exc}); it stays applied and journaled"
        self.journal.undone(ap.entry, "did not help: the same denial came back")
        for line in lines:
            self._emit(EventKind.NOTE, n, f"took back {ap.fix.command} (it did not help): {line}")
        return lines, ""

    def _next(self, n: int, f: Finding, k: DenialKey, fallback: bool) -> _Choice:
        """The finding's first advice the loop has not tried for this denial.

        A relabel not aimed at the denied object is never applied. Normally
        the first remaining advice decides (one the loop cannot apply is a
        decision for the admin); in a fallback, advice the loop cannot apply
        is passed over for the next one, and the module rule comes last.
        """
        tried = {x.key for x in self._tried.get(k, ())}
        skipped = ""
        for a in f.advice:
            if a.kind is AdviceKind.MODULE:
                if f.reason in _MODULE_REASONS:
                    return _Choice("module", command=a.command)
                continue
            fx = fix_from_advice(f, a)
            if fx is None:
                if not fallback:
                    return _Choice("decision", command=a.command)
                skipped = skipped or a.command
                continue
            if not aimed_at_object(f, a, fx):
                obj = f.object.evidence if f.object is not None else "not resolved"
                note = f"not applied: `{a.command}` does not act on the denied object ({obj})"
                if note not in self.notes:
                    self.notes.append(note)
                    self._emit(EventKind.NOTE, n, note)
                continue
            if fx.key in tried:
                continue
            return _Choice("fix", fx, fx.command)
        if skipped:
            return _Choice("decision", command=skipped)
        return _Choice("none")

    def _fallback(self, n: int, f: Finding, fb: tuple[Fix, tuple[str, ...], str], choice: _Choice) -> Fallback:
        fix, undone, kept = fb
        nxt = choice.command if choice.what in ("fix", "module", "decision") else ""
        kind = ("module" if choice.what == "module" else choice.fix.kind.value if choice.fix is not None
                else "decision" if choice.what == "decision" else "none")
        g = f.group
        fallback = Fallback(g.source, g.target, g.tclass, tuple(f.perms), _object_path(f), fix.command,
                            undone, kept, nxt, kind)
        self._emit(EventKind.FALLBACK, n, fallback.line())
        return fallback

    def _learn_domains(self, denials: Sequence[Denial]) -> tuple[str, ...]:
        exes = set(self.service.executables())
        comm = self.options.service.removesuffix(".service")[:15]
        found = sorted({d.stype for d in denials if (d.exe and d.exe in exes) or d.comm == comm})
        if found:
            self.notes.append(f"domain(s) of {self.options.service} found from its executable: {', '.join(found)}")
        return tuple(found)

    def _unmark_all(self, n: int) -> None:
        for d in list(self.guard.marked):
            self.guard.unmark(d)
            self._emit(EventKind.NOTE, n, f"removed the permissive mark of {d}; verifying in enforcing mode")

    def _install(self, n: int, findings: Sequence[Finding], extra: dict[str, Any] | None = None,
                 complete: bool = False
                 ) -> tuple[bool, tuple[str, ...], bool, tuple[Outcome, str, tuple[str, ...]] | None]:
        """(confirmed, rules added, semodule ran, failure outcome or None)."""
        lines = self.installer.preview(findings, complete=complete)
        question = f"Install module {self.installer.module} with these rules into the policy?"
        if not self.confirm(question, lines):
            return False, (), False, None

        def on_step(step: str, detail: str) -> None:
            self._emit(EventKind.BUILD_STEP, n, f"{step}: {detail}")

        entry = self.journal.begin("module", {"module": self.installer.module, "version_before": self.version,
                                              **(extra or {})})
        try:
            result = self.installer.install(findings, on_step, complete=complete)
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
        self._completed = tuple(getattr(result, "completed", ()))
        return True, result.added if result.changed else (), result.installed, None

    def _end_iteration(self) -> None:
        """Let the explainer close the policy facts of this iteration (the next
        one opens the policy as the install left it); optional for an explainer."""
        end = getattr(self.explainer, "end_iteration", None)
        if end is not None:
            end()

    def _finish(self, base: _IterationBase, t0: float, **more: Unpack[_IterationEnd]) -> None:
        self._end_iteration()
        completed, self._completed = self._completed, ()
        report = IterationReport(**base, seconds=self.clock() - t0, completed=completed,
                                 **more)
        self.iterations.append(report)
        self._emit(EventKind.DONE, report.number, report=report)


class LoopKeywords(TypedDict, total=False):
    """The keyword arguments of :class:`Loop` (for :func:`run_loop`)."""

    confirm: Confirm
    progress: Progress
    clock: Callable[[], float]
    lab: bool
    journal: Journal | None
    recovered: Sequence[str]
    new_domain: NewDomainPlan | None


def run_loop(options: LoopOptions, service: ServiceControl, trail: AuditTrail, admin: PolicyAdmin,
             installer: ModuleInstaller, explainer: Explainer, **kw: Unpack[LoopKeywords]) -> LoopReport:
    """Convenience: ``Loop(...).run()``."""
    return Loop(options, service, trail, admin, installer, explainer, **kw).run()
