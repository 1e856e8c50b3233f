"""Build orchestration shared by ``avcfix build`` and ``avcfix loop``.

::

    denials = select_denials("eucanetd", all_denials)      # the domain NAME names
    ... group, explain -> findings ...
    result = build_module(findings, BuildOptions(module="eucanetd_local", install=True,
                                                 root=PolicyRoot(Path("/tmp/root"))))

:func:`build_module` generates a module from the findings, merges it into
``OUT_DIR/MODULE.te`` when that exists (bumping the version only when the rules
changed), writes the ``.te`` (and ``.cil``) through a temporary file and a
rename, compiles it with checkmodule and semodule_package (``-M`` when the
target policy is MLS/MCS), and with ``install`` checks the module's names
against the target policy, installs it with semodule and verifies that the
rebuilt policy grants every allow rule (from the policy index shared through
``BuildOptions.targets``, else with setools). A run that adds no rule
changes no file. Every command goes through :func:`avcfix.proc.run`.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avcfix import proc
from avcfix.audit.model import Denial
from avcfix.errors import InputError, InstallError, PolicyError, UsageError
from avcfix.explain.model import Finding
from avcfix.index.setools_target import Names, TargetCache, TargetPolicy
from avcfix.policy.generate import Rejected, generate_module
from avcfix.policy.merge import bump_version, merge_modules, rule_changes
from avcfix.policy.model import SELF, HeaderStyle, Module, RuleKind, XpermKind
from avcfix.policy.render import render_cil, render_te, rule_te
from avcfix.policy.te_parse import parse_te
from avcfix.report.documents import left_out_json
from avcfix.report.jsondoc import rule_lines_json
from avcfix.toolchain import semodule
from avcfix.toolchain.atomic import write_atomic
from avcfix.toolchain.compile import Compiled, compile_module, compile_refpolicy_module, devel_build_for
from avcfix.toolchain.headers import header_dirs, header_macro_names
from avcfix.toolchain.store import PolicyRoot, host_policy_name
from avcfix.toolchain.verify import AllowRule, IoctlRule, missing_ioctls, missing_rules

if TYPE_CHECKING:
    from avcfix.explain.protocol import Facts
    from avcfix.index.target import IndexTarget
    from avcfix.policy.complete import Completion
    from avcfix.refpolicy_builder import PlanEntry


class BuildStep(str, enum.Enum):
    """The steps :func:`build_module` reports to its ``progress`` listener."""

    GENERATE = "generate"
    MERGE = "merge"
    WRITE = "write"
    COMPILE = "compile"
    CHECK = "check"
    INSTALL = "install"
    VERIFY = "verify"


#: ``progress(step, detail)``: called as each step starts.
Progress = Callable[[BuildStep, str], None]


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """What to build and where. ``mls=None`` reads MLS/MCS from the target policy.

    ``facts``: the open policy facts the findings were explained with; when
    they are of the target policy file, MLS/MCS is read from them instead of
    opening the policy again. ``targets``: a :class:`TargetCache` shared by
    the builds of one command or loop run (each policy file is opened once).
    """

    module: str
    out_dir: Path = Path(".")
    policy: Path | None = None
    root: PolicyRoot | None = None
    install: bool = False
    priority: int | None = None
    xperms: bool = False
    cil: bool = False
    include_advised: bool = False
    mls: bool | None = None
    facts: Facts | None = None
    targets: TargetCache | None = None
    #: Permission completion (:mod:`avcfix.policy.complete`), asked of ``facts``: off by default
    #: (``avcfix build`` is exact unless ``--complete``; the loop's enforcing phase turns it on).
    complete: bool = False
    #: "raw" (allow rules, the default) or "refpolicy" (interfaces, macros: avcfix/refpolicy_builder.py)
    style: str = "raw"


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    """What one build did.

    ``diff`` lists the rules removed (``- ...``) and added (``+ ...``) by this
    run, sorted; a rule that gained permissions shows as one of each.
    ``changed`` is False when the rules are the same as in the existing
    ``.te``: then no file was written. ``pp_path`` is None when nothing was
    compiled (an empty module). ``previous_pp`` is the package the new one
    replaced (``NAME.pp.prev``), what :func:`avcfix.toolchain.semodule.rollback`
    reinstalls.
    """

    te_path: Path
    version: str
    left_out: tuple[Finding, ...]
    results: tuple[proc.Result, ...]
    pp_path: Path | None = None
    cil_path: Path | None = None
    changed: bool = False
    diff: tuple[str, ...] = ()
    installed: bool = False
    missing_after_install: tuple[str, ...] = ()
    module: Module | None = None
    rejected: tuple[Rejected, ...] = ()
    previous_pp: Path | None = None
    mls: bool | None = None
    compiled: bool = False
    #: ``install`` found exactly this package installed already (semodule -E) and skipped semodule -i.
    already_installed: bool = False
    #: Permissions completion added (:class:`~avcfix.policy.complete.Completion`), sorted.
    completed: tuple[Completion, ...] = ()
    #: "raw" or "refpolicy"; for refpolicy, what each interface/macro covers and adds (refpolicy_builder._report)
    style: str = "raw"
    refpolicy: tuple[PlanEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """This build in ``avcfix build --json`` (docs/json.md). Rule lines name the real
        types: the ``.te`` writes ``self``, the JSON never does (see rule_lines_json)."""
        attributes = self.module.attribute_names if self.module is not None else frozenset()
        return {
            "module": self.module.name if self.module is not None else self.te_path.stem,
            "version": self.version,
            "te": str(self.te_path) if self.te_path.exists() else None,
            "pp": str(self.pp_path) if self.pp_path is not None else None,
            "cil": str(self.cil_path) if self.cil_path is not None else None,
            "changed": self.changed,
            "compiled": self.compiled,
            "mls": self.mls,
            "diff": rule_lines_json(self.diff, attributes),
            "rules": len(self.module.rules) if self.module is not None else 0,
            "installed": self.installed,
            "already_installed": self.already_installed,
            "missing_after_install": rule_lines_json(self.missing_after_install, attributes),
            "left_out": [left_out_json(f) for f in self.left_out],
            "rejected": [{"what": r.what, "reason": r.reason} for r in self.rejected],
            "completed": [c.to_json() for c in self.completed],
            "commands": [{"argv": list(r.argv), "exit": r.returncode} for r in self.results],
            "style": self.style,
            "refpolicy": list(self.refpolicy),
        }


# -------------------------------------------------------------- name selection

_WORD_SPLIT_RE = re.compile(r"[^a-z0-9]+")


def _words(text: str) -> list[str]:
    return [w for w in _WORD_SPLIT_RE.split(text.lower()) if w]


def _type_words(domain: str) -> list[str]:
    words = _words(domain)
    return words[:-1] if len(words) > 1 and words[-1] == "t" else words


def _contains_run(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return n > 0 and any(list(haystack[i:i + n]) == list(needle) for i in range(len(haystack) - n + 1))


def resolve_name(name: str, denials: Iterable[Denial]) -> str:
    """The source domain that ``name`` selects among the domains of ``denials``.

    ``name`` is tried as a domain type (exact), then as a short name matched
    word by word against the domain types (``eucanetd`` matches
    ``eucalyptus_eucanetd_t``), a comm, or an executable's basename. Raises
    :class:`UsageError` (exit 2) when nothing or more than one domain matches,
    listing the candidates.
    """
    domains: set[str] = set()
    by_comm: dict[str, set[str]] = {}
    by_exe: dict[str, set[str]] = {}
    for d in denials:
        domains.add(d.stype)
        if d.comm:
            by_comm.setdefault(d.comm, set()).add(d.stype)
        if d.exe:
            by_exe.setdefault(d.exe.rstrip("/").rsplit("/", 1)[-1], set()).add(d.stype)
    if name in domains:
        return name
    wanted = _words(name)
    why: dict[str, set[str]] = {}
    for dom in domains:
        if _contains_run(_type_words(dom), wanted):
            why.setdefault(dom, set()).add("domain name")
    for dom in by_comm.get(name, ()):
        why.setdefault(dom, set()).add("comm")
    for dom in by_exe.get(name, ()):
        why.setdefault(dom, set()).add("exe")
    if len(why) == 1:
        return next(iter(why))
    if not why:
        known = ", ".join(sorted(domains)) or "none"
        raise UsageError(f"no denial matches {name!r} (a domain type, a word of one, a comm or an "
                         f"exe name); domains in the input: {known}")
    listed = "; ".join(f"{dom} (by {', '.join(sorted(how))})" for dom, how in sorted(why.items()))
    raise UsageError(f"{name!r} is ambiguous: it matches {listed}. Give the full domain type.")


def select_denials(name: str, denials: Iterable[Denial]) -> tuple[Denial, ...]:
    """The denials of the one source domain ``name`` selects (see :func:`resolve_name`)."""
    pool = tuple(denials)
    domain = resolve_name(name, pool)
    return tuple(d for d in pool if d.stype == domain)


# ------------------------------------------------------------------------ diff


def rule_lines(module: Module) -> tuple[str, ...]:
    """The module's rules as ``.te`` statements without comments, sorted."""
    return tuple(sorted(rule_te(r) for r in module.rules))


