"""The edges the loop drives, as small Protocols (real and lab backends implement them).

- :class:`ServiceControl`: restart the service and let it settle
  (real: :mod:`avcfix.system.systemd`; lab: :mod:`avcfix.lab.backends`).
- :class:`AuditTrail`: a checkpoint, then the denials logged since it
  (real: :mod:`avcfix.system.trail`; the lab reuses the same log reader).
- :class:`PolicyAdmin`: the permissive mark, dontaudit on/off, and applying
  a fix that is not a module (port label, boolean, restorecon, fcontext).
- :class:`ModuleInstaller`: merge rules into the module, bump, compile,
  install, and roll back to the previous version.
- :class:`Explainer`: classify denial groups against the current policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from avcfix.audit.model import Denial, DenialGroup
from avcfix.explain.fixes import Fix
from avcfix.explain.model import Finding


@dataclass(frozen=True, slots=True)
class ServiceRun:
    """How one restart went: ``healthy`` is running (or exited 0) after the settle time."""

    healthy: bool
    state: str
    detail: str = ""
    #: Domains the service's processes ran in, when the backend can tell.
    domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrailRead:
    """The denials logged since a checkpoint, with what could not be read."""

    denials: tuple[Denial, ...]
    skipped: int = 0
    #: Human warnings: lost audit events, rotated log, unreadable lines...
    warnings: tuple[str, ...] = ()


class ServiceControl(Protocol):
    name: str

    def restart(self, settle: float) -> ServiceRun:
        """Restart the service and wait until it settles (``settle`` seconds or exits)."""
        ...

    def domains(self) -> tuple[str, ...]:
        """The service's SELinux domain(s), when known before a run; else ``()``."""
        ...

    def executables(self) -> tuple[str, ...]:
        """The service's binaries: denials with one of them as ``exe=`` are the service's."""
        ...


class AuditTrail(Protocol):
    def checkpoint(self) -> object:
        """An opaque mark: :meth:`read_since` returns what was logged after it."""
        ...

    def read_since(self, mark: object) -> TrailRead:
        """Every denial logged after ``mark`` (all domains; the loop filters)."""
        ...


class PolicyAdmin(Protocol):
    def permissive_domains(self) -> frozenset[str]:
        """Domains currently marked permissive (``semanage permissive -l``)."""
        ...

    def set_permissive(self, domain: str, on: bool) -> None:
        """``semanage permissive -a/-d DOMAIN``."""
        ...

    def dontaudit_enabled(self) -> bool:
        """Whether dontaudit rules are in the loaded policy (best knowledge)."""
        ...

    def set_dontaudit(self, enabled: bool) -> None:
        """``semodule -B`` (enabled) or ``semodule -DB`` (disabled)."""
        ...

    def apply_fix(self, fix: Fix) -> str:
        """Apply a non-module fix; return a one-line description of what was done."""
        ...

    def fix_before(self, fix: Fix) -> dict[str, Any]:
        """What ``fix`` is about to change, as it is now (JSON), for the loop's journal."""
        ...

    def undo_fix(self, fix: Fix, before: dict[str, Any]) -> list[str]:
        """Put back what :meth:`fix_before` recorded (idempotent); one line per change undone."""
        ...


@dataclass(frozen=True, slots=True)
class Installed:
    """What one install did."""

    version: str
    changed: bool
    #: Rule lines added (``+ allow ...``) by this install.
    added: tuple[str, ...]
    module: str
    pp_path: str | None = None
    #: Rules setools did not find in the policy after the install.
    missing: tuple[str, ...] = ()
    #: semodule installed the package (False: nothing to install).
    installed: bool = True
    #: What went wrong around an install that still succeeded (shown as warnings and notes).
    warnings: tuple[str, ...] = ()
    #: Permissions completion added (``Completion.to_json()`` dicts).
    completed: tuple[dict[str, str], ...] = ()


#: ``listener(step, detail)`` for the build steps (generate, compile, install...).
StepListener = Callable[[str, str], None]


class ModuleInstaller(Protocol):
    module: str

    def installed_version(self) -> str | None:
        """The version of the module as last built and installed, if any."""
        ...

    def preview(self, findings: Sequence[Finding], complete: bool = False) -> tuple[str, ...]:
        """The rule lines an install of ``findings`` would add (what the admin confirms),
        with the permissions completion adds when ``complete``."""
        ...

    def install(self, findings: Sequence[Finding], on_step: StepListener | None = None,
                complete: bool = False) -> Installed:
        """Merge, bump, compile and install; raise :class:`~avcfix.errors.InstallError`
        (or CompileError) after restoring the previous version. ``complete``: add the
        permissions the events prove (:mod:`avcfix.policy.complete`)."""
        ...


class Explainer(Protocol):
    def explain(self, groups: Sequence[DenialGroup]) -> list[Finding]:
        """Findings for the groups, against the policy as it is NOW (reopened when
        it changed). An explainer may also have ``end_iteration()``, which the loop
        calls when an iteration ends, and ``close()``, which it calls when the loop
        ends (:class:`~avcfix.triage.FactsExplainer` closes its facts there)."""
        ...
