"""``avcfix why [SOURCES...]``: explain every SELinux denial in audit logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from avcfix.audit.api import Progress
from avcfix.audit.raw import format_event
from avcfix.cli.app import app, console, console_err
from avcfix.cli.common import (
    default_sources,
    explain_default_source_error,
    make_filters,
    progress_reporter,
    report_skipped,
)
from avcfix.cli.output import FORMAT_HELP, OutputFormat, resolve_format
from avcfix.errors import InputError, UsageError
from avcfix.triage import Triage


def _write_raw(t: Triage, progress: Progress | None) -> None:
    """--raw: each correlated event once, in ausearch's layout."""
    last_event = None
    for d in t.scan(progress, records=True):
        event = (d.node, d.time, d.serial, d.source)
        if event != last_event:
            sys.stdout.write(format_event(d))
            last_event = event


@app.command()
def why(
    sources: Optional[list[str]] = typer.Argument(
        None, help="Audit logs (plain or .gz), ausearch/dmesg/journal/logcat output, or '-' for stdin. "
        "Default: /var/log/audit/audit.log."),
    domain: Optional[str] = typer.Option(None, "--domain", "-d", help="Only denials of this source type (exact)."),
    comm: Optional[str] = typer.Option(None, "--comm", "-c", help="Only denials of this command name (exact)."),
    since: Optional[str] = typer.Option(None, "--since", help="Start time: recent, today, boot, yesterday, "
                                        "this-week, epoch, 2025-11-01T12:00, MM/DD/YYYY [HH:MM:SS]..."),
    until: Optional[str] = typer.Option(None, "--until", help="End time (same forms as --since)."),
    raw: bool = typer.Option(False, "--raw", help="Print the correlated events in ausearch's layout."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document (--format json; docs/json.md)."),
    fmt: Optional[OutputFormat] = typer.Option(None, "--format", help=FORMAT_HELP),
    brief: bool = typer.Option(False, "--brief", help="One line per group (count, domain, target:class, "
                               "perms, reason, first fix), most denials first; json: a compact list."),
    strict: bool = typer.Option(False, "--strict", help="Exit 4 when any input line was skipped."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Binary policy to explain against."),
    root: Optional[Path] = typer.Option(None, "--root", help="Policy root (etc/selinux/NAME/...) to explain against."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                       help="Processes for one big plain log (default: automatic)."),
    max_groups: Optional[int] = typer.Option(None, "--max-groups", min=1,
                                             help="Report: past this many groups (default 300), show the groups "
                                             "with the most denials and sum up the others per domain "
                                             "(all are in --json)."),
    show_all: bool = typer.Option(False, "--all", help="Report: show every group, however many."),
) -> None:
    """Explain every denial in audit logs, grouped by domain."""
    if raw and (as_json or fmt is not None or brief):
        raise UsageError("--raw prints the events as they are: it does not go with --json, --format "
                                 "or --brief")
    out_format = resolve_format(fmt, as_json) if not raw else "text"
    as_json = out_format == "json" and not brief  # the streamed document; --brief --format json is a list
    filters = make_filters(domain, comm, since, until)
    with Triage(default_sources(sources), filters=filters, policy=policy, root=root, explain=not raw,
                jobs=jobs) as t:
        _why(t, sources, out_format, as_json, raw, brief, max_groups, show_all)
    report_skipped(t.stats, console_err, strict)


def _why(t: Triage, sources: list[str] | None, out_format: str, as_json: bool, raw: bool, brief: bool,
         max_groups: int | None, show_all: bool) -> None:
    """Scan, explain and write what ``why`` was asked for (the facts are ``t``'s)."""
    stream = None
    try:
        with progress_reporter(console_err, enabled=True) as progress:
            if raw:
                _write_raw(t, progress)
            else:
                stream = t.stream(sys.stdout if as_json else None, progress)
    except InputError as exc:
        raise explain_default_source_error(sources, exc) from None
    if raw:
        return
    acc, stats = t.acc, t.stats
    t.load_facts()
    if as_json:
        from avcfix.report.jsondoc import iter_rules_json

        assert stream is not None
        # One group at a time, sorted, forgotten once written: memory does not
        # grow with the number of groups past what the accumulator holds.
        stream.finish(iter_rules_json((), t.iter_findings()), stats)
        sys.stdout.flush()
    elif brief:
        from avcfix.ui import why_text

        keys = acc.top_keys(max_groups) if max_groups is not None and not show_all and len(acc) > max_groups else None
        groups = list(acc.iter_groups(keys)) if keys is not None else acc.groups()
        rows = why_text.brief_rows(groups, t.explain(groups))
        if out_format == "json":
            why_text.write_brief_json(sys.stdout.write, rows)
        elif out_format == "text":
            why_text.write_brief_text(sys.stdout.write, rows)
        else:
            from avcfix.ui.why_report import render_brief

            render_brief(console, rows, stats)
    else:
        from avcfix.ui.why_text import MAX_GROUPS, omitted

        limit = MAX_GROUPS if max_groups is None else max_groups
        rest = None
        if show_all or len(acc) <= limit:
            groups = acc.groups()
        else:
            keys = acc.top_keys(limit)
            rest = omitted(acc, keys)
            groups = list(acc.iter_groups(keys))
        findings = t.explain(groups)
        if out_format == "text":
            from avcfix.ui.why_text import render_text

            render_text(sys.stdout.write, groups, findings, stats, None, rest)
        else:
            from avcfix.ui.why_report import render_report

            render_report(console, groups, findings, stats, None, rest)
