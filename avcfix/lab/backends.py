"""The lab's backends for the loop: a SIMULATED service on the real policy.

:class:`Lab` ties a scenario, a workspace directory and a policy root:

- ``WORKDIR/root``: the lab's policy root (a copy of the reference store plus
  the scenario's fixture modules from ``avcfix/lab/policies/``, installed with the real
  ``semodule -p``); the loop's module is installed here too;
- ``WORKDIR/audit.log``: the log the simulated kernel appends to, read back
  by the real checkpoint reader (:mod:`avcfix.system.auditlog`);
- ``WORKDIR/module``: where the loop's ``.te``/``.pp`` are written;
- ``WORKDIR/lab-state.json``: the simulated machine's runtime state
  (permissive marks, dontaudit, booleans, port table, file labels), kept on
  disk as a real system keeps it, so that a killed run leaves it changed;
- ``WORKDIR/var/lib/avcfix/loop/``: the loop's lock and journal, where a real
  system has them (:mod:`avcfix.loop.session`).

The service, trail and admin objects implement the loop's Protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from avcfix import proc
from avcfix.audit.api import ScanStats
from avcfix.errors import PolicyError, ToolError
from avcfix.explain.fixes import Fix
from avcfix.explain.model import AdviceKind
from avcfix.facts import CurrentFacts
from avcfix.index.bindings import require
from avcfix.lab.kernel import LabState, SimKernel
from avcfix.lab.scenario import Scenario
from avcfix.looptypes.interfaces import ServiceRun, TrailRead
from avcfix.system import auditlog
from avcfix.toolchain import semodule
from avcfix.toolchain.store import PolicyRoot, copy_root
from avcfix.triage import FactsExplainer

#: The fixture modules a scenario may need (``policy_modules``): package data,
#: ``avcfix/lab/policies/NAME.{te,if,fc}`` (see :data:`avcfix.lab.scenario.LABS_DIR`).
POLICIES_DIR = Path(str(resources.files("avcfix.lab") / "policies"))
DEVEL_MAKEFILE = Path("/usr/share/selinux/devel/Makefile")
#: The lab machine's runtime state, in the lab dir.
STATE_FILE = "lab-state.json"


def prepare_root(scenario: Scenario, workdir: Path, base: PolicyRoot,
                 record: Callable[[proc.Result], None] | None = None,
                 note: Callable[[str], None] | None = None) -> PolicyRoot:
    """``WORKDIR/root`` with the scenario's fixture modules installed (reused when present)."""
    root = PolicyRoot(Path(workdir) / "root", base.name)
    if not root.store_dir.is_dir():
        if note:
            note(f"copying the policy store {base.store_dir} into {root.root}")
        root = copy_root(base, root.root)
    _link_devel(base, root)
    installed = {m.name for m in semodule.list_modules(root, record=record)}
    for name in scenario.policy_modules:
        if name in installed:
            continue
        if note:
            note(f"building and installing the fixture module {POLICIES_DIR / name}.te into the lab root")
        pp = build_fixture(name, Path(workdir) / "fixture-build", record)
        semodule.install(root, pp, record=record)
    return root


def _link_devel(base: PolicyRoot, root: PolicyRoot) -> None:
    """A base root with its own devel tree (Fedora's store) lends it to the lab root, so that
    modules for the lab (a new domain's skeleton) are built with that policy's headers."""
    devel = Path(base.root) / "usr" / "share" / "selinux" / "devel"
    mine = Path(root.root) / "usr" / "share" / "selinux" / "devel"
    if Path(base.root) == Path("/") or not (devel / "include").is_dir() or mine.exists() or mine.is_symlink():
        return
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.symlink_to(devel.absolute())


class PolicyTransitions:
    """``type_transition PARENT EXEC:process NEW`` of the lab root's current policy, read
    with setools (reopened when the policy file changed: an install rebuilds it)."""

    def __init__(self, root: PolicyRoot) -> None:
        self.root = root
        self._key: tuple[str, int, int, int] | None = None
        self._rules: dict[tuple[str, str], str] = {}

    def __call__(self, parent: str, exec_type: str) -> str | None:
        import os

        setools = require("setools", "the lab's domain transitions")

        path = self.root.policy_file
        st = os.stat(path)
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._key:
            self._key, self._rules = key, {}
            policy = setools.SELinuxPolicy(str(path))
            for rule in setools.TERuleQuery(policy, ruletype=["type_transition"], tclass=["process"]).results():
                sources = rule.source.expand() if hasattr(rule.source, "expand") else [rule.source]
                targets = rule.target.expand() if hasattr(rule.target, "expand") else [rule.target]
                for src in sources:
                    for tgt in targets:
                        self._rules.setdefault((str(src), str(tgt)), str(rule.default))
        return self._rules.get((parent, exec_type))


