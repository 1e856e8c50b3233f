"""``avcfix why --format text`` and ``--brief``: plain text for pipes and files.

No boxes, no colour, no wrapping (rich is not imported). One finding per
block, blocks separated by a blank line; every line of a block starts with
``SOURCE TARGET:CLASS`` and a label (``denied:``, ``reason:``, ``fix 1:``...),
so ``grep`` of a type, a reason or a command keeps what it is about. The same
input gives the same bytes.

``--brief``: one line per group (source, target, class, permissive), the
groups with the most denials first: count, domain, target:class, perms,
reason(s) and the first fix, tab-separated in text; a compact JSON list; a
table in rich (:func:`avcfix.ui.why_report.render_brief`).

Reference: docs/cli.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from avcfix.audit.api import ScanStats
from avcfix.audit.group import GroupAccumulator, Key
from avcfix.audit.model import DenialGroup
from avcfix.text import visible

if TYPE_CHECKING:
    from avcfix.explain.model import Finding

#: Past this many groups the report shows the groups with the most denials
#: and one summary line per domain for the others (``--max-groups``, ``--all``).
MAX_GROUPS = 300
#: Domains listed one per line in the summary of the groups not shown.
SUMMARY_DOMAINS = 20


@dataclass(frozen=True, slots=True)
class Omitted:
    """The groups a long report leaves out."""

    groups: int
    denials: int
    #: (domain, groups, denials) of every domain with groups left out, most denials first.
    domains: tuple[tuple[str, int, int], ...]


#: One row of ``why --brief`` (:func:`brief_rows`): the keys of its JSON.
BriefRow = TypedDict("BriefRow", {"count": int, "source": str, "target": str, "class": str, "perms": list[str],
                                  "permissive": bool, "reasons": list[str], "fix": str | None})


class _BriefGroup(TypedDict):
    """A group's row while :func:`brief_rows` collects its findings."""

    group: DenialGroup
    reasons: list[str]
    fix: str | None


def omitted(acc: GroupAccumulator, shown: Collection[Key]) -> Omitted:
    """What :func:`render_report` says about the groups of ``acc`` not in ``shown``."""
    shown = set(shown)
    per: dict[str, list[int]] = {}
    for key in acc.keys():
        if key not in shown:
            entry = per.setdefault(key[0], [0, 0])
            entry[0] += 1
            entry[1] += acc.count(key)
    domains = sorted(((d, g, n) for d, (g, n) in per.items()), key=lambda x: (-x[2], -x[1], x[0]))
    return Omitted(sum(g for _, g, _ in domains), sum(n for _, _, n in domains), tuple(domains))




def format_time(epoch: float) -> str:
    """A log time as the reports show it (local time), ``-`` when unknown."""
    if epoch <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def report_items(groups: Sequence[DenialGroup],
                 findings: Sequence[Finding] | None) -> list[tuple[DenialGroup, Finding | None]]:
    """``(group, finding or None)`` in the report's order (domain, target, class...)."""
    items: list[tuple[DenialGroup, Finding | None]] = (
        [(f.group, f) for f in findings] if findings is not None else [(g, None) for g in groups])
    items.sort(key=lambda it: (it[0].source, it[0].target, it[0].tclass, it[0].permissive,
                               getattr(it[1], "perms", ())))
    return items


def evidence_text(g: DenialGroup) -> str:
    """The log's evidence of a group, on one line (the report's ``evidence`` row)."""
    ex = g.example
    parts = []
    if g.comms:
        parts.append("comm " + ", ".join(visible(c) for c in g.comms[:5]))
    if g.exes:
        parts.append("exe " + ", ".join(visible(e) for e in g.exes[:3]))
    if ex.syscall or ex.syscall_nr is not None:
        parts.append(f"syscall {visible(ex.syscall or ex.syscall_nr)}"
                     + (f" (exit {ex.exit})" if ex.exit is not None else ""))
    if g.paths:
        more = f" (+{len(g.paths) - 3} more)" if len(g.paths) > 3 else ""
        parts.append("path " + ", ".join(visible(p) for p in g.paths[:3]) + more)
    if g.ports:
        parts.append("port " + ", ".join(str(p) for p in g.ports[:5]))
    if ex.proctitle:
        parts.append("cmd " + visible(ex.proctitle)[:100])
    when = format_time(g.first_seen)
    if g.last_seen != g.first_seen:
        when += " .. " + format_time(g.last_seen)
    parts.append(f"{g.count}x, {when}")
    return "; ".join(parts)


