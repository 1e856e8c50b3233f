"""``avcfix bundle [SOURCES...] -o FILE.tar.gz``: a bug-report archive."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from avcfix import proc
from avcfix.cli.app import app, console, console_err
from avcfix.cli.common import (
    default_sources,
    explain_default_source_error,
    make_filters,
    progress_reporter,
    report_skipped,
)
from avcfix.cli.output import OutputFormat, resolve_format
from avcfix.errors import InputError, UsageError
from avcfix.report.documents import versioned, write_document
from avcfix.text import visible


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("avcfix")
    except metadata.PackageNotFoundError:
        return "unknown"


@app.command()
def bundle(
    sources: Optional[list[str]] = typer.Argument(
        None, help="Audit logs as for 'why' ('-' for stdin). Default: /var/log/audit/audit.log."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The archive to write (FILE.tar.gz)."),
    domain: Optional[str] = typer.Option(None, "--domain", "-d", help="Only denials of this source type (exact)."),
    comm: Optional[str] = typer.Option(None, "--comm", "-c", help="Only denials of this command name (exact)."),
    since: Optional[str] = typer.Option(None, "--since", help="Start time (as for 'why')."),
    until: Optional[str] = typer.Option(None, "--until", help="End time (as for 'why')."),
    module: Optional[Path] = typer.Option(None, "--module", help="Include this module (DIR/NAME.te, "
                                          "and NAME.cil next to it; regular files of at most 1 MiB, "
                                          "never through a symlink) instead of generating one."),
    redact: bool = typer.Option(False, "--redact", help="Replace host names, IPs, user names, home "
                                "directories, uids > 999 and well-known secrets (passwords, tokens, keys) "
                                "with placeholders, in every file."),
    redact_extra: Optional[list[str]] = typer.Option(None, "--redact-extra", metavar="REGEX",
                                                     help="Also redact matches of REGEX (repeatable)."),
    markdown: bool = typer.Option(False, "--markdown", help="Print README.md to stdout."),
    fmt: Optional[OutputFormat] = typer.Option(None, "--format", help="What was written: rich, text (plain) "
                                               "or json (a summary: docs/cli.md). Default: rich on a "
                                               "terminal, else text."),
    max_events: int = typer.Option(500, "--max-events", min=1, help="Keep at most this many events "
                                   "(the first and last of each group)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 4 when any input line was skipped."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Binary policy to explain against."),
    root: Optional[Path] = typer.Option(None, "--root", help="Policy root (etc/selinux/NAME/...): its "
                                        "policy explains, its store lists the modules."),
) -> None:
    """Write a bug-report bundle (events, explanations, environment), optionally redacted."""
    from avcfix.bundle.archive import write_archive
    from avcfix.bundle.collect import BundleOptions, collect
    from avcfix.bundle.hostfacts import SystemHostFacts
    from avcfix.toolchain.store import PolicyRoot, host_policy_name
    from avcfix.triage import Triage

    if output is None and not markdown:
        raise UsageError("give -o FILE.tar.gz (or --markdown to print the report)")
    out_format = resolve_format(fmt)
    if out_format == "json" and markdown:
        raise UsageError("--markdown prints README.md on stdout: it does not go with --format json")
    filters = make_filters(domain, comm, since, until)
    names = default_sources(sources)
    filter_text = tuple(f"{flag} {value}" for flag, value in
                        (("--domain", domain), ("--comm", comm), ("--since", since), ("--until", until)) if value)
    options = BundleOptions(
        module=module, redact=redact,
        redact_extra=tuple(redact_extra or ()), max_events=max_events, filter_text=filter_text,
    )
    recorder = proc.Recorder()
    proot = PolicyRoot(Path(root), host_policy_name(Path(root))) if root is not None else None
    host = SystemHostFacts(record=recorder) if proot is None else SystemHostFacts(root=proot, record=recorder)
    with Triage(names, filters=filters, policy=policy, root=root) as triage:
        triage.load_facts()  # the policy first: a bad one fails before the logs are read
        try:
            with progress_reporter(console_err, enabled=True) as progress:
                result = collect(options, host, triage, recorder, progress=progress, version=_version())
        except InputError as exc:
            raise explain_default_source_error(sources, exc) from None
    if output is not None:
        write_archive(output, result.archive)
    if markdown:
        sys.stdout.write(result.readme)
        sys.stdout.flush()
    out = console_err if markdown else console
    sel = result.selection
    if out_format == "json":
        write_document(versioned(
            output=str(output), events=len(sel.events), total_events=sel.total_events, cut=bool(sel.cut),
            denials=dict(result.stats).get("denials", 0), files=len(result.members), redacted=redact,
            left_out=[{"file": n, "reason": r} for n, r in result.left_out],
            missing_facts=[{"fact": f, "reason": r} for f, r in result.missing_facts]))
    elif output is not None:
        out.print(f"avcfix: wrote {visible(output)}: {len(sel.events)} event(s), "
                  f"{dict(result.stats).get('denials', 0)} denial(s), {len(result.members)} files"
                  + (" (redacted)" if redact else ""), markup=False, highlight=False, soft_wrap=True)
    if sel.cut and out_format != "json":
        out.print(f"avcfix: --max-events {max_events}: kept {len(sel.events)} of {sel.total_events} events "
                  "(the first and last of each group; see README.md)", markup=False, highlight=False)
    for name, reason in result.left_out:
        console_err.print(f"avcfix: warning: {visible(name)} {visible(reason)}: left out of the bundle",
                          markup=False, highlight=False, soft_wrap=True)
    for fact, reason in result.missing_facts:
        console_err.print(f"avcfix: missing {fact}: {visible(reason)}", markup=False, highlight=False,
                          soft_wrap=True)
    from avcfix.audit.api import ScanStats

    stats = ScanStats(skipped_lines=dict(result.stats).get("skipped_lines", 0))
    stats.skipped = list(result.skipped)
    report_skipped(stats, console_err, strict)