def build_fixture(name: str, out_dir: Path, record: Callable[[proc.Result], None] | None = None) -> Path:
    """Compile ``POLICIES_DIR/NAME.te`` (+ .if/.fc) with refpolicy's devel Makefile."""
    if not DEVEL_MAKEFILE.is_file():
        raise PolicyError(f"{DEVEL_MAKEFILE} is missing: install selinux-policy-dev (make setup)")
    src = POLICIES_DIR / f"{name}.te"
    if not src.is_file():
        raise PolicyError(f"lab fixture module {src} not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    for ext in (".te", ".if", ".fc"):
        f = POLICIES_DIR / f"{name}{ext}"
        if f.is_file():
            (out_dir / f.name).write_bytes(f.read_bytes())
    proc.run(["make", "-f", str(DEVEL_MAKEFILE), f"{name}.pp"], cwd=out_dir, check=True, record=record)
    return out_dir / f"{name}.pp"


class Lab:
    """One lab: scenario + workspace + policy root + simulated kernel.

    ``facts``: the policy facts of the lab root, shared by the kernel's
    decisions, the relabels of :class:`LabAdmin` and :meth:`explainer`; the
    loop releases them at the end of each iteration (one open per iteration).
    """

    def __init__(self, scenario: Scenario, workdir: Path, root: PolicyRoot) -> None:
        self.scenario = scenario
        self.workdir = Path(workdir)
        self.root = root
        self.log = self.workdir / "audit.log"
        self.module_dir = self.workdir / "module"
        self.state_file = self.workdir / STATE_FILE
        self.facts = CurrentFacts(root)
        self.kernel = SimKernel(scenario, self.log, self.facts.get, self.state_file,
                                transition=PolicyTransitions(root) if scenario.parent else None)

    def explainer(self) -> FactsExplainer:
        """The loop's explainer, over the same facts as the lab's kernel."""
        return FactsExplainer(self.root, facts=self.facts)

    def service(self) -> LabService:
        return LabService(self)

    def trail(self) -> LabTrail:
        return LabTrail(self.log)

    def admin(self) -> LabAdmin:
        return LabAdmin(self)


class LabService:
    """ServiceControl for the simulated service: a restart runs the scenario once."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.name = lab.scenario.service
        self.runs = 0

    def restart(self, settle: float) -> ServiceRun:
        self.runs += 1
        r = self.lab.kernel.run_service()
        ran_as = (self.lab.kernel.context.split(":")[2],)  # the domain the kernel started it in
        if r.ok:
            return ServiceRun(True, "active", f"simulated: {r.accesses_done} accesses done in {ran_as[0]}",
                              ran_as)
        return ServiceRun(False, "failed", f"simulated: exited at '{r.failed}' (EACCES)", ran_as)

    def domains(self) -> tuple[str, ...]:
        return (self.lab.scenario.domain,)

    def executables(self) -> tuple[str, ...]:
        return (self.lab.scenario.exe,)


class LabTrail:
    """AuditTrail over the lab's log, with the real checkpoint reader."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def checkpoint(self) -> object:
        return auditlog.checkpoint(self.log)

    def read_since(self, mark: object) -> TrailRead:
        assert isinstance(mark, auditlog.LogCheckpoint)
        new = auditlog.read_new(mark)
        stats = ScanStats()
        denials = auditlog.denials_in(new.data, str(self.log), stats)
        warnings = list(new.notes)
        if stats.skipped_lines:
            warnings.append(f"{stats.skipped_lines} line(s) of {self.log} could not be read")
        return TrailRead(tuple(denials), stats.skipped_lines, tuple(warnings))


class LabAdmin:
    """PolicyAdmin for the lab: the lab kernel's permissive set, booleans, tables."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.actions: list[str] = []

    @property
    def state(self) -> LabState:
        return self.lab.kernel.state

    def permissive_domains(self) -> frozenset[str]:
        return frozenset(self.state.permissive_domains)

    def set_permissive(self, domain: str, on: bool) -> None:
        self.actions.append(f"semanage permissive -{'a' if on else 'd'} {domain}")
        if on:
            self.state.permissive_domains.add(domain)
        else:
            self.state.permissive_domains.discard(domain)
        self.lab.kernel.save()

    def dontaudit_enabled(self) -> bool:
        return self.state.dontaudit

    def set_dontaudit(self, enabled: bool) -> None:
        self.actions.append("semodule -B" if enabled else "semodule -DB")
        self.state.dontaudit = enabled
        self.lab.kernel.save()

    def apply_fix(self, fix: Fix) -> str:
        st = self.state
        if fix.kind is AdviceKind.BOOLEAN:
            for name, value in fix.booleans:
                st.booleans[name] = value
        elif fix.kind is AdviceKind.PORT_LABEL:
            assert fix.port is not None
            proto, port, type_name = fix.port
            st.ports[(proto, port)] = f"system_u:object_r:{type_name}:s0"
        elif fix.kind in (AdviceKind.FCONTEXT, AdviceKind.RESTORECON, AdviceKind.FCONTEXT_EQUAL):
            if fix.fcontext is not None:
                st.fcontexts.insert(0, fix.fcontext)
            if fix.equal is not None:
                src, dst = fix.equal
                st.equivalences[dst] = src
            analyzer = self.lab.facts.get()  # lent: the loop closes it at the end of the iteration
            for path, recursive in fix.relabels():
                if self.lab.kernel.relabel(path, analyzer) is None:
                    raise ToolError(f"lab: cannot relabel {path}: no label known for it")
                if recursive:  # restorecon -R: what the lab's disk holds below it too
                    for below in self.lab.kernel.tree(path):
                        self.lab.kernel.relabel(below, analyzer)
        else:  # pragma: no cover - fix_for only makes the kinds above
            raise ToolError(f"lab: cannot apply {fix.kind.value}")
        self.lab.kernel.save()
        cmds = "; ".join(" ".join(a) for a in fix.argv)
        self.actions.append(cmds)
        return f"{cmds} (in the lab)"

    def fix_before(self, fix: Fix) -> dict[str, Any]:
        """The lab state ``fix`` touches, as it is now."""
        st = self.state
        before: dict[str, Any] = {}
        if fix.booleans:
            before["booleans"] = {name: st.booleans.get(name) for name, _ in fix.booleans}
        if fix.port is not None:
            proto, port, _ = fix.port
            before["port"] = [proto, port, st.ports.get((proto, port))]
        if fix.fcontext is not None:
            before["fcontexts"] = [list(fc) for fc in st.fcontexts]
        if fix.equal is not None:
            before["equivalences"] = dict(st.equivalences)
        if fix.paths:
            files: dict[str, str | None] = {}
            for path, recursive in fix.relabels() or tuple((p, False) for p in fix.paths):
                files[path] = st.files.get(path)
                if recursive:
                    files.update({q: st.files.get(q) for q in self.lab.kernel.tree(path)})
            before["files"] = files
        return before

    def undo_fix(self, fix: Fix, before: dict[str, Any]) -> list[str]:
        """Put the lab state back as ``before`` says (nothing when it is so already)."""
        st = self.state
        out: list[str] = []
        for name, old in sorted((before.get("booleans") or {}).items()):
            if st.booleans.get(name) != old:
                if old is None:
                    st.booleans.pop(name, None)
                else:
                    st.booleans[name] = bool(old)
                out.append(f"boolean {name} set back to {_onoff(old)} (in the lab)")
        for path, old in sorted((before.get("files") or {}).items()):
            if old is not None and st.files.get(path) != old:
                st.files[path] = old
                out.append(f"{path} relabelled back to {old} (in the lab)")
        if "fcontexts" in before:
            old_fc = [(str(r), str(t)) for r, t in before["fcontexts"]]
            if st.fcontexts != old_fc:
                st.fcontexts = old_fc
                out.append(f"file-context rule {fix.fcontext[0] if fix.fcontext else ''} removed (in the lab)")
        if "equivalences" in before:
            old_eq = {str(k): str(v) for k, v in (before["equivalences"] or {}).items()}
            if st.equivalences != old_eq:
                st.equivalences = old_eq
                out.append(f"file-context equivalence {fix.equal[1] if fix.equal else ''} removed (in the lab)")
        if before.get("port"):
            proto, port, old = before["port"]
            key = (str(proto), int(port))
            if st.ports.get(key) != old:
                if old is None:
                    st.ports.pop(key, None)
                else:
                    st.ports[key] = old
                out.append(f"port {proto}/{port} label set back to {old or '(none)'} (in the lab)")
        if out:
            self.lab.kernel.save()
            self.actions.append(f"undo: {fix.command}")
        return out


def _onoff(value: object) -> str:
    return "(unset)" if value is None else ("on" if value else "off")
