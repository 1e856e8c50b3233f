"""The human report of ``avcfix why`` (rich), grouped by source domain.

All log-derived text (comm, exe, paths, type names) is rendered as plain
:class:`rich.text.Text`, never as markup, with control characters escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import TYPE_CHECKING

from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from avcfix.audit.api import ScanStats
from avcfix.audit.model import DenialGroup
from avcfix.text import visible

# The groups a long report leaves out: computed without rich (why_text), shown here.
from avcfix.ui.why_text import MAX_GROUPS, SUMMARY_DOMAINS, BriefRow, Omitted, evidence_text, omitted  # noqa: E402,F401

if TYPE_CHECKING:
    from avcfix.explain.model import Finding


def _evidence(g: DenialGroup) -> Text:
    return Text(evidence_text(g), style="dim")


def _item(g: DenialGroup, finding: Finding | None) -> list[RenderableType]:
    perms = getattr(finding, "perms", None) or g.perms
    head = Text()
    head.append(visible(g.target), style="bold cyan")
    head.append(":")
    head.append(visible(g.tclass), style="cyan")
    head.append(" { " + " ".join(visible(p) for p in perms) + " }", style="bold")
    head.append(f"  x{g.count}", style="dim")
    if g.permissive:
        head.append("  permissive: logged, not blocked", style="yellow")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=9, justify="right")
    grid.add_column(overflow="fold")
    if finding is not None:
        reason_value = finding.reason.value
        reason = Text(reason_value, style="magenta")
        detail = getattr(finding, "detail", "")
        if detail and reason_value != "no_policy":  # said once, under the report
            reason.append(" - " + visible(detail), style="default")
        grid.add_row("reason", reason)
        obj = getattr(finding, "object", None)
        if obj is not None and obj.kind.value in ("path", "fd", "unknown"):
            o = Text(visible(obj.path) if obj.path else obj.kind.value, style="bold" if obj.path else "yellow")
            o.append(" - " + visible(obj.evidence), style="dim")
            grid.add_row("object", o)
        for rank, adv in enumerate(getattr(finding, "advice", ()), 1):
            a = Text(visible(adv.command), style="green")
            a.append(f"  ({adv.confidence}%) ", style="dim")
            a.append(visible(adv.why))
            if rank == 1 and adv.evidence:
                a.append(" [" + "; ".join(visible(e) for e in adv.evidence) + "]", style="dim")
            grid.add_row(f"fix {rank}", a)
        for risk in getattr(finding, "risks", ()):
            grid.add_row("risk", Text(visible(risk), style="red"))
    grid.add_row("evidence", _evidence(g))
    return [head, Padding(grid, (0, 0, 1, 2))]


def _omitted(rest: Omitted) -> list[RenderableType]:
    """A heading and the table of the groups left out, per domain."""
    head = Text(f"Not shown: {rest.groups} group{'s' if rest.groups != 1 else ''} "
                f"({rest.denials} denial{'s' if rest.denials != 1 else ''}) "
                f"in {len(rest.domains)} domain{'s' if len(rest.domains) != 1 else ''}", style="bold")
    table = Table(expand=False)
    table.add_column("domain", overflow="fold")
    table.add_column("groups", justify="right")
    table.add_column("denials", justify="right")
    for domain, groups, denials in rest.domains[:SUMMARY_DOMAINS]:
        table.add_row(Text(visible(domain)), str(groups), str(denials))
    more = rest.domains[SUMMARY_DOMAINS:]
    if more:
        table.add_row(Text(f"... {len(more)} more domain{'s' if len(more) != 1 else ''}", style="dim"),
                      str(sum(g for _, g, _ in more)), str(sum(n for _, _, n in more)))
    return [head, table]


def render_report(console: Console, groups: Sequence[DenialGroup], findings: Sequence[Finding] | None,
                  stats: ScanStats, note: str | None = None, rest: Omitted | None = None) -> None:
    """Print the report: one panel per source domain, then the totals.

    ``rest``: the groups left out (``groups`` are then the ones with the most
    denials): a table of them per domain comes after the panels."""
    if findings is not None:
        items: list[tuple[DenialGroup, Finding | None]] = [(f.group, f) for f in findings]
    else:
        items = [(g, None) for g in groups]
    items.sort(key=lambda it: (it[0].source, it[0].target, it[0].tclass, it[0].permissive,
                               getattr(it[1], "perms", ())))
    hidden = {d: g for d, g, _ in rest.domains} if rest is not None else {}
    if not items and (rest is None or not rest.groups):
        console.print(Text(f"No SELinux denials found ({stats.lines} lines, {stats.events} events read)."))
    for domain, run in groupby(items, key=lambda it: it[0].source):
        chunk = list(run)
        body: list[RenderableType] = []
        for g, f in chunk:
            body.extend(_item(g, f))
        title = Text(visible(domain), style="bold")
        n_groups = len({g.key for g, _ in chunk})
        left = hidden.get(domain, 0)
        if left:
            title.append(f"  ({n_groups} of {n_groups + left} target/class groups shown)", style="dim")
        else:
            title.append(f"  ({n_groups} target/class group{'s' if n_groups != 1 else ''})", style="dim")
        console.print(Panel(Group(*body), title=title, title_align="left", expand=True))
    if rest is not None and rest.groups:
        for part in _omitted(rest):
            console.print(part)
    n_total = len({g.key for g, _ in items}) + (rest.groups if rest is not None else 0)
    summary = Text(
        f"{stats.denials} denial{'s' if stats.denials != 1 else ''} in {n_total} "
        f"group{'s' if n_total != 1 else ''}; read {stats.lines} lines, {stats.events} events"
        + (f", skipped {stats.skipped_lines} lines" if stats.skipped_lines else ""),
        style="dim",
    )
    console.print(summary)
    if rest is not None and rest.groups:
        shown = n_total - rest.groups
        console.print(Text(f"shown: the {shown} group{'s' if shown != 1 else ''} with the most denials; "
                           f"all {n_total} are in 'avcfix why --json', or here with --all", style="dim"))
    no_policy = next((f for _, f in items if f is not None and f.reason.value == "no_policy"), None)
    if no_policy is not None and no_policy.detail:
        console.print(Text("no_policy: " + visible(no_policy.detail), style="dim"))
    if note:
        console.print(Text(note, style="dim"))


def render_brief(console: Console, rows: Sequence[BriefRow], stats: ScanStats) -> None:
    """``why --brief`` on a terminal: one table row per group (rows from
    :func:`avcfix.ui.why_text.brief_rows`), then the totals."""
    if rows:
        table = Table(expand=False, box=None, pad_edge=False, header_style="bold")
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("count", "right"), ("domain", "left"), ("target:class", "left"),
            ("perms", "left"), ("reason", "left"), ("first fix", "left"))
        for col, justify in columns:
            wrap = col in ("perms", "first fix")  # the others are names: kept whole
            table.add_column(col, justify=justify, overflow="fold", no_wrap=not wrap,
                             ratio=1 if wrap else None)
        for r in rows:
            perms = Text("{ " + " ".join(visible(p) for p in r["perms"]) + " }", style="bold")
            if r["permissive"]:
                perms.append(" permissive", style="yellow")
            table.add_row(str(r["count"]), Text(visible(r["source"])),
                          Text(f"{visible(r['target'])}:{visible(r['class'])}", style="cyan"), perms,
                          Text(",".join(r["reasons"]) or "-", style="magenta"),
                          Text(visible(r["fix"]) if r["fix"] else "-", style="green"))
        console.print(table)
    else:
        console.print(Text(f"No SELinux denials found ({stats.lines} lines, {stats.events} events read)."))
    n = len(rows)
    console.print(Text(f"{stats.denials} denial{'s' if stats.denials != 1 else ''} in {n} "
                       f"group{'s' if n != 1 else ''}; read {stats.lines} lines, {stats.events} events"
                       + (f", skipped {stats.skipped_lines} lines" if stats.skipped_lines else ""), style="dim"))
