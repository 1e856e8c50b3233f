"""``avcfix why --json``: the stable JSON document, written as a stream.

Top-level keys, in this (sorted) order: ``denials``, ``rules``, ``skipped``,
``sources``, ``stats``. Denials are written as they are found, so memory does
not grow with the log. Every object has sorted keys; the same input gives the
same bytes. No ``self`` appears anywhere: target types are real type names.
"""

from __future__ import annotations

import json
from typing import IO, Iterable, Sequence

from avcfix.audit.api import ScanStats
from avcfix.audit.model import Denial, DenialGroup

_ENC = json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(", ", ": "))
#: denial_json() writes its keys in sorted order itself: skip the per-object sort (hot path).
_DENIAL_ENC = json.JSONEncoder(sort_keys=False, ensure_ascii=True, separators=(", ", ": "))


def denial_json(d: Denial) -> dict:
    """One entry of ``denials`` (keys already in sorted order: see _DENIAL_ENC)."""
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


def _group_fields(g: DenialGroup) -> dict:
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


def rule_json(group: DenialGroup, finding: object | None = None) -> dict:
    """One entry of ``rules``: a group, or a finding (a part of a group) when explained."""
    out = _group_fields(group)
    if finding is None:
        out.update(perms=list(group.perms), reason=None, advice=[], risks=[], detail="")
        return out
    out.update(
        perms=sorted(finding.perms),  # type: ignore[attr-defined]
        reason=finding.reason.value,  # type: ignore[attr-defined]
        advice=[
            {"kind": a.kind.value, "command": a.command, "confidence": a.confidence, "why": a.why}
            for a in finding.advice  # type: ignore[attr-defined]
        ],
        risks=list(finding.risks),  # type: ignore[attr-defined]
        detail=finding.detail,  # type: ignore[attr-defined]
    )
    return out


class JsonStream:
    """Writes the document: ``denials`` while scanning, the rest at the end."""

    def __init__(self, out: IO[str], *, header: bool = True) -> None:
        self._out = out
        self._n = 0
        if header:
            out.write('{"denials": [')

    def denial(self, d: Denial) -> None:
        """Append one denial object."""
        self._out.write(("\n  " if self._n == 0 else ",\n  ") + _DENIAL_ENC.encode(denial_json(d)))
        self._n += 1

    def encoded(self, chunk: IO[str], count: int) -> None:
        """Append ``count`` denials already written by another JsonStream's
        :meth:`denial` calls (its text after the opening bracket)."""
        if count == 0:
            return
        head = chunk.read(3)  # "\n  " that starts the first object
        assert head == "\n  ", head
        self._out.write(("\n  " if self._n == 0 else ",\n  "))
        while True:
            block = chunk.read(1 << 20)
            if not block:
                break
            self._out.write(block)
        self._n += count

    def finish(self, rules: Sequence[dict], stats: ScanStats) -> None:
        """Close ``denials`` and write ``rules``, ``skipped``, ``sources``, ``stats``."""
        w = self._out.write
        w("\n], " if self._n else "], ")
        w('"rules": [' + ",".join("\n  " + _ENC.encode(r) for r in rules) + ("\n], " if rules else "], "))
        skipped = [{"file": s.source, "line": s.line, "reason": s.reason, "excerpt": s.excerpt}
                   for s in stats.skipped]
        w('"skipped": ' + _ENC.encode(skipped) + ", ")
        w('"sources": ' + _ENC.encode(list(stats.sources)) + ", ")
        w('"stats": ' + _ENC.encode(stats.as_dict()) + "}\n")


def rules_json(groups: Iterable[DenialGroup], findings: Sequence[object] | None) -> list[dict]:
    """``rules``: one per finding when explained, else one per group."""
    if findings is None:
        return [rule_json(g) for g in groups]
    return [rule_json(f.group, f) for f in findings]  # type: ignore[attr-defined]