def _body_key(module: Module) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """What decides whether a module changed: rules, declarations, verbatim statements."""
    return (rule_lines(module), tuple(sorted(map(repr, module.declarations))),
            tuple(op.text for op in module.opaque))


def rule_diff(old: Module | None, new: Module) -> tuple[str, ...]:
    """``- rule`` for each rule of ``old`` that is gone, ``+ rule`` for each new one."""
    if old is None:
        return tuple(f"+ {r}" for r in rule_lines(new))
    ch = rule_changes(old, new)
    return tuple([f"- {r}" for r in ch.removed] + [f"+ {r}" for r in ch.added])


# ------------------------------------------------------------------- the build


def target_policy_path(options: BuildOptions) -> Path:
    """The policy the module is built for: the install root's policy when
    installing, else ``--policy``, else the root's (``--root`` or the host's)."""
    root = options.root or PolicyRoot(Path("/"), host_policy_name())
    if options.policy is not None and not options.install:
        return Path(options.policy)
    try:
        return root.policy_file
    except PolicyError:
        if options.policy is not None:
            return Path(options.policy)
        raise PolicyError(
            f"no binary policy under {root.etc_dir / 'policy'} to tell whether it is MLS/MCS; "
            "give --policy FILE or --root DIR"
        ) from None


