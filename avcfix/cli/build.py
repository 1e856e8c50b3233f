"""``avcfix build NAME [SOURCES...]``: one merged, deduplicated module per domain,
compiled (and optionally installed and verified) with the real toolchain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from avcfix.audit.api import ScanStats
from avcfix.audit.model import Denial
from avcfix.builder import BuildOptions, BuildResult, BuildStep, Progress, build_module, resolve_name
from avcfix.cli.app import app, console, console_err
from avcfix.cli.common import (
    default_sources,
    explain_default_source_error,
    make_filters,
    markup_text,
    progress_reporter,
    report_skipped,
)
from avcfix.cli.output import FORMAT_HELP, OutputFormat, resolve_format
from avcfix.errors import AvcfixError, ExitCode, InputError, InstallError, UsageError
from avcfix.explain.model import Finding
from avcfix.index.setools_target import TargetCache
from avcfix.names.identifiers import default_module_name, identifier_problem
from avcfix.report.documents import build_document, write_document
from avcfix.text import visible
from avcfix.toolchain.store import PolicyRoot, host_policy_name
from avcfix.triage import Triage

#: Version of the ``--json`` document (README, "JSON output").
#: Left-out findings listed per module on the terminal (all of them are in --json and the .te).
SHOW_LEFT_OUT = 8


class SomeModulesFailed(AvcfixError):
    """With several modules, some failed (each was reported); the exit code is the first failure's."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _partition(findings: list[Finding]) -> dict[str, list[Finding]]:
    by_domain: dict[str, list[Finding]] = {}
    for f in findings:
        by_domain.setdefault(f.group.source, []).append(f)
    return dict(sorted(by_domain.items()))


@contextmanager
def _status(enabled: bool, first: str) -> Iterator[Progress | None]:
    """A spinner on stderr (only on a terminal); yields ``update(step, detail)`` or None."""
    if not enabled or not console_err.is_terminal:
        yield None
        return
    with console_err.status(markup_text(first)) as status:

        def update(step: BuildStep | str, detail: str) -> None:
            status.update(f"{getattr(step, 'value', step)}: {markup_text(detail)}")

        yield update


# ------------------------------------------------------------------ output

def _print_left_out(res: BuildResult) -> None:
    """Left-out findings grouped by reason: the shared explanation once, then each
    access with the command that fixes it (capped; all of them are in --json)."""
    console.print(f"  [yellow]left out ({len(res.left_out)}): a new allow rule is not the fix "
                  "(--include-advised adds the ones a rule can fix)[/]", soft_wrap=True)
    by_reason: dict[str, list[Finding]] = {}
    for f in res.left_out:
        by_reason.setdefault(f.reason.value, []).append(f)
    shown = 0
    for reason, items in sorted(by_reason.items()):
        details = {f.detail for f in items if not f.advice}
        shared = next(iter(details)) if len(details) == 1 and all(not f.advice for f in items) else ""
        console.print(f"    [bold]{markup_text(reason)}[/]" + (f": {markup_text(shared)}" if shared else ""), soft_wrap=True)
        for f in items:
            if shown >= SHOW_LEFT_OUT:
                break
            shown += 1
            g = f.group
            fix = f.advice[0].command if f.advice else ("" if shared else f.detail)
            console.print(f"      {visible(g.source)} {visible(g.target)}:{visible(g.tclass)} "
                          f"{{ {visible(' '.join(f.perms))} }}" + (f"  -> {visible(fix)}" if fix else ""),
                          markup=False, soft_wrap=True)
    if len(res.left_out) > shown:
        where = f"the comment at the top of {res.te_path.name}" if res.te_path.exists() else "--json"
        console.print(f"    ... and {len(res.left_out) - shown} more (see {markup_text(where)}, or 'avcfix why')")


def _print_result(res: BuildResult) -> None:
    name = markup_text(res.module.name if res.module is not None else res.te_path.stem)
    if res.pp_path is None and not res.changed:
        console.print(f"[bold]{name}[/]: nothing to allow, no module written")
    elif res.changed:
        console.print(f"[bold]{name}[/] {markup_text(res.version)}: wrote [cyan]{markup_text(res.te_path)}[/]"
                      + (f" and [cyan]{markup_text(res.cil_path)}[/]" if res.cil_path else ""))
    else:
        console.print(f"[bold]{name}[/] {markup_text(res.version)}: no new rules, [cyan]{markup_text(res.te_path)}[/] unchanged")
    for line in res.diff:
        style = "green" if line.startswith("+") else "red"
        console.print(f"  [{style}]{markup_text(line)}[/]", soft_wrap=True)
    for item in res.refpolicy:
        if item["adds"]:
            added = " ".join(a.split(":", 1)[-1].split(" ", 1)[-1].rstrip(";") for a in item["adds"])
            console.print(f"  [yellow]wider than the log:[/] {markup_text(item['name'])} adds {markup_text(added)} "
                          "(see the comment in the .te)", soft_wrap=True)
    if res.compiled and res.pp_path is not None:
        flag = " (checkmodule -M)" if res.mls else ""
        console.print(f"  compiled [cyan]{markup_text(res.pp_path)}[/]{flag}")
    if res.already_installed:
        console.print("  already installed (the same package is in the store): semodule -i not run")
    elif res.installed:
        console.print("  installed with semodule")
        if res.missing_after_install:
            console.print("  [bold red]the rebuilt policy does not grant:[/]")
            for rule in res.missing_after_install:
                console.print(f"    {visible(rule)}", markup=False)
        else:
            console.print("  [green]verified:[/] the rebuilt policy grants every allow rule")
    if res.left_out:
        _print_left_out(res)
    for r in res.rejected:
        console.print(f"  [red]rejected:[/] {markup_text(r.what)}: {markup_text(r.reason)}", soft_wrap=True)


