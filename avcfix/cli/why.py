"""``avcfix why [SOURCES...]``: explain every SELinux denial in audit logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from avcfix.audit.api import ScanStats, scan
from avcfix.audit.group import GroupAccumulator
from avcfix.audit.raw import format_event
from avcfix.cli import why_parallel
from avcfix.cli.app import app, console, console_err
from avcfix.cli.output import FORMAT_HELP, OutputFormat, resolve_format
from avcfix.cli.common import (
    default_sources,
    explain_default_source_error,
    make_filters,
    progress_reporter,
    report_skipped,
)
from avcfix.errors import InputError, UsageError


def _explainer():
    """``(open_facts, the engine module)`` from the explain layer, or ``None``."""
    try:
        from avcfix.explain import engine
        from avcfix.explain.facts import open_facts
    except ImportError:
        return None
    return open_facts, engine


class _Explain:
    """The explain layer and the policy facts, loaded once (while parallel
    workers scan, when there are some)."""

    def __init__(self, policy: Optional[Path], root: Optional[Path], wanted: bool) -> None:
        self._args = (policy, root)
        self._wanted = wanted
        self._done = False
        self.engine = None
        self.facts = None

    def load(self) -> None:
        if self._done:
            return
        self._done = True
        explainer = _explainer() if self._wanted else None
        if explainer is not None:
            open_facts, self.engine = explainer
            self.facts = open_facts(*self._args)


def _scan_sequential(names: list[str], stats: ScanStats, filters, progress, acc: GroupAccumulator,
                     as_json: bool, raw: bool):
    """One process: stream denials to JSON, --raw events or just the groups."""
    denials = scan(names, stats=stats, filters=filters, progress=progress, records=raw)
    if as_json:
        from avcfix.ui.why_json import JsonStream

        first = next(denials, None)  # raises InputError before any output
        stream = JsonStream(sys.stdout)
        if first is not None:
            stream.denial(first)
            acc.add(first)
        stream.denials(denials, acc.add)
        return stream
    if raw:
        last_event = None
        for d in denials:
            acc.add(d)
            event = (d.node, d.time, d.serial, d.source)
            if event != last_event:
                sys.stdout.write(format_event(d))
                last_event = event
        return None
    for d in denials:
        acc.add(d)
    return None


@app.command()
def why(
    sources: Optional[List[str]] = typer.Argument(
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
    names = default_sources(sources)
    stats = ScanStats()
    acc = GroupAccumulator()
    stream = None
    prepared = _Explain(policy, root, not raw)
    try:
        with progress_reporter(console_err, enabled=True) as progress:
            planned = None if raw else why_parallel.plan(names, jobs)
            parallel = None
            if planned is not None:  # None back: no temporary directory, scan sequentially
                parallel = why_parallel.run(planned[0], planned[1], filters, sys.stdout if as_json else None,
                                            acc, stats, meanwhile=prepared.load)
            if parallel is None:
                stream = _scan_sequential(names, stats, filters, progress, acc, as_json, raw)
            elif as_json:
                stream = parallel  # type: ignore[assignment]
    except InputError as exc:
        raise explain_default_source_error(sources, exc) from None
    note = None
    prepared.load()
    engine, facts = prepared.engine, prepared.facts
    if engine is None and not raw and (policy is not None or root is not None):
        note = "explanations are not available in this build (avcfix.explain missing)"
    if as_json:
        from avcfix.ui.why_json import iter_rules_json

        assert stream is not None
        # One group at a time, sorted, forgotten once written: memory does not
        # grow with the number of groups past what the accumulator holds.
        if engine is not None:
            engine.prepare(acc.iter_groups(), facts)
            rules = iter_rules_json((), engine.iter_findings(acc.iter_groups(consume=True), facts))
        else:
            rules = iter_rules_json(acc.iter_groups(consume=True), None)
        stream.finish(rules, stats)
        sys.stdout.flush()
    elif brief:
        from avcfix.ui import why_text

        keys = acc.top_keys(max_groups) if max_groups is not None and not show_all and len(acc) > max_groups else None
        groups = list(acc.iter_groups(keys)) if keys is not None else acc.groups()
        findings = engine.explain_groups(groups, facts) if engine is not None else None
        rows = why_text.brief_rows(groups, findings)
        if out_format == "json":
            why_text.write_brief_json(sys.stdout.write, rows)
        elif out_format == "text":
            why_text.write_brief_text(sys.stdout.write, rows)
        else:
            from avcfix.ui.why_report import render_brief

            render_brief(console, rows, stats)
        if note:
            console_err.print(note, markup=False, highlight=False)
    elif not raw:
        from avcfix.ui.why_text import MAX_GROUPS, omitted

        limit = MAX_GROUPS if max_groups is None else max_groups
        rest = None
        if show_all or len(acc) <= limit:
            groups = acc.groups()
        else:
            keys = acc.top_keys(limit)
            rest = omitted(acc, keys)
            groups = list(acc.iter_groups(keys))
        findings = engine.explain_groups(groups, facts) if engine is not None else None
        if out_format == "text":
            from avcfix.ui.why_text import render_text

            render_text(sys.stdout.write, groups, findings, stats, note, rest)
        else:
            from avcfix.ui.why_report import render_report

            render_report(console, groups, findings, stats, note, rest)
    report_skipped(stats, console_err, strict)