def _open_target(options: BuildOptions, path: Path) -> TargetPolicy | IndexTarget:
    """The target policy at ``path``, from the shared cache when there is one
    (an :class:`~avcfix.index.target.IndexTarget` when it shares a policy index)."""
    if options.targets is not None:
        return options.targets.get(path)
    return TargetPolicy(path)


def _facts_mls(facts: Facts | None, path: Path) -> bool | None:
    """MLS/MCS from open facts of the policy file ``path``; None when they are of another file."""
    fpath = getattr(facts, "path", None)
    if fpath is None or facts is None:
        return None
    try:
        same = os.path.samefile(fpath, path)
    except OSError:
        return None
    return bool(facts.mls) if same else None


def _allow_rules(module: Module) -> tuple[AllowRule, ...]:
    """The module's allow rules, one per (source, target, class), for verification."""
    out = []
    for rule in module.av_rules:
        if rule.kind is not RuleKind.ALLOW:
            continue
        sets = (rule.sources, rule.targets, rule.classes, rule.perms)
        if not all(s.is_plain for s in sets):
            continue  # ~ and * sets: not checked rule by rule
        for src, tgt, cls in product(rule.sources.names, rule.targets.names, rule.classes.names):
            out.append(AllowRule(src, src if tgt == SELF else tgt, cls, rule.perms.names))
    return tuple(out)


#: Most ioctl commands of one allowxperm rule checked one by one after an install.
MAX_VERIFIED_IOCTLS = 4096


