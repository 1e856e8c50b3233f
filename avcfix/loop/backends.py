"""The loop's toolchain edges, shared by the real system and the lab.

- :class:`BuilderInstaller` merges, bumps, compiles and installs through
  :func:`avcfix.builder.build_module` (exactly what ``avcfix build --install``
  does). Every package it installs is kept in its own state directory,
  ``OUT_DIR/.avcfix-loop/MODULE/VERSION/MODULE.pp``, with ``installed`` naming
  the version in the store. On a failed install it puts that version back by
  reinstalling the package it built itself (``semodule -i`` of the kept file;
  ``semodule -r`` when the failed install had left the module in the store
  and there was no previous version), and restores the ``.te``/``.pp`` files,
  so that the system and the working directory are as they were before that
  iteration. A rollback step that fails itself (a read-only module directory,
  a semodule error) never hides the first error: the error raised is the
  build's or install's, and each failed step is one of its ``__notes__``
  (PEP 678), which the loop reports as notes. No ``semodule -E`` and nothing
  in ``/tmp``: ``semodule`` runs in ``semanage_t``, which the enforcing policy
  does not let write there.
- The policy facts it checks and verifies with are the explainer's
  (:class:`avcfix.facts.CurrentFacts`, opened once and shared; the loop's
  explainer is :class:`avcfix.triage.FactsExplainer`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from avcfix import proc
from avcfix.errors import InputError, InstallError
from avcfix.explain.model import Finding
from avcfix.index.setools_target import TargetCache
from avcfix.looptypes.interfaces import Installed, StepListener
from avcfix.toolchain import semodule
from avcfix.toolchain.store import PolicyRoot

if TYPE_CHECKING:
    from avcfix.facts import CurrentFacts

#: The loop's own state, under its out dir: ``.avcfix-loop/MODULE/VERSION/MODULE.pp``.
STATE_DIR = ".avcfix-loop"


class BuilderInstaller:
    """Installs the loop's module into ``root`` through the builder."""

    def __init__(self, module: str, out_dir: Path, root: PolicyRoot, *, priority: int | None = None,
                 record: Callable[[proc.Result], None] | None = None, facts: CurrentFacts | None = None) -> None:
        self.module = module
        self.out_dir = Path(out_dir)
        self.root = root
        self.priority = priority
        self.record = record
        self._version: str | None = None
        #: The policy facts completion asks (the explainer's; None: no completion).
        self.facts = facts
        #: The target policy, opened once per policy file: the check before an
        #: install and the verification after it (which is the next install's target).
        #: With ``facts`` (the explainer's :class:`CurrentFacts`), both ask its policy
        #: index, and the rebuilt policy's index is the next iteration's facts.
        self.targets = TargetCache(facts.for_policy if facts is not None else None)

    @property
    def state_dir(self) -> Path:
        """Where the loop keeps every package it installed, one directory per version."""
        return self.out_dir / STATE_DIR / self.module

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

    def preview(self, findings: Sequence[Finding], complete: bool = False) -> tuple[str, ...]:
        """The rule lines of a module generated from ``findings`` alone (pure: no file, no
        command), with the completed permissions when ``complete`` and facts are at hand."""
        from avcfix.policy.complete import complete as completions_of
        from avcfix.policy.generate import generate_module
        from avcfix.policy.render import rule_te

        facts = self.facts.get() if complete and self.facts is not None else None
        extra = completions_of(findings, facts) if facts is not None else ()
        module = generate_module(findings, name=self.module, completions=extra).module
        return tuple(sorted(rule_te(r) for r in module.rules))

    def install(self, findings: Sequence[Finding], on_step: StepListener | None = None,
                complete: bool = False) -> Installed:
        """Build and install; on failure restore the previous version and re-raise.

        The error raised is always the first one: rollback steps that fail
        too are added to it as notes (``exc.__notes__``), never raised.
        """
        from avcfix.builder import BuildOptions, build_module

        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{self.out_dir}: cannot create the module directory: "
                             f"{exc.strerror or exc}") from None
        with tempfile.TemporaryDirectory(prefix="avcfix-loop-") as tmp:
            saved = self._save(Path(tmp))
            facts = self.facts.get() if complete and self.facts is not None else None
            opts = BuildOptions(module=self.module, out_dir=self.out_dir, root=self.root, install=True,
                                priority=self.priority, targets=self.targets, facts=facts,
                                complete=facts is not None)

            def progress(step: object, detail: str) -> None:
                if on_step is not None:
                    on_step(getattr(step, "value", str(step)), detail)

            previous = self.kept_installed()
            was_there = self._in_store()
            try:
                result = build_module(findings, opts, progress=progress, record=self.record)
            except InstallError as exc:
                notes = self._restore_files(saved)
                what, more = self._safe_rollback(previous, was_there)
                failed = InstallError(f"{exc}; {what}", exc.result)
                for note in [*getattr(exc, "__notes__", ()), *notes, *more]:
                    failed.add_note(note)
                raise failed from exc
            except BaseException as exc:
                # compile error, unwritable module directory, Ctrl-C before semodule ran...:
                # nothing new is installed; put the working files back
                for note in self._restore_files(saved):
                    exc.add_note(note)
                raise
        warnings: tuple[str, ...] = ()
        if result.installed and result.pp_path is not None:
            try:
                self._keep(result.version, Path(result.pp_path))
            except OSError as exc:
                # installed all the same: only a later rollback to this version is lost
                warnings = (f"could not keep the package of {self.module} {result.version} in "
                            f"{self.state_dir} ({exc.strerror or exc}): a failed install later "
                            f"cannot roll back to this version",)
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
            warnings=warnings,
            completed=tuple(c.to_json() for c in result.completed),
        )

    def install_skeleton(self, name: str, exec_path: str, on_step: StepListener | None = None) -> Installed:
        """``loop --new-domain``: write (unless ``NAME.te`` exists: a rerun keeps the rules an
        earlier loop merged into it), compile, install and verify the new domain's skeleton
        module (:func:`avcfix.newdomain.build_new_domain`); kept as the loop's packages are."""
        from avcfix.newdomain import build_new_domain

        if name != self.module:
            raise InstallError(f"the new domain's module is {name}, the loop's is {self.module}")
        was_there = self._in_store()
        res = build_new_domain(name, exec_path, out_dir=self.out_dir, root=self.root, install=True,
                               priority=self.priority, record=self.record, progress=on_step)
        if not res.verified:
            if not was_there and self._in_store():
                semodule.remove(self.root, self.module, priority=self.priority, record=self.record)
            raise InstallError(f"the new domain {res.skeleton.domain} is not in the rebuilt policy as it should "
                               f"be (missing {', '.join(res.missing_types) or 'init_t -> ' + res.skeleton.domain}); "
                               f"{'removed it again' if not was_there else 'left as it was'}")
        version = self._version_of_te() or "1.0.0"
        warnings: tuple[str, ...] = ()
        if res.pp_path is not None:
            try:
                self._keep(version, Path(res.pp_path))
            except OSError as exc:
                warnings = (f"could not keep the package of {self.module} {version} in {self.state_dir} "
                            f"({exc.strerror or exc})",)
        self._version = version
        installed = Installed(version=version, changed=res.written, added=(), module=self.module,
                              pp_path=str(res.pp_path) if res.pp_path else None,
                              installed=not res.already_installed, warnings=warnings)
        self.last_skeleton = res.to_json()
        return installed

    def in_store(self) -> bool:
        """Whether the store holds the loop's module now."""
        return self._in_store()

    def remove_module(self) -> str:
        """``semodule -r MODULE`` (what ``loop --new-domain`` does when it did not converge)."""
        if not self._in_store():
            return f"{self.module} is not installed: nothing to remove"
        semodule.remove(self.root, self.module, priority=self.priority, record=self.record)
        try:
            (self.state_dir / "installed").unlink()
        except OSError:
            pass
        self._version = None
        return f"removed the new module {self.module} (semodule -r {self.module})"

    def _version_of_te(self) -> str | None:
        from avcfix.policy.te_parse import parse_te

        try:
            return parse_te(self.te_path.read_text(encoding="utf-8"), str(self.te_path)).version
        except Exception:
            return None

    def _save(self, tmp: Path) -> dict[str, Path]:
        saved: dict[str, Path] = {}
        for key, path in (("te", self.te_path), ("pp", self.pp_path)):
            if path.is_file():
                copy = tmp / path.name
                try:
                    shutil.copy2(path, copy)
                except OSError as exc:  # nothing changed yet
                    raise InputError(f"{path}: cannot keep a copy before the build "
                                     f"(in {tmp}): {exc.strerror or exc}") from None
                saved[key] = copy
        return saved

    def _restore_files(self, saved: dict[str, Path]) -> list[str]:
        """Put the ``.te``/``.pp`` back as they were; each failure is a note, never raised."""
        notes: list[str] = []
        for key, path in (("te", self.te_path), ("pp", self.pp_path)):
            try:
                if key in saved:
                    shutil.copy2(saved[key], path)
                elif path.exists() or path.is_symlink():  # unlink(2) says EROFS even for a missing file
                    path.unlink()
            except OSError as exc:
                if key in saved:
                    notes.append(f"rollback: could not restore {path} ({exc.strerror or exc}): it may hold "
                                 f"the new version, which is not installed")
                else:
                    notes.append(f"rollback: could not remove {path} ({exc.strerror or exc}): it is the "
                                 f"new version, which is not installed")
        return notes

    def _safe_rollback(self, previous: tuple[str, Path] | None, was_there: bool) -> tuple[str, list[str]]:
        """:meth:`_rollback`, its failure turned into a note: (what was done, notes)."""
        try:
            return self._rollback(previous, was_there), []
        except Exception as exc:
            if previous is not None:
                how = f"reinstall it: {' '.join(self.root.semodule_argv('-i', str(previous[1])))}"
            else:
                how = f"check it: {' '.join(self.root.semodule_argv('-l'))}"
            return "the rollback failed too (see the notes)", [f"rollback: {exc} ({how})"]

    def _keep(self, version: str, package: Path) -> None:
        """Keep the package just installed as VERSION, and note it as the installed one."""
        dest = self.state_dir / version / package.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(package, tmp)
        tmp.replace(dest)
        marker = self.state_dir / "installed"
        marker.with_name("installed.tmp").write_text(f"{version}\n", encoding="utf-8")
        marker.with_name("installed.tmp").replace(marker)

    def kept_installed(self) -> tuple[str, Path] | None:
        """(version, package) of the loop's own package that the store holds now, if any.

        The loop's record alone is not enough (the module may have been
        removed or replaced since): the kept package must be the very one
        in the store at the loop's priority.
        """
        try:
            version = (self.state_dir / "installed").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        package = self.state_dir / version / f"{self.module}.pp"
        if not version.strip(".") or "/" in version or not package.is_file():
            return None
        if not semodule.is_installed(self.root, package, priority=self.priority):
            return None
        return version, package

    def _in_store(self) -> bool:
        """Whether the store holds the module at the loop's priority (read in place)."""
        return semodule.module_dir(self.root, self.module, priority=self.priority).is_dir()

    def _rollback(self, previous: tuple[str, Path] | None, was_there: bool) -> str:
        """Put back what the store held before the failed install."""
        if previous is not None:
            version, package = previous
            semodule.install(self.root, package, priority=self.priority, record=self.record)
            return f"rolled back to the previous {self.module} version {version} ({package})"
        if was_there:
            # not a version the loop installed: semodule -i committed nothing, so it is intact
            return f"{self.module} is left as it was installed before the loop"
        if self._in_store():
            semodule.remove(self.root, self.module, priority=self.priority, record=self.record)
            return f"removed {self.module} (there was no previous version)"
        return f"nothing to roll back: {self.module} was not installed before"
