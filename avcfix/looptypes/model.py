"""Values of the loop: options, per-iteration reports, the outcome (frozen, typed)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from avcfix.errors import ExitCode
from avcfix.report.jsondoc import rule_lines_json


class Outcome(str, enum.Enum):
    """How a loop ended. Each maps to one documented exit code."""

    CONVERGED = "converged"              # no new denial and the service is healthy
    NO_PROGRESS = "no_progress"          # the same denials twice
    MAX_ITERATIONS = "max_iterations"    # --max-iterations reached
    UNHEALTHY = "unhealthy"              # the service fails but logs no denial
    NEEDS_DECISION = "needs_decision"    # a fix an admin must choose (boolean, port label...)
    DECLINED = "declined"                # the admin answered no to an install
    INSTALL_FAILED = "install_failed"    # semodule failed; rolled back to the previous version
    COMPILE_FAILED = "compile_failed"    # checkmodule/semodule_package rejected the module
    WRITE_FAILED = "write_failed"        # the module's files could not be written (read-only dir...)
    PREFLIGHT_FAILED = "preflight_failed"  # the host cannot run a real loop; nothing was changed
    INTERRUPTED = "interrupted"          # Ctrl-C / SIGTERM
    BUSY = "busy"                        # another avcfix loop holds the lock: nothing done
    RECOVERED = "recovered"              # --recover: an interrupted run's changes undone (or none found)

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT[self]


_EXIT = {
    Outcome.CONVERGED: ExitCode.OK,
    Outcome.NO_PROGRESS: ExitCode.NOT_CONVERGED,
    Outcome.MAX_ITERATIONS: ExitCode.NOT_CONVERGED,
    Outcome.UNHEALTHY: ExitCode.NOT_CONVERGED,
    Outcome.DECLINED: ExitCode.NOT_CONVERGED,
    Outcome.NEEDS_DECISION: ExitCode.NEEDS_DECISION,
    Outcome.INSTALL_FAILED: ExitCode.INSTALL,
    Outcome.COMPILE_FAILED: ExitCode.COMPILE,
    Outcome.WRITE_FAILED: ExitCode.INPUT,
    Outcome.PREFLIGHT_FAILED: ExitCode.PREFLIGHT,
    Outcome.INTERRUPTED: ExitCode.INTERRUPTED,
    Outcome.BUSY: ExitCode.BUSY,
    Outcome.RECOVERED: ExitCode.OK,
}


class Phase(str, enum.Enum):
    """What an iteration was for."""

    ENFORCING = "enforcing"     # the usual run: the service stops at its first denial
    PERMISSIVE = "permissive"   # --permissive collection run (domain marked permissive)
    VERIFY = "verify"           # the enforcing run after a permissive collection


@dataclass(frozen=True, slots=True)
class LoopOptions:
    """What the loop was asked to do."""

    service: str
    module: str
    domains: tuple[str, ...] = ()
    settle: float = 5.0
    max_iterations: int = 10
    permissive: bool = False
    dontaudit_off: bool = False
    apply_advice: bool = False
    #: Permission completion in the enforcing phase (off with ``--exact``); see avcfix.policy.complete.
    complete: bool = True


@dataclass(frozen=True, slots=True)
class NewDomainPlan:
    """``loop --new-domain NAME --exec PATH``: confine the service in a new domain first.

    ``relabel``: the paths ``restorecon -R`` relabels once the skeleton is
    installed (the executable, then the skeleton's directories that exist).
    """

    name: str
    exec_path: str
    relabel: tuple[str, ...]

    @property
    def domain(self) -> str:
        return f"{self.name}_t"


@dataclass(frozen=True, slots=True)
class DenialSummary:
    """One new denial group, as the report shows it."""

    source: str
    target: str
    tclass: str
    perms: tuple[str, ...]
    permissive: bool
    count: int
    reason: str
    path: str | None = None
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "target": self.target, "tclass": self.tclass,
            "perms": list(self.perms), "permissive": self.permissive, "count": self.count,
            "reason": self.reason, "path": self.path, "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Fallback:
    """The same denial came back after a fix the loop applied for it: what the loop did next.

    ``did_not_help`` is the fix's command; ``undone`` what taking it back did
    (the loop reverts a fix that did not help, unless it helped another
    denial: then ``kept`` says why); ``next`` the command tried instead (the
    finding's next applicable advice, else its module rule) and ``next_kind``
    its advice kind (``module`` for the rule; ``none`` when nothing is left).
    """

    source: str
    target: str
    tclass: str
    perms: tuple[str, ...]
    path: str | None
    did_not_help: str
    undone: tuple[str, ...] = ()
    kept: str = ""
    next: str = ""
    next_kind: str = "none"

    def to_json(self) -> dict[str, Any]:
        return {
            "denial": {"source": self.source, "target": self.target, "tclass": self.tclass,
                       "perms": list(self.perms), "path": self.path},
            "did_not_help": self.did_not_help, "undone": list(self.undone), "kept": self.kept,
            "next": self.next, "next_kind": self.next_kind,
        }

    def line(self) -> str:
        """One line for the text report."""
        what = f"{self.source} {self.target}:{self.tclass} {{ {' '.join(self.perms)} }}"
        if self.path:
            what += f" ({self.path})"
        back = ("undone: " + "; ".join(self.undone) if self.undone else
                f"kept: {self.kept}" if self.kept else "nothing to undo")
        nxt = f"next: {self.next}" if self.next else "nothing left to try"
        return f"{what}: `{self.did_not_help}` did not help ({back}); {nxt}"


@dataclass(frozen=True, slots=True)
class IterationReport:
    """One pass of the loop."""

    number: int
    phase: Phase
    healthy: bool
    service_state: str
    denials: tuple[DenialSummary, ...]
    rules_added: tuple[str, ...] = ()
    module_version: str | None = None
    applied: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    #: Denials that came back after a fix the loop applied, and what it tried next.
    fallbacks: tuple[Fallback, ...] = ()
    #: Permissions completion added to this iteration's rules: {source, target, tclass, perm, after, set}.
    completed: tuple[dict[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "completed": [dict(c) for c in self.completed],
            "iteration": self.number,
            "phase": self.phase.value,
            "healthy": self.healthy,
            "service_state": self.service_state,
            "new_denials": [d.to_json() for d in self.denials],
            "rules_added": rule_lines_json(self.rules_added),  # real type names, never self
            "module_version": self.module_version,
            "applied": list(self.applied),
            "fallbacks": [f.to_json() for f in self.fallbacks],
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class PreflightCheck:
    """One check of a real loop's preflight (:mod:`avcfix.looptypes.preflight`)."""

    check: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class LoopReport:
    """The whole run: the outcome, why, and every iteration."""

    outcome: Outcome
    message: str
    service: str
    module: str
    domains: tuple[str, ...]
    iterations: tuple[IterationReport, ...]
    module_version: str | None = None
    #: Commands an admin must decide on (NEEDS_DECISION), exact text.
    decisions: tuple[str, ...] = ()
    #: What was restored on the way out (permissive mark removed, dontaudit back on).
    restored: tuple[str, ...] = ()
    #: What the recovery of an interrupted earlier run undid first (or kept), newest change first.
    recovered: tuple[str, ...] = ()
    seconds: float = 0.0
    lab: bool = False
    notes: tuple[str, ...] = field(default=())
    #: The host checks run before a real loop (empty in the lab).
    preflight: tuple[PreflightCheck, ...] = ()
    #: ``--new-domain``: what the loop did to confine the service (None without it).
    new_domain: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        return int(self.outcome.exit_code)

    @property
    def rules_added(self) -> tuple[str, ...]:
        return tuple(r for it in self.iterations for r in it.rules_added)

    @property
    def fallbacks(self) -> tuple[Fallback, ...]:
        return tuple(f for it in self.iterations for f in it.fallbacks)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` report (documented in the README; keys are stable)."""
        return {
            "outcome": self.outcome.value,
            "exit_code": self.exit_code,
            "message": self.message,
            "service": self.service,
            "module": self.module,
            "module_version": self.module_version,
            "domains": list(self.domains),
            "iterations": [it.to_json() for it in self.iterations],
            "rules_added": rule_lines_json(self.rules_added),
            "decisions": list(self.decisions),
            "fallbacks": [f.to_json() for f in self.fallbacks],
            "restored": list(self.restored),
            "recovered": list(self.recovered),
            "lab": self.lab,
            "notes": list(self.notes),
            "preflight": [c.to_json() for c in self.preflight],
            "seconds": round(self.seconds, 3),
            "new_domain": self.new_domain,
        }