def _ioctl_rules(module: Module) -> tuple[IoctlRule, ...]:
    """The module's ``allowxperm ... ioctl`` rules, for verification."""
    out = []
    for rule in module.xperm_rules:
        if rule.kind is not XpermKind.ALLOWXPERM or rule.operation != "ioctl" or rule.complement:
            continue
        if not all(s.is_plain for s in (rule.sources, rule.targets, rule.classes)):
            continue
        if sum(hi - lo + 1 for lo, hi in rule.ranges) > MAX_VERIFIED_IOCTLS:
            continue
        cmds = tuple(c for lo, hi in rule.ranges for c in range(lo, hi + 1))
        for src, tgt, cls in product(rule.sources.names, rule.targets.names, rule.classes.names):
            out.append(IoctlRule(src, src if tgt == SELF else tgt, cls, cmds))
    return tuple(out)


def required_names(module: Module) -> Names:
    """The names the module takes from the policy it is installed into."""
    req = module.require
    declared = module.declared_types | module.declared_attributes
    return Names(
        types=tuple(t for t in req.types if t not in declared),
        attributes=tuple(a for a in req.attributes if a not in declared),
        classes=tuple(c.name for c in req.classes),
        roles=req.roles,
    )


def check_against_target(module: Module, policy: TargetPolicy | IndexTarget) -> None:
    """Raise :class:`InstallError` naming every type, attribute, class or role the
    module requires and the target policy lacks (before semodule sees it)."""
    lacking = policy.missing(required_names(module))
    if lacking:
        count = len(lacking.types + lacking.attributes + lacking.classes + lacking.roles)
        raise InstallError(
            f"module {module.name} needs {lacking.describe()}, which the target policy "
            f"{policy.path} does not define: install the module that declares "
            f"{'it' if count == 1 else 'them'} first, or check the names in the log"
        )
    perms = policy.missing_permissions((c.name, c.perms) for c in module.require.classes)
    if perms:
        listed = "; ".join(f"class {c} has no {' '.join(p)}" for c, p in perms)
        raise InstallError(f"module {module.name} uses permissions the target policy {policy.path} "
                           f"does not define: {listed}")


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _needs_refpolicy(module: Module) -> bool:
    return module.style is HeaderStyle.POLICY_MODULE or bool(module.opaque)


