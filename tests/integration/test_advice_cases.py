"""The right first fix, case by case, on two real policies (issue 13).

Every case is an entry of ``tests/data/advice/cases.toml`` and a log beside it:
the records a Linux kernel writes for one denied access (AVC, SYSCALL, EXECVE,
SOCKADDR, CWD, PATH items with their nametype, PROCTITLE; how each is shaped is
in ``make_logs.py``'s docstring). A case is explained against Debian's reference
policy (a copy of the host store, ``pristine_root``) or Fedora's targeted policy
(``fedora_root``), with that root's own file_contexts, and its *first* advice is
compared with the expected one. Each case's ``checked`` field says how the
expected answer was verified with sesearch / seinfo / matchpathcon on that policy.

Cases that fail today are not xfail: they show what the advisors still get
wrong. Run only these with ``-m advice_case``.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest
from policy_helpers import install_modules

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import explain_groups
from avcfix.explain.model import Finding
from avcfix.facts import open_facts
from avcfix.index.setools_facts import PolicyFacts
from avcfix.toolchain.store import PolicyRoot, copy_root

DATA = Path(__file__).resolve().parents[1] / "data" / "advice"
CASES = tomllib.loads((DATA / "cases.toml").read_text())["case"]
POLICIES = ("debian", "fedora")
#: AdviceKind values the cases may name (some are the advisors' new kinds).
KINDS = {"port_label", "restorecon", "fcontext", "fcontext_equal", "boolean", "allowxperm", "dontaudit",
         "program", "narrower_perm", "module", "none"}
REASONS = {"te_rule", "boolean", "constraint", "rbac", "bounds", "dontaudit", "allowed_now", "permissive", "xperm",
           "unknown_type", "unknown_class", "unknown_perm", "no_policy"}
#: A fix advised at this confidence or more must be one an expert would give.
CONFIDENT = 70

pytestmark = pytest.mark.advice_case


def _value(x) -> str:
    return getattr(x, "value", x)


class _Facts:
    """Policy facts per (policy, module), opened once per test module."""

    def __init__(self, request, tmp_path_factory) -> None:
        self.request, self.tmp = request, tmp_path_factory
        self.cache: dict[tuple[str, str | None], PolicyFacts] = {}

    def root(self, policy: str) -> PolicyRoot:
        return self.request.getfixturevalue("pristine_root" if policy == "debian" else "fedora_root")

    def get(self, policy: str, module: str | None) -> PolicyFacts:
        key = (policy, module)
        if key not in self.cache:
            root = self.root(policy)
            if module:
                root = copy_root(root, self.tmp.mktemp(f"{policy}-{module}") / "root")
                install_modules(root, self.request.getfixturevalue("fixture_pp")(module))
            facts = open_facts(None, root.root)
            assert facts is not None
            self.cache[key] = facts
        return self.cache[key]


@pytest.fixture(scope="module")
def facts_for(request, tmp_path_factory) -> _Facts:
    return _Facts(request, tmp_path_factory)


def _findings(case: dict, facts: PolicyFacts) -> list[Finding]:
    groups = group_denials(scan([str(DATA / case["log"])]))
    assert groups, f"no denial parsed from {case['log']}"
    return explain_groups(groups, facts)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_first_fix(case, facts_for):
    findings = _findings(case, facts_for.get(case["policy"], case.get("needs_module")))
    # every case log holds one denied access: its first finding is the one judged
    assert findings, "no finding"
    f = findings[0]
    got = [(_value(a.kind), a.command, a.confidence) for a in f.advice]
    for a in f.advice:
        assert 0 <= a.confidence <= 100, (a.command, a.confidence)
    if "reason" in case:
        assert _value(f.reason) == case["reason"], (f.reason, got)
    if case["first_kind"] == "none":
        assert f.advice == (), got
    else:
        assert f.advice, f"no advice (reason {_value(f.reason)})"
        first = f.advice[0]
        assert (_value(first.kind), first.command) == (case["first_kind"], case["first_command"]), got
    confident = {a.command for a in f.advice if a.confidence >= CONFIDENT}
    wrong = sorted(confident & set(case.get("never", ())))
    assert not wrong, f"advised at confidence >= {CONFIDENT}: {wrong}; all: {got}"
    banned = [a for a in f.advice if _value(a.kind) in set(case.get("no_kinds", ()))]
    assert not banned, f"kinds {case['no_kinds']} must not be advised: {got}"


# -- the table itself (these run without a policy and pass today)

@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_is_well_formed(case):
    assert case["checked"].strip(), "say how the expected answer was verified"
    assert case["policy"] in POLICIES
    assert (DATA / case["log"]).is_file()
    assert case["first_kind"] in KINDS
    assert (case["first_command"] == "") == (case["first_kind"] == "none")
    assert case.get("reason", "te_rule") in REASONS
    assert case["first_command"] not in case.get("never", ())
    if case.get("needs_module"):
        assert (DATA / f"{case['needs_module']}.te").is_file()


def test_ids_are_unique_and_both_policies_are_covered():
    ids = Counter(c["id"] for c in CASES)
    assert [i for i, n in ids.items() if n > 1] == []
    per_policy = Counter(c["policy"] for c in CASES)
    assert len(CASES) >= 48 and all(per_policy[p] >= 20 for p in POLICIES), per_policy
