"""Write, compile, install and verify a new domain's skeleton module.

Shared by ``avcfix build --new-domain NAME --exec PATH`` and ``avcfix loop
--new-domain``::

    res = build_new_domain("tinyd", "/usr/sbin/tinyd", out_dir=Path("."),
                           root=PolicyRoot(Path("/tmp/root")), install=True)

The files come from :func:`avcfix.policy.skeleton.write_skeleton` with the
macros of the headers it is built with (the root's own devel tree when it
has one, else the host's). An existing ``NAME.te`` in the out dir is kept
(it may hold the rules a loop merged into the skeleton): it is compiled and
installed as it is. After an install the rebuilt policy is checked with
setools: the skeleton's types exist, and a ``type_transition ...
NAME_exec_t:process NAME_t`` rule from init's domains is in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from avcfix import proc
from avcfix.errors import InputError, UsageError
from avcfix.index.bindings import require
from avcfix.policy.skeleton import SELF_PERM_SETS, Skeleton, devel_dir, write_skeleton
from avcfix.toolchain import semodule
from avcfix.toolchain.atomic import write_atomic
from avcfix.toolchain.compile import compile_refpolicy_module, devel_build_for
from avcfix.toolchain.headers import expand_perm_set, header_macro_names
from avcfix.toolchain.store import PolicyRoot

#: The domains a service manager runs a service from, in the policies avcfix knows:
#: init_t (systemd), initrc_t (SysV scripts), unconfined_service_t (Fedora's
#: default for a service binary without a domain).
PARENT_DOMAINS = ("init_t", "initrc_t", "unconfined_service_t")


@dataclass(frozen=True, slots=True)
class NewDomainResult:
    skeleton: Skeleton
    te_path: Path
    if_path: Path
    fc_path: Path
    #: The files were written by this run (False: an existing NAME.te was kept).
    written: bool
    pp_path: Path | None = None
    installed: bool = False
    already_installed: bool = False
    #: Skeleton types the rebuilt policy lacks (after an install).
    missing_types: tuple[str, ...] = ()
    #: (source domain, new domain) of the process type transitions on NAME_exec_t in the rebuilt policy.
    transitions: tuple[tuple[str, str], ...] = ()
    results: tuple[proc.Result, ...] = field(default=())

    @property
    def verified(self) -> bool:
        """Installed, every type there, and init's domain enters the new one."""
        return (self.installed and not self.missing_types
                and any(src == "init_t" and dst == self.skeleton.domain for src, dst in self.transitions))

    def to_json(self) -> dict[str, object]:
        return {
            **self.skeleton.to_json(),
            "te": str(self.te_path), "if": str(self.if_path), "fc": str(self.fc_path),
            "written": self.written, "pp": str(self.pp_path) if self.pp_path else None,
            "installed": self.installed, "already_installed": self.already_installed,
            "missing_types": list(self.missing_types),
            "transitions": [{"from": s, "to": d} for s, d in self.transitions],
            "verified": self.verified,
            "commands": [{"argv": list(r.argv), "exit": r.returncode} for r in self.results],
        }


def canonical_path(path: str, root: Path | None = None) -> str:
    """``path`` as the policy's file_contexts spell it: the ``.subs`` then the
    ``.subs_dist`` path aliases of ``root``'s policy (or the host's) applied as
    libselinux applies them (Fedora: ``/usr/sbin /usr/bin``), so that the
    ``.fc`` line is the one a lookup of ``path`` meets."""
    from avcfix.explain.labelfiles import subs_entries
    from avcfix.toolchain.store import host_policy_name

    base = Path(root) if root is not None else Path("/")
    try:
        fc = PolicyRoot(base, host_policy_name(base)).file_contexts
    except Exception:
        return path
    for suffix in (".subs", ".subs_dist"):
        for alias, original in subs_entries(fc.with_name(fc.name + suffix)):
            alias = alias.rstrip("/")
            if alias and (path == alias or path.startswith(alias + "/")):
                path = original.rstrip("/") + path[len(alias):]
                break
    return path


def skeleton_for(name: str, exec_path: str, root: Path | None = None, permissive: bool = False) -> Skeleton:
    """The skeleton written with the headers of ``root`` (or the host's); its
    ``.fc`` names the executable as the policy's path aliases spell it."""
    devel = devel_dir(root)
    include = devel / "include"
    if not include.is_dir():
        raise UsageError(f"{include} is missing: a new domain is written with the refpolicy headers "
                         "(install selinux-policy-dev / selinux-policy-devel)")
    taken = sorted(str(p.relative_to(include)) for p in include.glob(f"*/{name}.if"))
    if taken:
        raise UsageError(f"--new-domain {name!r}: the policy has a module of that name ({include}/{taken[0]}): "
                         "installing another would replace it; choose another name")
    macros = header_macro_names(include)
    perm_sets = {m: expand_perm_set(m, include) for m in SELF_PERM_SETS}
    return write_skeleton(name, exec_path, macros=macros, perm_sets=perm_sets, permissive=permissive,
                          fc_exec_path=canonical_path(exec_path, root))


