"""Every ``--json`` document of build, merge, loop, bundle and ``build --new-domain``.

One version number (:data:`DOCUMENT_VERSION`, documented in docs/json.md and
the schemas of docs/schema/), one serializer (:func:`write_document`: two-space
indent, sorted keys, one trailing newline, so the same input gives the same
bytes) and the document bodies. The values a document carries serialize
themselves (``to_json()`` on LoopReport, NewDomain, Completion...); rule
lines go through :func:`avcfix.report.jsondoc.rule_lines_json` so a document
never says ``self``. ``why``'s document is streamed by
:mod:`avcfix.report.jsonstream`, from the pieces of :mod:`avcfix.report.jsondoc`.

Pure: imports only the core values.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import IO, Any

from avcfix.explain.model import Finding

#: The ``version`` of the build, loop, bundle and new-domain documents.
DOCUMENT_VERSION = 1


def write_document(doc: Mapping[str, Any], stream: IO[str] | None = None) -> None:
    """``doc`` as JSON on ``stream`` (stdout): indented, keys sorted, newline-terminated."""
    out = sys.stdout if stream is None else stream
    out.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def versioned(**body: Any) -> dict[str, Any]:
    """A document: ``{"version": DOCUMENT_VERSION, **body}``."""
    return {"version": DOCUMENT_VERSION, **body}


def left_out_json(f: Finding) -> dict[str, Any]:
    """A finding ``build`` left out of the module: what it is, why, and the command that fixes it."""
    g = f.group
    return {
        "source": g.source,
        "target": g.target,
        "class": g.tclass,
        "perms": list(f.perms),
        "reason": f.reason.value,
        "count": g.count,
        "fix": f.advice[0].command if f.advice else None,
        "fix_kind": f.advice[0].kind.value if f.advice else None,
    }


def build_document(modules: Iterable[Mapping[str, Any]], failed: Iterable[tuple[str, str, int]],
                   stats: Mapping[str, int]) -> dict[str, Any]:
    """``avcfix build --json``: each module's build (``BuildResult.to_json()``), the
    modules that failed as ``(module, error, exit code)``, and the scan's counts."""
    return versioned(
        modules=list(modules),
        failed=[{"module": name, "error": error, "exit": code} for name, error, code in failed],
        stats=dict(stats),
    )