def _print_json(results: list[BuildResult], failed: list[tuple[str, AvcfixError]], stats: ScanStats) -> None:
    """The ``--json`` document (README, "avcfix build"), failed modules included."""
    write_document(build_document((r.to_json() for r in results),
                                  ((name, str(exc), int(exc.exit_code)) for name, exc in failed), stats.as_dict()))


# ------------------------------------------------------------------ command

Job = tuple[str, list[Finding]]


def _build_all(t: Triage, name: str | None, sources: list[str], root: Path | None, all_domains: bool,
               module: str | None, as_json: bool, strict: bool, base: BuildOptions,
               ) -> tuple[list[Job], list[BuildResult], list[tuple[str, AvcfixError]]]:
    """Scan, explain (``t``'s facts) and build each module; ``base``: the options the builds share."""
    try:
        with progress_reporter(console_err, enabled=not as_json) as progress:
            denials: list[Denial] = list(t.scan(progress, group=False))
    except InputError as exc:
        raise explain_default_source_error(sources, exc) from None
    stats = t.stats
    report_skipped(stats, console_err, strict)

    if name is not None:
        chosen = resolve_name(name, denials)
        denials = [d for d in denials if d.stype == chosen]
    elif not denials:
        raise UsageError(f"no denials in {', '.join(t.sources)}: nothing to build")

    groups = t.group(denials)
    proot = PolicyRoot(Path(root), host_policy_name(Path(root))) if root is not None else None
    results: list[BuildResult] = []
    failed: list[tuple[str, AvcfixError]] = []
    try:
        with _status(not as_json, f"explaining {len(groups)} denial groups..."):
            findings = t.explain(groups) or []
    except AvcfixError as exc:
        if not as_json:
            raise
        # an unreadable policy fails every module the run would have built
        if all_domains and module is None:
            planned = sorted({default_module_name(d.stype) for d in denials})
        else:
            planned = [module or default_module_name(name or "avcfix")]
        _print_json(results, [(n, exc) for n in planned], stats)
        raise
    facts = t.facts
    if all_domains and module is None:
        jobs = [(default_module_name(dom), fs) for dom, fs in _partition(findings).items()]
    else:
        jobs = [(module or default_module_name(name or "avcfix"), findings)]

    # the target policy too: once per policy file (an install makes a new one). With --install, the check
    # and the verification ask the install root's policy index: the explain's facts when they are of that
    # file, then each install's rebuilt policy (its index built once, for the verification and the next check)
    target_facts = None
    if base.install:
        from avcfix.facts import CurrentFacts

        target_facts = CurrentFacts(proot or PolicyRoot(Path("/"), host_policy_name()))
        if facts is not None and target_facts.is_policy(getattr(facts, "path", None)):
            target_facts.lend(facts)
    targets = TargetCache(target_facts.for_policy if target_facts is not None else None)
    try:
        with _status(not as_json, "building...") as step:
            for modname, fs in jobs:
                opts = replace(base, module=modname, root=proot, facts=facts, targets=targets)
                try:
                    results.append(build_module(fs, opts, progress=step))
                except AvcfixError as exc:
                    failed.append((modname, exc))  # one domain's failure does not stop the others
    finally:
        if target_facts is not None:
            target_facts.release()  # the rebuilt policies' facts it opened (lent ones are the caller's)
    return jobs, results, failed


