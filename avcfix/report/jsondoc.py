"""The ``avcfix why --json`` document (also ``denials.json`` in a bundle) and
the JSON form of policy rule lines.

Top-level keys, in this (sorted) order: ``denials``, ``rules``, ``skipped``,
``sources``, ``stats``. Every object has sorted keys; the same input gives the
same bytes. ``self`` appears nowhere: target types are real type names, the
advice commands are built with them (:func:`avcfix.explain.commands.allow_rule`)
and rule lines taken from a ``.te`` go through :func:`rule_lines_json`.

Pure: imports only the core values. The streaming writer for ``why`` is
:class:`avcfix.report.jsonstream.JsonStream`, made of the same pieces
(:data:`DOCUMENT_HEAD`, :func:`denial_text`, :func:`tail_text`), so
:func:`document_text` gives the very bytes it writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from avcfix.audit.accel import cscan as _cscan
from avcfix.audit.api import ScanStats
from avcfix.audit.model import Denial, DenialGroup

if TYPE_CHECKING:
    from avcfix.explain.model import Finding
    from avcfix.policy.model import Rule

#: Every object but the denials: sorted keys.
ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(", ", ": "))
#: denial_json() writes its keys in sorted order itself: skip the per-object sort (hot path).
DENIAL_ENCODER = json.JSONEncoder(sort_keys=False, ensure_ascii=True, separators=(", ", ": "))

#: The document's first bytes; then each denial after ``"\n  "`` (the first) or ``",\n  "``.
DOCUMENT_HEAD = '{"denials": ['


def denial_json(d: Denial) -> dict[str, object]:
    """One entry of ``denials`` (keys already in sorted order: see :data:`DENIAL_ENCODER`)."""
    return {
        "arch": d.arch,
        "capability": d.capability,
        "comm": d.comm,
        "cwd": d.cwd,
        "exe": d.exe,
        "exit": d.exit,
        "file": d.source,
        "ioctlcmd": d.ioctlcmd,
        "kind": d.kind,
        "line": d.line,
        "name": d.name,
        "node": d.node,
        "path": d.path,
        "paths": list(d.paths),
        "permissive": d.permissive,
        "perms": list(d.perms),
        "pid": d.pid,
        "port": d.port,
        "proctitle": d.proctitle,
        "scontext": str(d.scontext),
        "serial": d.serial,
        "source": d.scontext.type,
        "success": d.success,
        "syscall": d.syscall,
        "syscall_nr": d.syscall_nr,
        "target": d.tcontext.type,
        "tclass": d.tclass,
        "tcontext": str(d.tcontext),
        "time": d.time,
    }


try:  # the C string encoder json itself uses
    from _json import encode_basestring_ascii as _ascii
except ImportError:  # pragma: no cover
    from json.encoder import py_encode_basestring_ascii as _ascii

_INF = float("inf")


def _str(v: str | None) -> str:
    return "null" if v is None else _ascii(v)


def _int(v: int | None) -> str:
    if v is None:
        return "null"
    return int.__repr__(v) if type(v) is int else DENIAL_ENCODER.encode(v)


def _bool(v: bool | None) -> str:
    return "null" if v is None else ("true" if v else "false")


def _float(v: float) -> str:
    if type(v) is float and v == v and v != _INF and v != -_INF:
        return float.__repr__(v)
    return DENIAL_ENCODER.encode(v)


@lru_cache(maxsize=4096)
def _context(c: object) -> str:
    return _ascii(str(c))


def _strs(vs: Sequence[str]) -> str:
    return "[" + ", ".join([_ascii(v) for v in vs]) + "]" if vs else "[]"


def py_denial_text(d: Denial) -> str:
    """One denial, encoded as it appears in the document (:func:`denial_text`).

    The bytes ``DENIAL_ENCODER.encode(denial_json(d))`` gives (the tests
    check it), written directly: this runs once per denial of a big log,
    and building a dict for the encoder costs more than the text itself.
    """
    s = _str
    i = _int
    sc = d.scontext
    tc = d.tcontext
    return (
        f'{{"arch": {s(d.arch)}, "capability": {i(d.capability)}, "comm": {s(d.comm)}, '
        f'"cwd": {s(d.cwd)}, "exe": {s(d.exe)}, "exit": {i(d.exit)}, "file": {s(d.source)}, '
        f'"ioctlcmd": {i(d.ioctlcmd)}, "kind": {s(d.kind)}, "line": {i(d.line)}, "name": {s(d.name)}, '
        f'"node": {s(d.node)}, "path": {s(d.path)}, "paths": {_strs(d.paths)}, '
        f'"permissive": {_bool(d.permissive)}, "perms": {_strs(d.perms)}, "pid": {i(d.pid)}, '
        f'"port": {i(d.port)}, "proctitle": {s(d.proctitle)}, "scontext": {_context(sc)}, '
        f'"serial": {i(d.serial)}, "source": {_ascii(sc.type)}, "success": {_bool(d.success)}, '
        f'"syscall": {s(d.syscall)}, "syscall_nr": {i(d.syscall_nr)}, "target": {_ascii(tc.type)}, '
        f'"tclass": {_ascii(d.tclass)}, "tcontext": {_context(tc)}, "time": {_float(d.time)}}}'
    )


#: :func:`py_denial_text`, written by the C accelerator when it is built (it
#: hands what it does not encode itself, such as a non-finite time, back to
#: :func:`py_denial_text`).
denial_text: Callable[[Denial], str] = py_denial_text
if _cscan is not None:
    _cscan.set_denial_fallback(py_denial_text)
    denial_text = _cscan.denial_text


def _group_fields(g: DenialGroup) -> dict[str, object]:
    return {
        "source": g.source,
        "target": g.target,
        "class": g.tclass,
        "permissive": g.permissive,
        "count": g.count,
        "first_seen": g.first_seen,
        "last_seen": g.last_seen,
        "comms": list(g.comms),
        "exes": list(g.exes),
        "paths": list(g.paths),
        "ports": list(g.ports),
    }


def rule_json(group: DenialGroup, finding: Finding | None = None) -> dict[str, object]:
    """One entry of ``rules``: a group, or a finding (a part of a group) when explained."""
    out = _group_fields(group)
    if finding is None:
        out.update(perms=list(group.perms), reason=None, advice=[], risks=[], detail="")
        return out
    out.update(
        perms=sorted(finding.perms),
        reason=finding.reason.value,
        advice=[
            {"kind": a.kind.value, "command": a.command, "confidence": a.confidence, "why": a.why,
             "advisor": a.advisor, "acts_on": a.acts_on, "evidence": list(a.evidence)}
            for a in finding.advice
        ],
        object=finding.object.to_json() if finding.object is not None else None,
        risks=list(finding.risks),
        detail=finding.detail,
    )
    return out


def rules_json(groups: Iterable[DenialGroup], findings: Iterable[Finding] | None) -> list[dict[str, object]]:
    """``rules``: one per finding when explained, else one per group."""
    return list(iter_rules_json(groups, findings))


def iter_rules_json(groups: Iterable[DenialGroup], findings: Iterable[Finding] | None) -> Iterable[dict[str, object]]:
    """:func:`rules_json`, one rule at a time (for :func:`write_tail`)."""
    if findings is None:
        return map(rule_json, groups)
    return (rule_json(f.group, f) for f in findings)


def skipped_json(stats: ScanStats) -> list[dict[str, object]]:
    """``skipped``: the first skipped lines (``stats.skipped_lines`` counts all)."""
    return [{"file": s.source, "line": s.line, "reason": s.reason, "excerpt": s.excerpt}
            for s in stats.skipped]


def stats_json(stats: ScanStats) -> dict[str, int]:
    """``stats``: the integer counters."""
    return stats.as_dict()


def denials_close(count: int) -> str:
    """What closes ``denials`` after ``count`` of them."""
    return "\n], " if count else "], "


#: Rules encoded per write by :func:`write_tail`.
RULES_BATCH = 512


def write_tail(write: Callable[[str], object], rules: Iterable[dict[str, object]], stats: ScanStats) -> None:
    """Write :func:`tail_text` through ``write``, taking the rules one at a
    time (a batch per write): a document with very many rules is never held
    whole in memory."""
    write('"rules": [')
    n = 0
    batch: list[str] = []
    for r in rules:
        batch.append(("\n  " if n == 0 else ",\n  ") + ENCODER.encode(r))
        n += 1
        if len(batch) == RULES_BATCH:
            write("".join(batch))
            batch = []
    batch.append("\n], " if n else "], ")
    write("".join(batch)
          + '"skipped": ' + ENCODER.encode(skipped_json(stats)) + ", "
          + '"sources": ' + ENCODER.encode(list(stats.sources)) + ", "
          + '"stats": ' + ENCODER.encode(stats_json(stats)) + "}\n")


def tail_text(rules: Iterable[dict[str, object]], stats: ScanStats) -> str:
    """``rules``, ``skipped``, ``sources`` and ``stats``: the document after ``denials``."""
    parts: list[str] = []
    write_tail(parts.append, rules, stats)
    return "".join(parts)


def document_text(denials: Iterable[Denial], rules: Sequence[dict[str, object]], stats: ScanStats) -> str:
    """The whole document at once (what the streaming writer gives for the same values)."""
    parts = [DOCUMENT_HEAD]
    n = 0
    for d in denials:
        parts.append(("\n  " if n == 0 else ",\n  ") + denial_text(d))
        n += 1
    parts.append(denials_close(n))
    parts.append(tail_text(rules, stats))
    return "".join(parts)


# ------------------------------------------------------------------ rule lines

#: ``self`` as a name (not part of a longer identifier).
_SELF_RE = re.compile(r"(?<![A-Za-z0-9_.\-])self(?![A-Za-z0-9_\-])")
#: An optional diff mark (``+ ``/``- ``) and the statement.
_MARKED_RE = re.compile(r"([+-] )?(.*)\Z", re.S)


def expand_self(rule: Rule, attributes: Collection[str] = ()) -> tuple[Rule, ...]:
    """``rule`` with ``self`` replaced by the real type names: one rule per
    source type when there are several (``allow { a_t b_t } self:c p;`` is
    ``allow a_t a_t:c p;`` plus ``allow b_t b_t:c p;``).

    Exact only for source types: a source that is an attribute (one of
    ``attributes``) or a ``*``/``~``/``-name`` source set cannot be written
    without ``self``, and such a rule is returned unchanged.
    """
    from dataclasses import replace

    from avcfix.policy.model import SELF, NameSet

    t = rule.targets
    if SELF not in t.names and SELF not in t.excluded:
        return (rule,)
    s = rule.sources
    if not s.is_plain or not s.names or any(n in attributes for n in s.names):
        return (rule,)
    out = []
    for src in s.names:
        targets = NameSet(tuple(src if n == SELF else n for n in t.names),
                          tuple(src if n == SELF else n for n in t.excluded), t.complement, t.star)
        out.append(replace(rule, sources=NameSet.of(src), targets=targets))
    return tuple(out)


def rule_lines_json(lines: Iterable[str], attributes: Collection[str] = ()) -> list[str]:
    """Rule lines of a ``.te`` (as ``avcfix build``'s diff or ``merge``'s
    ``added`` give them, optionally marked ``+ ``/``- ``) with ``self`` replaced
    by the real type names (see :func:`expand_self`); a line may become several.
    A line that does not parse as rules is kept as it is."""
    out: list[str] = []
    for line in lines:
        if not _SELF_RE.search(line):
            out.append(line)
            continue
        from avcfix.errors import PolicyError
        from avcfix.policy.render import rule_te
        from avcfix.policy.te_parse import parse_te

        m = _MARKED_RE.match(line)
        assert m is not None
        mark, statement = m.group(1) or "", m.group(2)
        try:
            module = parse_te(statement, "<rule>")
        except PolicyError:
            out.append(line)
            continue
        if not module.rules or module.opaque or module.declarations:
            out.append(line)
            continue
        out.extend(mark + rule_te(r) for rule in module.rules for r in expand_self(rule, attributes))
    return out