def policy_types_and_transitions(policy_file: Path, skel: Skeleton) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(skeleton types missing from the policy, process transitions on its exec type), with setools."""
    setools = require("setools", "checking a new domain against the policy")

    p = setools.SELinuxPolicy(str(policy_file))
    have = {str(t) for t in p.types()}
    missing = tuple(t for t in skel.types if t not in have)
    if skel.exec_type not in have:
        return missing, ()
    found: set[tuple[str, str]] = set()
    q = setools.TERuleQuery(p, ruletype=["type_transition"], target=skel.exec_type, tclass=["process"])
    for rule in q.results():
        sources = rule.source.expand() if hasattr(rule.source, "expand") else [rule.source]
        for s in sources:
            if str(s) in PARENT_DOMAINS:
                found.add((str(s), str(rule.default)))
    return missing, tuple(sorted(found))


def _check_not_taken(root: PolicyRoot, skel: Skeleton, record: Callable[[proc.Result], None]) -> None:
    """A domain NAME_t that another module declares is not the skeleton's to write."""
    try:
        policy = root.policy_file
    except Exception:
        return
    setools = require("setools", "checking a new domain against the policy")

    if skel.domain not in {str(t) for t in setools.SELinuxPolicy(str(policy)).types()}:
        return
    if any(m.name == skel.name for m in semodule.list_modules(root, record=record)):
        return  # our module (an earlier run): reinstalling it is an update
    raise UsageError(f"{skel.domain} exists already in {policy} (declared by another module than "
                     f"{skel.name}): the service has a domain; build rules for it instead "
                     f"(avcfix build {skel.domain} ... or avcfix loop --service ...)")


def build_new_domain(name: str, exec_path: str, *, out_dir: Path, root: PolicyRoot | None = None,
                     install: bool = False, priority: int | None = None, permissive: bool = False,
                     compile: bool = True, record: Callable[[proc.Result], None] | None = None,
                     progress: Callable[[str, str], None] | None = None) -> NewDomainResult:
    """Write (unless NAME.te exists), compile and optionally install and verify the skeleton.

    Raises :class:`UsageError` (bad name or path, a domain that exists),
    :class:`~avcfix.errors.CompileError`, :class:`InstallError`.
    """
    results: list[proc.Result] = []

    def _record(r: proc.Result) -> None:
        results.append(r)
        if record is not None:
            record(r)

    def step(what: str, detail: str) -> None:
        if progress is not None:
            progress(what, detail)

    root_dir = root.root if root is not None else None
    skel = skeleton_for(name, exec_path, root_dir, permissive)
    out_dir = Path(out_dir)
    te_path, if_path, fc_path = (out_dir / f"{name}{ext}" for ext in (".te", ".if", ".fc"))
    written = not te_path.exists()
    if install:
        _check_not_taken(root or PolicyRoot(Path("/")), skel, _record)
    if written:
        step("write", str(te_path))
        try:
            write_files(skel, out_dir)
        except OSError as exc:
            raise InputError(f"{out_dir}: cannot write the skeleton: {exc.strerror or exc}") from None
    else:
        for path, text in ((if_path, skel.if_text), (fc_path, skel.fc)):
            if not path.exists():
                write_files_one(path, text)
    pp: Path | None = None
    if compile or install:
        step("compile", str(te_path))
        makefile, headerdir = devel_build_for(root_dir)
        pp = compile_refpolicy_module(te_path, out_dir=out_dir, makefile=makefile, headerdir=headerdir,
                                      record=_record).pp_path
    res = NewDomainResult(skel, te_path, if_path, fc_path, written, pp, results=())
    if not install:
        return _with(res, results)
    assert pp is not None
    target = root or PolicyRoot(Path("/"))
    already = semodule.is_installed(target, pp, priority=priority)
    if not already:
        step("install", str(pp))
        semodule.install(target, pp, priority=priority, record=_record)
    step("verify", str(target.policy_file))
    missing, transitions = policy_types_and_transitions(target.policy_file, skel)
    res = NewDomainResult(skel, te_path, if_path, fc_path, written, pp, True, already, missing, transitions)
    return _with(res, results)


def write_files(skel: Skeleton, out_dir: Path) -> tuple[Path, Path, Path]:
    """Write NAME.te, NAME.if and NAME.fc into ``out_dir`` (each atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / f"{skel.name}.te", out_dir / f"{skel.name}.if", out_dir / f"{skel.name}.fc")
    for path, text in zip(paths, (skel.te, skel.if_text, skel.fc), strict=True):
        write_atomic(path, text)
    return paths


def write_files_one(path: Path, text: str) -> None:
    from avcfix.toolchain.atomic import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _with(res: NewDomainResult, results: list[proc.Result]) -> NewDomainResult:
    from dataclasses import replace

    return replace(res, results=tuple(results))


def next_steps(res: NewDomainResult, service: str | None = None) -> list[str]:
    """What an admin does next, as commands."""
    import shlex

    from avcfix.explain.commands import restorecon

    svc = service or f"{res.skeleton.name}.service"
    steps = []
    if not res.installed:
        steps.append(shlex.join(["semodule", "-i", str(res.pp_path or res.te_path.with_suffix(".pp"))]))
    relabel = restorecon(res.skeleton.exec_path)  # the path passed check_path: never None
    steps += [relabel or "", shlex.join(["systemctl", "restart", svc]),
              shlex.join(["avcfix", "loop", "--service", svc, "--module", res.skeleton.name,
                          "--out-dir", str(res.te_path.parent)])]
    return [s for s in steps if s]
