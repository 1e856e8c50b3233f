"""Shared by tests/test_advisor_*.py: explain one log of tests/data/advisors/
against Debian's reference policy (the host's, read only) or Fedora's
targeted policy (fixture ``fedora_root``), or another policy root."""

from __future__ import annotations

from pathlib import Path

import pytest

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import explain_groups
from avcfix.explain.model import AdviceKind, Finding
from avcfix.facts import open_facts

DATA = Path(__file__).resolve().parents[1] / "data" / "advisors"


def policy_facts(request: pytest.FixtureRequest, which: str):
    """PolicyFacts for ``"debian"`` (host_root) or ``"fedora"`` (fedora_root), one per session."""
    cache = request.config.__dict__.setdefault("_advisor_facts", {})
    if which not in cache:
        root = request.getfixturevalue("host_root" if which == "debian" else "fedora_root")
        facts = open_facts(None, root.root)
        assert facts is not None
        cache[which] = facts
    return cache[which]


def explain_one(log: str, facts) -> Finding:
    groups = group_denials(scan([str(DATA / log)]))
    findings = explain_groups(groups, facts)
    assert len(findings) == 1, [(f.group.key, f.perms, f.reason) for f in findings]
    return findings[0]


def of_kind(f: Finding, kind: AdviceKind):
    return [a for a in f.advice if a.kind is kind]
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