def finding_block(g: DenialGroup, finding: Finding | None) -> list[str]:
    """The lines of one finding (no trailing blank line)."""
    perms = getattr(finding, "perms", None) or g.perms
    who = f"{visible(g.source)} {visible(g.target)}:{visible(g.tclass)}"
    head = f"{who} denied: {{ {' '.join(visible(p) for p in perms)} }} x{g.count}"
    if g.permissive:
        head += " permissive: logged, not blocked"
    lines = [head]
    if finding is not None:
        reason = finding.reason.value
        detail = getattr(finding, "detail", "")
        lines.append(f"{who} reason: {reason}"
                     + (f" - {visible(detail)}" if detail and reason != "no_policy" else ""))
        obj = getattr(finding, "object", None)
        if obj is not None and obj.kind.value in ("path", "fd", "unknown"):
            lines.append(f"{who} object: {visible(obj.path) if obj.path else obj.kind.value} - {visible(obj.evidence)}")
        for rank, adv in enumerate(getattr(finding, "advice", ()), 1):
            line = f"{who} fix {rank}: {visible(adv.command)}  ({adv.confidence}%) {visible(adv.why)}"
            if rank == 1 and adv.evidence:
                line += " [" + "; ".join(visible(e) for e in adv.evidence) + "]"
            lines.append(line)
        for risk in getattr(finding, "risks", ()):
            lines.append(f"{who} risk: {visible(risk)}")
    lines.append(f"{who} evidence: {evidence_text(g)}")
    return lines


def render_text(write: Callable[[str], object], groups: Sequence[DenialGroup], findings: Sequence[Finding] | None,
                stats: ScanStats, note: str | None = None, rest: Omitted | None = None) -> None:
    """The report as plain text: what :func:`avcfix.ui.why_report.render_report`
    says, one finding per block. ``rest``: an ``Omitted`` (the groups left out)."""
    items = report_items(groups, findings)
    out: list[str] = []
    if not items and (rest is None or not getattr(rest, "groups", 0)):
        out.append(f"No SELinux denials found ({stats.lines} lines, {stats.events} events read).")
    for g, f in items:  # a block at a time: a reader that went away is seen early
        write("\n".join(finding_block(g, f)) + "\n\n")
    left = getattr(rest, "groups", 0) if rest is not None else 0
    if left:
        assert rest is not None
        domains = rest.domains
        out.append(f"Not shown: {_plural(left, 'group')} ({_plural(rest.denials, 'denial')}) "
                   f"in {_plural(len(domains), 'domain')}")
        for domain, n_groups, n_denials in domains:
            out.append(f"not shown: {visible(domain)}: {_plural(n_groups, 'group')}, {_plural(n_denials, 'denial')}")
        out.append("")
    n_total = len({g.key for g, _ in items}) + left
    out.append(f"{_plural(stats.denials, 'denial')} in {_plural(n_total, 'group')}; read {stats.lines} lines, "
               f"{stats.events} events" + (f", skipped {stats.skipped_lines} lines" if stats.skipped_lines else ""))
    if left:
        shown = n_total - left
        out.append(f"shown: the {_plural(shown, 'group')} with the most denials; "
                   f"all {n_total} are in 'avcfix why --json', or here with --all")
    no_policy = next((f for _, f in items if f is not None and f.reason.value == "no_policy"), None)
    if no_policy is not None and no_policy.detail:
        out.append("no_policy: " + visible(no_policy.detail))
    if note:
        out.append(note)
    write("\n".join(out) + "\n")


# ------------------------------------------------------------------ --brief

def brief_rows(groups: Iterable[DenialGroup], findings: Sequence[Finding] | None) -> list[BriefRow]:
    """One row per group, most denials first (then source, target, class):
    its perms, the reasons of its findings and the first fix they give."""
    per: dict[Key, _BriefGroup] = {}
    for g in groups:
        per[g.key] = {"group": g, "reasons": [], "fix": None}
    for f in findings or ():
        g = f.group
        row = per.setdefault(g.key, {"group": g, "reasons": [], "fix": None})
        reason = f.reason.value
        if reason not in row["reasons"]:
            row["reasons"].append(reason)
        advice = getattr(f, "advice", ())
        if row["fix"] is None and advice:
            row["fix"] = advice[0].command
    rows: list[BriefRow] = []
    for row in per.values():
        g = row["group"]
        rows.append({"count": g.count, "source": g.source, "target": g.target, "class": g.tclass,
                     "perms": list(g.perms), "permissive": bool(g.permissive), "reasons": row["reasons"],
                     "fix": row["fix"]})
    rows.sort(key=lambda r: (-r["count"], r["source"], r["target"], r["class"], r["permissive"], r["perms"]))
    return rows


def brief_line(row: BriefRow) -> str:
    """``COUNT<TAB>DOMAIN<TAB>TARGET:CLASS<TAB>{ PERMS }<TAB>REASONS<TAB>FIX``
    (``-`` for none; ``permissive`` after the perms of a permissive group)."""
    perms = "{ " + " ".join(visible(p) for p in row["perms"]) + " }" + (" permissive" if row["permissive"] else "")
    return "\t".join((str(row["count"]), visible(row["source"]), f"{visible(row['target'])}:{visible(row['class'])}",
                      perms, ",".join(row["reasons"]) or "-", visible(row["fix"]) if row["fix"] else "-"))


def write_brief_text(write: Callable[[str], object], rows: Sequence[BriefRow]) -> None:
    write("".join(brief_line(r) + "\n" for r in rows))


def write_brief_json(write: Callable[[str], object], rows: Sequence[BriefRow]) -> None:
    """A JSON list, one compact object (sorted keys) per line."""
    if not rows:
        write("[]\n")
        return
    enc = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    write("[\n" + ",\n".join(enc.encode(r) for r in rows) + "\n]\n")
