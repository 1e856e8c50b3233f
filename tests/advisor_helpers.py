"""Shared by tests/test_advisor_*.py: explain a log of tests/data/advisors/
against a real policy root, and the facts of the two test policies."""

from __future__ import annotations

from pathlib import Path

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import explain_groups
from avcfix.explain.facts import open_facts
from avcfix.explain.model import AdviceKind, Finding

DATA = Path(__file__).resolve().parent / "data" / "advisors"


def facts_for(root):
    """PolicyFacts for a :class:`PolicyRoot` (its policy and file_contexts)."""
    f = open_facts(None, root.root)
    assert f is not None
    return f


def findings(log: str, facts) -> list[Finding]:
    return explain_groups(group_denials(scan([str(DATA / log)])), facts)


def one(log: str, facts) -> Finding:
    found = findings(log, facts)
    assert len(found) == 1, found
    return found[0]


def module_confidence(f: Finding) -> int | None:
    """The confidence of the allow-rule advice (None when there is none)."""
    rules = [a.confidence for a in f.advice if a.kind is AdviceKind.MODULE]
    return max(rules) if rules else None
