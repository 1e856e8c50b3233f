"""Reasons that need policy the reference policy lacks: type bounds and a
permissive domain, from ``policies/avcfix_explain.te`` installed on top of the
Eucalyptus store (one full-store install for this module)."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_helpers import install_modules

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import explain_groups
from avcfix.explain.model import AdviceKind, Reason
from avcfix.facts import open_facts
from avcfix.toolchain.store import copy_root

DATA = Path(__file__).resolve().parents[1] / "data" / "explain"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def facts(euca_root, fixture_pp, tmp_path_factory):
    root = copy_root(euca_root, tmp_path_factory.mktemp("explain-policy") / "root")
    install_modules(root, fixture_pp("avcfix_explain"))
    f = open_facts(None, root.root)
    assert f is not None
    return f


def _one(log: str, facts):
    findings = explain_groups(group_denials(scan([str(DATA / log)])), facts)
    assert len(findings) == 1, findings
    return findings[0]


def test_bounds(facts):
    f = _one("bounds.log", facts)
    assert f.reason is Reason.BOUNDS
    assert f.advice == ()
    assert "typebounds" in f.detail


def test_permissive_domain_from_the_policy(facts):
    # the log line has no permissive= field (older kernels): the policy says it
    f = _one("permissive_domain.log", facts)
    assert not f.group.permissive
    assert f.reason is Reason.PERMISSIVE
    assert f.underlying is Reason.TE_RULE
    assert "permissive domain" in f.detail
    assert f.advice[-1].kind is AdviceKind.MODULE
    assert f.advice[-1].command == "allow avcfix_trial_t etc_t:file write;"
    assert any(r.startswith("write etc_t:") for r in f.risks)
