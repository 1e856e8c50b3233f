"""The loop's toolchain edges, shared by the real system and the lab.

- :class:`BuilderInstaller` merges, bumps, compiles and installs through
  :func:`avcfix.builder.build_module` (exactly what ``avcfix build --install``
  does), and on a failed install puts the previous version back: the previous
  ``NAME.pp`` is reinstalled (or the module removed when there was none), and
  the ``.te``/``.pp`` files are restored, so that the system and the working
  directory are as they were before that iteration.
- :class:`FactsExplainer` classifies denial groups with the explanation
  engine against the policy as it is now (reopened after every install).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from avcfix import proc
from avcfix.audit.model import DenialGroup
from avcfix.errors import InstallError
from avcfix.explain.model import Finding
from avcfix.loop.interfaces import Installed, StepListener
from avcfix.toolchain import semodule
from avcfix.toolchain.store import PolicyRoot


class BuilderInstaller:
    """Installs the loop's module into ``root`` through the builder."""

    def __init__(self, module: str, out_dir: Path, root: PolicyRoot, *, priority: int | None = None,
                 record: Callable[[proc.Result], None] | None = None) -> None:
        self.module = module
        self.out_dir = Path(out_dir)
        self.root = root
        self.priority = priority
        self.record = record
        self._version: str | None = None

    @property
    def te_path(self) -> Path:
        return self.out_dir / f"{self.module}.te"

    @property
    def pp_path(self) -> Path:
        return self.out_dir / f"{self.module}.pp"

    def installed_version(self) -> str | None:
        if self._version is not None:
            return self._version
        if not self.te_path.is_file():
            return None
        from avcfix.policy.te_parse import parse_te

        try:
            return parse_te(self.te_path.read_text(encoding="utf-8"), str(self.te_path)).version
        except Exception:  # an unreadable .te: the builder reports it properly on install
            return None

    def install(self, findings: Sequence[Finding], on_step: StepListener | None = None) -> Installed:
        """Build and install; on failure restore the previous version and re-raise."""
        from avcfix.builder import BuildOptions, build_module

        self.out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="avcfix-loop-") as tmp:
            saved = self._save(Path(tmp))
            opts = BuildOptions(module=self.module, out_dir=self.out_dir, root=self.root, install=True,
                                priority=self.priority)

            def progress(step: object, detail: str) -> None:
                if on_step is not None:
                    on_step(getattr(step, "value", str(step)), detail)

            try:
                result = build_module(findings, opts, progress=progress, record=self.record)
            except InstallError as exc:
                self._restore_files(saved)
                what = self._rollback(saved.get("pp"))
                raise InstallError(f"{exc}; {what}", exc.result) from exc
            except BaseException:
                # compile error, Ctrl-C before semodule ran...: nothing new is installed
                self._restore_files(saved)
                raise
        self._version = result.version
        return Installed(
            version=result.version,
            changed=result.changed,
            added=tuple(line for line in result.diff if line.startswith("+")),
            module=self.module,
            pp_path=str(result.pp_path) if result.pp_path else None,
            missing=tuple(result.missing_after_install),
            # the same package already in the store changes nothing: not progress
            installed=bool(result.installed) and not getattr(result, "already_installed", False),
        )

    def _save(self, tmp: Path) -> dict[str, Path]:
        saved: dict[str, Path] = {}
        for key, path in (("te", self.te_path), ("pp", self.pp_path)):
            if path.is_file():
                copy = tmp / path.name
                shutil.copy2(path, copy)
                saved[key] = copy
        return saved

    def _restore_files(self, saved: dict[str, Path]) -> None:
        for key, path in (("te", self.te_path), ("pp", self.pp_path)):
            if key in saved:
                shutil.copy2(saved[key], path)
            else:
                path.unlink(missing_ok=True)

    def _rollback(self, previous_pp: Path | None) -> str:
        """Reinstall the previous package, or remove the module if this was its first install."""
        if previous_pp is not None:
            semodule.rollback(self.root, self.module, previous_pp, priority=self.priority, record=self.record)
            return f"rolled back to the previous {self.module} version ({self._version or 'as installed before'})"
        names = {m.name for m in semodule.list_modules(self.root, record=self.record)}
        if self.module in names:
            semodule.remove(self.root, self.module, priority=self.priority, record=self.record)
            return f"removed {self.module} (there was no previous version)"
        return f"nothing to roll back: {self.module} was not installed before"


class FactsExplainer:
    """The explanation engine over the current policy of ``root`` (or a policy file)."""

    def __init__(self, root: PolicyRoot | None = None, policy: Path | None = None) -> None:
        self.root = root
        self.policy = policy

    def explain(self, groups: Sequence[DenialGroup]) -> list[Finding]:
        from avcfix.explain.engine import explain_groups
        from avcfix.explain.facts import open_facts

        facts = open_facts(self.policy, self.root.root if self.root is not None else None)
        try:
            return explain_groups(groups, facts)
        finally:
            if facts is not None:
                facts.close()