def build_module(
    findings: Sequence[Finding],
    options: BuildOptions,
    progress: Progress | None = None,
    record: Callable[[proc.Result], None] | None = None,
) -> BuildResult:
    """Generate, merge, write, compile and optionally install and verify one module.

    Raises :class:`~avcfix.errors.PolicyError` (bad name, unreadable ``.te``
    or policy), :class:`~avcfix.errors.CompileError` and
    :class:`~avcfix.errors.InstallError`; see the module docstring.
    """
    results: list[proc.Result] = []

    def _record(r: proc.Result) -> None:
        results.append(r)
        if record is not None:
            record(r)

    def _step(step: BuildStep, detail: str) -> None:
        if progress is not None:
            progress(step, detail)

    out_dir = Path(options.out_dir)
    te_path = out_dir / f"{options.module}.te"
    cil_path = out_dir / f"{options.module}.cil"
    pp_path = out_dir / f"{options.module}.pp"

    _step(BuildStep.GENERATE, options.module)
    # names m4 would expand when the module is built with the devel Makefile: the
    # host's headers, the root's own, and the module's NAME.if (the Makefile reads it too)
    root_dir, root_name = (options.root.root, options.root.name) if options.root else (None, "default")
    reserved = header_macro_names(*header_dirs(root_dir, root_name), te_path.with_suffix(".if"))
    completions: tuple[Completion, ...] = ()
    if options.complete and options.facts is not None:
        from avcfix.policy.complete import complete

        completions = complete(findings, options.facts)
    gen = generate_module(findings, name=options.module, include_advised=options.include_advised,
                          xperms=options.xperms, reserved=reserved, completions=completions)
    new = gen.module

    existing: Module | None = None
    ref = None
    if options.style == "refpolicy":
        from avcfix import refpolicy_builder

        if te_path.exists():
            _step(BuildStep.MERGE, str(te_path))
        try:
            ref = refpolicy_builder.prepare(new, te_path, options.module,
                                            options.root.root if options.root else None, widen=options.complete)
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{te_path}: cannot read the existing module ({exc})") from exc
        module = ref.verify
        changed = ref.changed
        diff = ref.diff
        if not module.rules and not te_path.exists():
            return BuildResult(te_path=te_path, version=ref.version, left_out=gen.left_out, results=tuple(results),
                               module=module, rejected=gen.rejected, style="refpolicy")
    elif te_path.exists():
        _step(BuildStep.MERGE, str(te_path))
        try:
            text = te_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{te_path}: cannot read the existing module ({exc})") from exc
        existing = parse_te(text, str(te_path))
        merged = merge_modules([existing, new], name=options.module, version=existing.version)
        changed = _body_key(merged) != _body_key(existing) or existing.name != options.module
        module = merged.with_changes(version=bump_version(existing.version)) if changed else existing
    else:
        module = new
        changed = bool(module.rules)
    if ref is None:
        diff = rule_diff(existing, module) if changed else ()

    if ref is None and not module.rules and existing is None:
        # nothing to allow: no file is written, nothing is compiled
        return BuildResult(te_path=te_path, version=module.version, left_out=gen.left_out, results=tuple(results),
                           module=module, rejected=gen.rejected)

    cil_out: Path | None = None
    if changed:
        _step(BuildStep.WRITE, str(te_path))
        _write(te_path, ref.text if ref is not None else render_te(module))
    if options.cil and ref is None:
        cil_text = render_cil(module)
        if changed or not cil_path.exists() or cil_path.read_text(encoding="utf-8", errors="replace") != cil_text:
            _write(cil_path, cil_text)
        cil_out = cil_path

    mls = options.mls
    target: TargetPolicy | IndexTarget | None = None
    if mls is None or options.install:
        path = target_policy_path(options)
        if not options.install:
            mls = _facts_mls(options.facts, path)
        if mls is None or options.install:
            target = _open_target(options, path)
            if mls is None:
                mls = target.mls

    compiled: Compiled | None = None
    stale = not pp_path.exists() or pp_path.stat().st_mtime_ns < te_path.stat().st_mtime_ns
    if changed or stale:
        _step(BuildStep.COMPILE, str(te_path))
        try:
            if ref is not None:
                compiled = compile_refpolicy_module(te_path, out_dir=out_dir, record=_record,
                                                    makefile=ref.tree.makefile, headerdir=ref.tree.include)
            elif _needs_refpolicy(module):
                makefile, headerdir = devel_build_for(options.root.root if options.root else None)
                compiled = compile_refpolicy_module(te_path, out_dir=out_dir, record=_record, makefile=makefile,
                                                    headerdir=headerdir)
            else:
                compiled = compile_module(te_path, mls=mls, out_dir=out_dir, record=_record)
        except OSError as exc:
            raise InputError(f"{out_dir}: cannot write the compiled module: {exc.strerror or exc}") from None
    previous = compiled.previous if compiled is not None else None

    installed = already = False
    missing: tuple[str, ...] = ()
    if options.install:
        assert target is not None
        root = options.root or PolicyRoot(Path("/"), host_policy_name())
        _step(BuildStep.CHECK, str(target.path))
        check_against_target(module, target)
        to_install = cil_out if options.cil and cil_out is not None else pp_path
        if semodule.is_installed(root, to_install, priority=options.priority, record=_record):
            already = True  # the same bytes are in the store: no policy rebuild
        else:
            _step(BuildStep.INSTALL, str(to_install))
            semodule.install(root, to_install, priority=options.priority, known=target.defines, record=_record)
        installed = True
        _step(BuildStep.VERIFY, str(root.policy_file))
        rebuilt = _open_target(options, root.policy_file)  # the next install's target
        missing = tuple(str(r) for r in missing_rules(rebuilt, _allow_rules(module)))
        missing += tuple(str(r) for r in missing_ioctls(rebuilt, _ioctl_rules(module)))

    return BuildResult(
        te_path=te_path,
        pp_path=pp_path,
        cil_path=cil_out,
        version=ref.version if ref is not None else module.version,
        changed=changed,
        diff=diff,
        installed=installed,
        missing_after_install=missing,
        left_out=gen.left_out,
        results=tuple(results),
        module=module,
        rejected=gen.rejected,
        previous_pp=previous,
        mls=mls,
        compiled=compiled is not None,
        already_installed=already,
        completed=gen.completed,
        style=options.style,
        refpolicy=tuple(ref.report) if ref is not None else (),
    )
