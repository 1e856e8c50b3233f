"""``README.md`` of a bundle: an issue body ready to paste (pure).

Summary table per domain, then per group the reason, the ranked advice and
the evidence (as ``why`` gives them), the policy module, the environment,
the files of the bundle and what the size cap cut. All log text is in code
spans (:mod:`avcfix.bundle.markdown`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from avcfix.audit.group import Key
from avcfix.audit.model import DenialGroup
from avcfix.bundle.cap import Selection
from avcfix.bundle.markdown import code, fenced
from avcfix.bundle.redact import Counts
from avcfix.explain.model import Finding
from avcfix.text import visible

#: Evidence values shown per group and kind.
SHOW_EVIDENCE = 5


@dataclass(frozen=True, slots=True)
class ModuleText:
    """A policy module in the bundle: file names and text."""

    name: str
    te_file: str
    te: str
    cil_file: str | None
    cil: str | None
    generated: bool


@dataclass(frozen=True, slots=True)
class ReportInput:
    """Everything the README shows (already redacted when asked)."""

    version: str
    sources: tuple[str, ...]
    stats: Mapping[str, int]
    groups: tuple[DenialGroup, ...]
    findings: tuple[Finding, ...] | None
    modules: tuple[ModuleText, ...]
    environment: Mapping[str, Any]
    selection: Selection
    filters: tuple[str, ...]
    redaction: Counts | None
    policy_note: str | None = None
    #: Files refused or unreadable, left out of the bundle: ``(name, reason)``.
    left_out: tuple[tuple[str, str], ...] = ()


def _utc(epoch: float) -> str:
    if epoch <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _fact(doc: object) -> str:
    if isinstance(doc, dict) and "missing" in doc:
        return f"missing: {visible(doc['missing'])}"
    value = doc.get("value") if isinstance(doc, dict) else doc
    if isinstance(value, dict) and "version" in value:   # a policy: version 33, MLS, path
        parts = [f"version {value['version']}"]
        if value.get("mls") is not None:
            parts.append("MLS/MCS" if value["mls"] else "not MLS")
        if value.get("path"):
            parts.append(visible(value["path"]))
        return ", ".join(parts)
    if isinstance(value, dict):
        return ", ".join(f"{k} {visible(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return ", ".join(visible(_item(v)) for v in value) if value else "none"
    return visible(value)


def _item(value: object) -> str:
    """One list entry: a boolean ``name (on, policy default off)`` or the value itself."""
    if isinstance(value, dict) and "name" in value and "current" in value:
        def on(b: object) -> str:
            return "on" if b else "off"

        return f"{value['name']} ({on(value['current'])}, policy default {on(value.get('policy_default'))})"
    return str(value)


def _modules(doc: object) -> str:
    """``N modules``, those not at the default priority 100 (local changes), how many are disabled."""
    if not isinstance(doc, dict) or "value" not in doc or not isinstance(doc["value"], list):
        return _fact(doc)
    mods = doc["value"]
    odd = [f"{m.get('priority')} {m.get('name')}" for m in mods if m.get("priority") != 100]
    text = _plural(len(mods), "module")
    if odd:
        text += f"; priority other than 100: {', '.join(visible(o) for o in odd)}"
    disabled = sum(1 for m in mods if m.get("disabled"))
    return text + (f"; {disabled} disabled" if disabled else "")


def _summary(groups: Sequence[DenialGroup]) -> list[str]:
    lines = ["| domain | denials | targets (type:class) | permissive | first seen (UTC) | last seen (UTC) |",
             "|---|---:|---|---:|---|---|"]
    for domain, items in groupby(groups, key=lambda g: g.source):
        gs = list(items)
        pairs = list(dict.fromkeys(f"{g.target}:{g.tclass}" for g in gs))  # enforcing + permissive: once
        targets = ", ".join(code(p, cell=True) for p in pairs[:6])
        if len(pairs) > 6:
            targets += f" (+{len(pairs) - 6} more)"
        lines.append(
            f"| {code(domain, cell=True)} | {sum(g.count for g in gs)} | {targets} | "
            f"{sum(g.count for g in gs if g.permissive)} | {_utc(min(g.first_seen for g in gs))} | "
            f"{_utc(max(g.last_seen for g in gs))} |"
        )
    return lines


def _evidence(g: DenialGroup) -> str:
    parts = []
    for label, values in (("comm", g.comms), ("exe", g.exes), ("path", g.paths)):
        if values:
            shown = ", ".join(code(v) for v in values[:SHOW_EVIDENCE])
            more = f" (+{len(values) - SHOW_EVIDENCE} more)" if len(values) > SHOW_EVIDENCE else ""
            parts.append(f"{label} {shown}{more}")
    if g.ports:
        parts.append("port " + ", ".join(str(p) for p in g.ports[:SHOW_EVIDENCE]))
    ex = g.example
    if ex.syscall:
        parts.append(f"syscall {code(ex.syscall)}" + (f" exit {ex.exit}" if ex.exit is not None else ""))
    return "; ".join(parts) or "-"


def _group_section(g: DenialGroup, findings: Sequence[Finding]) -> list[str]:
    mode = " (permissive: logged, not blocked)" if g.permissive else ""
    out = [f"#### {code(g.target)} {code(g.tclass)} {{ {' '.join(code(p) for p in g.perms)} }}"
           f" - {_plural(g.count, 'denial')}{mode}", ""]
    if not findings:
        out.append("- **Reason**: not explained (no policy was available)")
    for f in findings:
        perms = " ".join(code(p) for p in f.perms)
        detail = f.detail
        out.append(f"- **Reason** for {perms}: {code(f.reason.value)}"
                   + (f" - {code(detail)}" if detail else ""))
        for n, a in enumerate(f.advice, 1):
            out.append(f"  {n}. {code(a.command)} ({a.kind.value}, confidence {a.confidence})"
                       + (f": {code(a.why)}" if a.why else ""))
        for risk in f.risks:
            out.append(f"  - risk: {code(risk)}")
    out.append(f"- **Evidence**: {_evidence(g)}; first seen {_utc(g.first_seen)}, last seen {_utc(g.last_seen)} UTC")
    out.append("")
    return out


def _environment(env: Mapping[str, Any]) -> list[str]:
    rows = [("SELinux mode", env.get("selinux_mode")), ("policy name", env.get("policy_name")),
            ("loaded policy", env.get("kernel_policy")), ("policy file", env.get("policy_file")),
            ("modules", env.get("modules")), ("non-default booleans", env.get("booleans_non_default")),
            ("OS release", env.get("os_release")), ("kernel", env.get("kernel"))]
    packages = env.get("packages") or {}
    for name in sorted(packages):
        rows.append((f"package {name}", packages[name]))
    lines = ["| fact | value |", "|---|---|"]
    for label, doc in rows:
        text = _modules(doc) if label == "modules" else _fact(doc)
        lines.append(f"| {label} | {code(text, cell=True)} |")
    touched = env.get("booleans_touched") or []
    if touched:
        lines += ["", "Booleans the explanations name: " + ", ".join(
            f"{code(b['name'])} (policy default {'on' if b['policy_default'] else 'off'})"
            for b in touched)]
    labels = env.get("labels") or {}
    if labels:
        lines += ["", "Labels (`ls -Z`) of the programs and paths involved, on this host:", "",
                  "| path | label |", "|---|---|"]
        for path, doc in labels.items():
            value = doc.get("value") if "value" in doc else f"missing: {doc['missing']}"
            lines.append(f"| {code(path, cell=True)} | {code(value, cell=True)} |")
    return lines


def _cut(sel: Selection) -> list[str]:
    if not sel.cut:
        return []
    lines = ["## Size cap", "",
             f"The bundle keeps {len(sel.events)} of {sel.total_events} events (`--max-events`): "
             "the first and the last events of each group. `denials.json` lists the denials of the kept "
             "events; its `rules` and `stats` count every denial.", "",
             "| domain | target:class | events | kept | cut |", "|---|---|---:|---:|---:|"]
    for gc in sel.groups:
        if gc.cut:
            src, tgt, tclass, permissive = gc.group
            lines.append(f"| {code(src, cell=True)} | {code(f'{tgt}:{tclass}', cell=True)}"
                         f"{' (permissive)' if permissive else ''} | {gc.events} | {gc.kept} | {gc.cut} |")
    return lines + [""]


def render_readme(data: ReportInput) -> str:
    """The README.md text."""
    domains = sorted({g.source for g in data.groups})
    title = ", ".join(code(d) for d in domains[:4]) + (f" (+{len(domains) - 4} more)" if len(domains) > 4 else "")
    lines = [f"# SELinux denials: {title or 'none found'}", ""]
    st = data.stats
    lines.append(
        f"Bug-report bundle written by avcfix {visible(data.version)} from "
        + ", ".join(code(s) for s in data.sources)
        + f": {_plural(st.get('denials', 0), 'denial')} in {_plural(len(data.groups), 'group')}"
        f" ({_plural(st.get('lines', 0), 'line')} read, {_plural(st.get('events', 0), 'event')}, "
        f"{st.get('skipped_lines', 0)} skipped)."
    )
    if data.filters:
        lines.append("Filters: " + ", ".join(code(f) for f in data.filters) + ".")
    if data.redaction is not None:
        c = data.redaction
        lines += ["", f"Redacted (`--redact`): {_plural(c.hosts, 'host name')} (`host-N`), "
                  f"{c.ips} IP address{'' if c.ips == 1 else 'es'} (`ip-N`; `198.18.x.y` / `2001:db8::N` inside binary "
                  f"`saddr`), {_plural(c.users, 'user name')} (`user-N`, `/home/user-N`), "
                  f"{_plural(c.uids, 'uid')} (`uid-N`), {_plural(c.gids, 'gid')} (`gid-N`), "
                  f"{_plural(c.secrets, 'secret')} (passwords, tokens, keys: `secret-N`), "
                  f"{c.extra} extra match{'' if c.extra == 1 else 'es'} (`redacted-N`). SELinux types, classes and "
                  "permissions are not redacted."]
    if data.policy_note and data.groups:
        lines += ["", visible(data.policy_note)]
    if not data.groups:
        lines += ["", "No denial in the input passed the filters.", ""]
    else:
        lines += ["", "## Summary", ""] + _summary(data.groups) + [""]
        lines += ["## Denials and advice", ""]
    by_key: dict[Key, list[Finding]] = {}
    for f in data.findings or ():
        by_key.setdefault(f.group.key, []).append(f)
    for domain, items in groupby(data.groups, key=lambda g: g.source):
        lines += [f"### {code(domain)}", ""]
        for g in items:
            lines += _group_section(g, by_key.get(g.key, []))
    if data.groups or data.modules:
        lines += ["## Policy module", ""]
    if not data.modules and data.groups:
        lines += ["No allow rule is the best fix for these denials, so avcfix would not generate a module.", ""]
    for m in data.modules:
        how = ("what `avcfix build` would generate" if m.generated else "the module given with `--module`")
        lines += [f"{code(m.te_file)}: {how}." + (f" The CIL form is {code(m.cil_file)}." if m.cil_file else ""), "",
                  fenced(m.te, "te")]
    lines += ["## Environment", ""] + _environment(data.environment) + [""]
    lines += _cut(data.selection)
    if data.left_out:
        lines += ["## Left out", "", "These files were not put into the bundle:", ""]
        lines += [f"- {code(name)} {visible(reason)}." for name, reason in data.left_out] + [""]
    lines += ["## Files in this bundle", "",
              f"- `events.log`: {_plural(len(data.selection.events), 'event')}, every record of each "
              "(AVC, SYSCALL, CWD, PATH, PROCTITLE...), in time order, in ausearch's layout "
              "(`ausearch -if events.log`, `avcfix why events.log`).",
              "- `denials.json`: the same document as `avcfix why --json`.",
              "- `environment.json`: the facts above; a missing fact says why.",
              "- `commands.txt`: every command avcfix ran to gather them, with its exit code."]
    for m in data.modules:
        lines.append(f"- {code(m.te_file)}" + (f", {code(m.cil_file)}" if m.cil_file else "") + ": the policy module.")
    return "\n".join(lines).rstrip() + "\n"
