"""The JSON Schemas of every ``--json`` document (docs/schema/*.json, draft 2020-12).

``check(kind, doc)`` raises AssertionError with every violation when ``doc``
does not follow ``docs/schema/KIND.json``. Used by tests/test_json_schema.py
and by the tests that already parse a ``--json`` document (the fuzz test).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schema"
KINDS = ("why", "why-brief", "build", "build-new-domain", "merge", "loop", "bundle", "bundle-environment")


@functools.cache
def validator(kind: str):
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMA_DIR / f"{kind}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(kind: str, doc: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator(kind).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


def check(kind: str, doc: object) -> None:
    found = errors(kind, doc)
    assert not found, f"does not follow docs/schema/{kind}.json:\n" + "\n".join(found[:20])