@app.command()
def build(
    args: Optional[list[str]] = typer.Argument(
        None, metavar="NAME [SOURCES...]",
        help="NAME: a domain type (eucalyptus_eucanetd_t), a word of one (eucanetd), a comm or an exe "
        "name; then audit logs as for 'why' ('-' for stdin; default /var/log/audit/audit.log). "
        "With --all-domains, every argument is a source."),
    all_domains: bool = typer.Option(False, "--all-domains", help="Build for every domain in the input "
                                     "(one module each; with --module, one module for all)."),
    module: Optional[str] = typer.Option(None, "--module", "-m", help="Module name (default NAME_local)."),
    out_dir: Path = typer.Option(Path("."), "--out-dir", "-o", help="Where MODULE.te/.pp/.cil go."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Binary policy to explain and build against."),
    root: Optional[Path] = typer.Option(None, "--root", help="Alternate policy root (semodule -p DIR)."),
    install: bool = typer.Option(False, "--install", help="Install with semodule -i, then verify with setools."),
    priority: Optional[int] = typer.Option(None, "--priority", "-X", min=1, max=999,
                                           help="semodule priority (-X) for --install."),
    xperms: bool = typer.Option(False, "--xperms", help="allowxperm rules for the ioctl commands seen."),
    cil: bool = typer.Option(False, "--cil", help="Also write MODULE.cil (and install it instead of the .pp)."),
    include_advised: bool = typer.Option(False, "--include-advised",
                                         help="Also allow what a label, boolean or restorecon would fix."),
    mls: Optional[bool] = typer.Option(None, "--mls/--no-mls", help="Force checkmodule -M on or off "
                                       "(default: read from the target policy)."),
    domain: Optional[str] = typer.Option(None, "--domain", "-d", help="Only denials of this source type (exact)."),
    comm: Optional[str] = typer.Option(None, "--comm", "-c", help="Only denials of this command name (exact)."),
    since: Optional[str] = typer.Option(None, "--since", help="Start time (as for 'why')."),
    until: Optional[str] = typer.Option(None, "--until", help="End time (as for 'why')."),
    strict: bool = typer.Option(False, "--strict", help="Exit 4 when any input line was skipped."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document (--format json; docs/json.md)."),
    fmt: Optional[OutputFormat] = typer.Option(None, "--format", help=FORMAT_HELP),
    new_domain: Optional[str] = typer.Option(None, "--new-domain", help="Write a new domain NAME_t for a "
                                             "service that has none (module NAME: .te, .if, .fc, as "
                                             "sepolicy generate --init); needs --exec. Arguments are "
                                             "then only log sources."),
    exec_path: Optional[str] = typer.Option(None, "--exec", help="With --new-domain: the service's "
                                            "executable, labelled NAME_exec_t."),
    permissive_domain: bool = typer.Option(False, "--permissive-domain", help="With --new-domain: "
                                           "write 'permissive NAME_t;' (default: enforced)."),
    complete: bool = typer.Option(False, "--complete", help="Permission completion: add the rest of a "
                                  "well-known access sequence the log's events prove (docs/completion.md); "
                                  "with --style refpolicy also the wider permission sets of the README's table."),
    exact: bool = typer.Option(False, "--exact", help="Only the denied permissions (the default; "
                               "overrides --complete)."),
    style: str = typer.Option("raw", "--style", help="raw: allow rules (and --cil); refpolicy: "
                              "policy_module() with the target policy's interfaces and macros, built "
                              "with its devel Makefile (README, 'refpolicy style')."),
) -> None:
    """Build one merged, deduplicated policy module per domain and compile it."""
    args = list(args or [])
    as_json = resolve_format(fmt, as_json) == "json"
    if new_domain is not None or exec_path is not None or permissive_domain:
        from avcfix.cli.newdomain import new_domain_build

        done = new_domain_build(new_domain, exec_path, permissive_domain, args, module=module, out_dir=out_dir,
                                root=root, install=install, priority=priority, as_json=as_json,
                                all_domains=all_domains, cil=cil)
        if done is None:
            return
        args, module = done  # log sources given: their rules for NAME_t go into the skeleton too
    if all_domains:
        name, sources = None, args
    else:
        if not args:
            raise UsageError("give NAME (a domain, a word of one, a comm or an exe name), or --all-domains")
        name, sources = args[0], args[1:]
    if style not in ("raw", "refpolicy"):
        raise UsageError(f"--style {style!r}: give raw or refpolicy")
    if style == "refpolicy" and cil:
        raise UsageError("--cil writes raw rules only: it does not go with --style refpolicy")
    if priority is not None and not install:
        raise UsageError("--priority applies to --install")
    if module is not None:
        problem = identifier_problem(module, "module")
        if problem:
            raise UsageError(f"--module {module!r}: not a valid module name: {problem}")
    filters = make_filters(domain, comm, since, until)
    names = default_sources(sources)
    # the policy is opened once for the whole command (explain, then each module's build) and closed
    # when the builds are over, whatever happened
    with Triage(names, filters=filters, policy=policy, root=root) as t:
        base = BuildOptions(module="", out_dir=out_dir, policy=policy, install=install, priority=priority,
                            xperms=xperms, cil=cil, include_advised=include_advised, mls=mls,
                            complete=complete and not exact, style=style)
        jobs, results, failed = _build_all(t, name, sources, root, all_domains, module, as_json, strict, base)
    stats = t.stats
    if as_json:
        _print_json(results, failed, stats)  # failures too: the document lists them (README)
    else:
        for res in results:
            _print_result(res)
        if len(jobs) > 1:
            for name, exc in failed:
                console_err.print(f"[bold red]avcfix:[/] {markup_text(name)}: {markup_text(exc)}")
    if failed:
        name, first = failed[0]
        if len(jobs) == 1:
            raise first  # its own message (a compile error's .te lines) and exit code
        raise SomeModulesFailed(f"{len(failed)} of {len(jobs)} modules failed (first: {name})",
                                first.exit_code)
    missing = sum(len(r.missing_after_install) for r in results)
    if missing:
        raise InstallError(f"{missing} rule{'s are' if missing != 1 else ' is'} not granted by the rebuilt "
                           "policy (see missing_after_install)")
