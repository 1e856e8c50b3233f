"""The explain engine and its advisors over FakeFacts (tests/unit/fakes.py): every
reason and the advisor choices that hang on the policy's answers, without a policy.

Each expected answer follows from the fake tables in the test and the engine's
documented rules (avcfix/explain/engine.py, advisors/*.py), not from a run of
the code. Where a test mirrors a real-policy case, the comment names the
integration test that checks the same thing on the real policy.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import get_type_hints

import pytest
from fakes import Constraint, FakeFacts, Rule

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import RISKY_MODULE_CONFIDENCE, explain_groups
from avcfix.explain.model import AdviceKind, Finding, Reason
from avcfix.explain.protocol import Facts

FILE_PERMS = {"read", "write", "open", "getattr", "create", "append", "ioctl", "execute", "unlink"}
SOCKET_PERMS = {"name_bind", "name_connect", "create", "bind", "connect"}


def _policy(**more: object) -> FakeFacts:
    """A small policy: a daemon, its own files, a generic file type, ports, a boolean."""
    f = FakeFacts(
        types={"mydaemon_t", "mydaemon_var_lib_t", "var_lib_t", "etc_t", "shadow_t", "unconfined_t",
               "unreserved_port_t", "port_t", "mydaemon_port_t", "http_port_t", "nfs_t", "user_home_t",
               "other_t"},
        attributes={"domain": {"mydaemon_t", "unconfined_t", "other_t"}, "file_type": {"mydaemon_var_lib_t",
                    "var_lib_t", "etc_t", "shadow_t", "nfs_t", "user_home_t"},
                    "port_type": {"unreserved_port_t", "port_t", "mydaemon_port_t", "http_port_t"}},
        classes={"file": set(FILE_PERMS), "dir": {"search", "read", "write", "add_name", "getattr", "open"},
                 "tcp_socket": set(SOCKET_PERMS), "udp_socket": set(SOCKET_PERMS),
                 "process": {"transition", "signal"}},
        rules=[Rule("mydaemon_t", "mydaemon_var_lib_t", "file", ("read", "open", "getattr")),
               Rule("mydaemon_t", "etc_t", "file", ("read", "open", "getattr")),
               Rule("mydaemon_t", "mydaemon_port_t", "tcp_socket", ("name_bind",)),
               Rule("mydaemon_t", "self", "tcp_socket", ("create", "bind"))],
        portcons=[("tcp", 7777, 7777, "mydaemon_port_t"), ("tcp", 80, 80, "http_port_t")],
        generic={"port_t", "unreserved_port_t", "var_lib_t"},
        unconfined={"unconfined_t"},
        file_contexts=[("/var/lib/mydaemon(/.*)?", "", "mydaemon_var_lib_t"), ("/var/lib(/.*)?", "", "var_lib_t")],
    )
    for k, v in more.items():
        setattr(f, k, v)
    return f


def _avc(perms: str, tclass: str, target: str, *, source: str = "mydaemon_t", permissive: int = 0,
         extra: str = "", tuser: str = "system_u", serial: int = 1) -> str:
    return (f"type=AVC msg=audit(1700000000.000:{serial}): avc:  denied  {{ {perms} }} for  pid=42 comm=\"mydaemon\" "
            f"{extra}scontext=system_u:system_r:{source}:s0 tcontext={tuser}:object_r:{target}:s0 "
            f"tclass={tclass} permissive={permissive}")


def _explain(tmp_path: Path, facts: FakeFacts | None, *lines: str) -> list[Finding]:
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    found: list[Finding] = explain_groups(group_denials(scan([str(log)])), facts)
    return found


def _one(tmp_path: Path, facts: FakeFacts | None, *lines: str) -> Finding:
    found = _explain(tmp_path, facts, *lines)
    assert len(found) == 1, [(f.group.key, f.perms, f.reason) for f in found]
    return found[0]


def _kinds(f: Finding) -> list[AdviceKind]:
    return [a.kind for a in f.advice]


# ------------------------------------------------------------------ conformance

def test_fakefacts_is_a_facts() -> None:
    """Statically (mypy checks this assignment: ``mypy tests/unit/test_engine_fake.py``)
    and at run time: every member of the Protocol exists on FakeFacts with the same
    parameters (names, kinds, defaults), properties stay properties."""
    facts: Facts = FakeFacts()
    members = {n for n in dir(Facts) if not n.startswith("_")} | set(get_type_hints(Facts))
    assert {"analyze", "allow_rules", "port_type", "mls", "lookups"} <= members
    for name in sorted(members):
        assert hasattr(facts, name), name
        want = inspect.getattr_static(Facts, name, None)
        got = inspect.getattr_static(FakeFacts, name, None)
        if isinstance(want, property):
            assert isinstance(got, property), name
        elif callable(want):
            w = inspect.signature(want).parameters
            g = inspect.signature(got).parameters
            assert [(p.name, p.kind, p.default) for p in w.values()] == \
                   [(p.name, p.kind, p.default) for p in g.values()], name


# ---------------------------------------------------------------------- reasons

def test_missing_allow_rule_is_te_rule_and_the_module_rule(tmp_path: Path) -> None:
    f = _one(tmp_path, _policy(), _avc("write", "file", "mydaemon_var_lib_t"))
    assert f.reason is Reason.TE_RULE and f.needs_module
    assert _kinds(f) == [AdviceKind.MODULE]
    # catchall: no label or boolean fix applies, but the event has no PATH record: the object is
    # unknown, so a wrong label cannot be ruled out (60, not 90)
    assert f.advice[0].confidence == 60 and "path is not in the log" in f.advice[0].why


def test_allowed_now(tmp_path: Path) -> None:
    # the index and setools agree on allowed_now on the real policy: tests/integration/test_index_reasons.py
    f = _one(tmp_path, _policy(), _avc("read", "file", "mydaemon_var_lib_t"))
    assert f.reason is Reason.ALLOWED_NOW
    assert AdviceKind.MODULE not in _kinds(f)


def test_one_group_splits_by_reason(tmp_path: Path) -> None:
    found = _explain(tmp_path, _policy(), _avc("read write", "file", "mydaemon_var_lib_t"))
    assert [(x.reason, x.perms) for x in found] == [(Reason.TE_RULE, ("write",)), (Reason.ALLOWED_NOW, ("read",))]


def test_boolean_single(tmp_path: Path) -> None:
    # real policy: httpd_can_network_connect_db in tests/integration/test_advisor_boolean.py
    facts = _policy(booleans={"mydaemon_write": (False, "Allow mydaemon to write its state")})
    facts.rules.append(Rule("mydaemon_t", "mydaemon_var_lib_t", "file", ("write",), condition="mydaemon_write"))
    f = _one(tmp_path, facts, _avc("write", "file", "mydaemon_var_lib_t"))
    assert f.reason is Reason.BOOLEAN
    assert f.booleans == (("mydaemon_write", True),)
    assert "Allow mydaemon to write its state" in f.detail
    first = f.advice[0]
    assert first.kind is AdviceKind.BOOLEAN and first.command == "setsebool -P mydaemon_write on"
    assert first.confidence == 85  # a narrow single: its rule names the domain and the exact type
    assert any("allow mydaemon_t mydaemon_var_lib_t:file write; [ mydaemon_write ]:True" in e
               for e in first.evidence)


def test_boolean_true_disables_the_rule(tmp_path: Path) -> None:
    """A rule in the false branch: the fix is to turn the boolean off."""
    facts = _policy(booleans={"mydaemon_readonly": (True, None)})
    facts.rules.append(Rule("mydaemon_t", "mydaemon_var_lib_t", "file", ("write",),
                            condition="mydaemon_readonly", block=False))
    f = _one(tmp_path, facts, _avc("write", "file", "mydaemon_var_lib_t"))
    assert f.booleans == (("mydaemon_readonly", False),)
    assert f.advice[0].command == "setsebool -P mydaemon_readonly off"


def test_boolean_narrow_before_unrelated(tmp_path: Path) -> None:
    """Two booleans allow it: one through a rule for a large attribute the domain is in
    (another subsystem's), one naming the domain. The narrow one wins, whatever the names."""
    facts = _policy(booleans={"aaa_global": (False, None), "zzz_mydaemon": (False, None)})
    facts.attributes["big_attr"] = {"mydaemon_t"} | {f"t{i}_t" for i in range(40)}
    facts.rules += [Rule("big_attr", "mydaemon_var_lib_t", "file", ("write",), condition="aaa_global"),
                    Rule("mydaemon_t", "mydaemon_var_lib_t", "file", ("write",), condition="zzz_mydaemon")]
    f = _one(tmp_path, facts, _avc("write", "file", "mydaemon_var_lib_t"))
    assert f.reason is Reason.BOOLEAN
    cmds = [(a.command, a.confidence) for a in f.advice if a.kind is AdviceKind.BOOLEAN]
    assert cmds[0] == ("setsebool -P zzz_mydaemon on", 85)
    assert cmds[1][0] == "setsebool -P aaa_global on" and cmds[1][1] < 50  # unrelated: below 50


def test_boolean_pair(tmp_path: Path) -> None:
    facts = _policy(booleans={"b_one": (False, None), "b_two": (False, None)})
    facts.rules.append(Rule("mydaemon_t", "mydaemon_var_lib_t", "file", ("write",), condition="b_one && b_two"))
    f = _one(tmp_path, facts, _avc("write", "file", "mydaemon_var_lib_t"))
    assert f.reason is Reason.BOOLEAN
    assert f.booleans == (("b_one", True), ("b_two", True))
    pair = f.advice[0]
    assert pair.kind is AdviceKind.BOOLEAN and pair.confidence < 70
    assert pair.command == "setsebool -P b_one=on b_two=on"


def test_constraint_with_the_part_that_differs(tmp_path: Path) -> None:
    # real policy: the user constraint (ubac) in tests/integration/test_explain_cases.py
    facts = _policy(constraints=[Constraint("file", frozenset({"read"}), "user", "constrain file read (u1 == u2)")])
    f = _one(tmp_path, facts, _avc("read", "file", "mydaemon_var_lib_t", tuser="staff_u"))
    assert f.reason is Reason.CONSTRAINT and f.differs == ("user",)
    assert "No allow rule can fix a constraint" in f.detail and "relabel the object" in f.detail
    assert AdviceKind.MODULE not in _kinds(f)
    # same user: the constraint holds, the access is allowed
    assert _one(tmp_path, facts, _avc("read", "file", "mydaemon_var_lib_t")).reason is Reason.ALLOWED_NOW


def test_dontaudit(tmp_path: Path) -> None:
    facts = _policy()
    facts.rules.append(Rule("mydaemon_t", "shadow_t", "file", ("getattr",), kind="dontaudit"))
    f = _one(tmp_path, facts, _avc("getattr", "file", "shadow_t"))
    assert f.reason is Reason.DONTAUDIT
    assert AdviceKind.MODULE not in _kinds(f)


def test_boolean_before_dontaudit(tmp_path: Path) -> None:
    """audit2why's order (as avcfix/index/facts.py): a boolean that allows it wins over a dontaudit rule."""
    facts = _policy(booleans={"b": (False, None)})
    facts.rules += [Rule("mydaemon_t", "shadow_t", "file", ("getattr",), kind="dontaudit"),
                    Rule("mydaemon_t", "shadow_t", "file", ("getattr",), condition="b")]
    assert _one(tmp_path, facts, _avc("getattr", "file", "shadow_t")).reason is Reason.BOOLEAN


@pytest.mark.parametrize(("line", "reason", "named"), [
    (_avc("read", "file", "nosuch_t"), Reason.UNKNOWN_TYPE, "target type nosuch_t"),
    (_avc("read", "file", "etc_t", source="ghost_t"), Reason.UNKNOWN_TYPE, "source type ghost_t"),
    (_avc("read", "nosuchclass", "etc_t"), Reason.UNKNOWN_CLASS, "class nosuchclass"),
    (_avc("frobnicate", "file", "etc_t"), Reason.UNKNOWN_PERM, "permission frobnicate"),
])
def test_unknown_names(tmp_path: Path, line: str, reason: Reason, named: str) -> None:
    f = _one(tmp_path, _policy(), line)
    assert f.reason is reason and named in f.detail
    assert AdviceKind.MODULE not in _kinds(f)


def test_permissive_logged_wraps_te_rule_and_keeps_its_advice(tmp_path: Path) -> None:
    f = _one(tmp_path, _policy(), _avc("write", "file", "mydaemon_var_lib_t", permissive=1))
    assert f.reason is Reason.PERMISSIVE and f.underlying is Reason.TE_RULE
    assert "logged with permissive=1" in f.detail
    assert _kinds(f) == [AdviceKind.MODULE]


def test_permissive_domain_in_the_policy(tmp_path: Path) -> None:
    # real policy: policies/avcfix_explain.te's permissive domain in tests/integration/test_explain_policy_cases.py
    f = _one(tmp_path, _policy(permissive={"mydaemon_t"}), _avc("write", "file", "mydaemon_var_lib_t"))
    assert f.reason is Reason.PERMISSIVE and f.underlying is Reason.TE_RULE
    assert "mydaemon_t is a permissive domain" in f.detail


def test_permissive_does_not_wrap_allowed_now(tmp_path: Path) -> None:
    f = _one(tmp_path, _policy(), _avc("read", "file", "mydaemon_var_lib_t", permissive=1))
    assert f.reason is Reason.ALLOWED_NOW and f.underlying is None


def test_xperm(tmp_path: Path) -> None:
    # real policy: tests/data/advisors/avcfix_special.te in tests/integration/test_advisor_xperm.py
    facts = _policy(xperms={("mydaemon_t", "mydaemon_var_lib_t", "file"): frozenset({0x5401})})
    facts.rules.append(Rule("mydaemon_t", "mydaemon_var_lib_t", "file", ("ioctl",)))
    f = _one(tmp_path, facts, _avc("ioctl", "file", "mydaemon_var_lib_t", extra='ioctlcmd=0x541b '))
    assert f.reason is Reason.XPERM and "0x541b" in f.detail
    assert f.advice and f.advice[0].kind is AdviceKind.XPERM
    # the allowed command is allowed_now
    ok = _one(tmp_path, facts, _avc("ioctl", "file", "mydaemon_var_lib_t", extra='ioctlcmd=0x5401 ', serial=2))
    assert ok.reason is Reason.ALLOWED_NOW


# ---------------------------------------------------------------------- advisors

def test_port_label_for_a_generic_port(tmp_path: Path) -> None:
    # real policy: the eucanetd bind of 63822 in tests/integration/test_advisor_port_label.py
    f = _one(tmp_path, _policy(), _avc("name_bind", "tcp_socket", "unreserved_port_t", extra="src=8080 "))
    assert f.reason is Reason.TE_RULE
    first = f.advice[0]
    assert first.kind is AdviceKind.PORT_LABEL
    assert first.command == "semanage port -a -t mydaemon_port_t -p tcp 8080"
    assert first.confidence >= 70
    assert AdviceKind.MODULE not in _kinds(f)  # catchall: a port label replaces the rule


def test_no_port_type_for_the_domain_leaves_the_module_rule(tmp_path: Path) -> None:
    facts = _policy()
    facts.rules = [r for r in facts.rules if r.target != "mydaemon_port_t"]
    f = _one(tmp_path, facts, _avc("name_bind", "tcp_socket", "unreserved_port_t", extra="src=8080 "))
    assert AdviceKind.PORT_LABEL not in _kinds(f)
    assert f.advice[0].kind is AdviceKind.MODULE and f.advice[0].confidence == 40  # catchall.generic_port


def test_risky_write_tempers_the_module_rule(tmp_path: Path) -> None:
    f = _one(tmp_path, _policy(), _avc("write", "file", "shadow_t"))
    assert f.reason is Reason.TE_RULE and any(r.startswith("shadow_t") or "shadow" in r for r in f.risks)
    module = [a for a in f.advice if a.kind is AdviceKind.MODULE]
    assert module and module[0].confidence <= RISKY_MODULE_CONFIDENCE


def test_generic_file_type_module_rule_is_not_confident(tmp_path: Path) -> None:
    f = _one(tmp_path, _policy(), _avc("write", "file", "var_lib_t"))
    module = [a for a in f.advice if a.kind is AdviceKind.MODULE]
    assert module and module[0].confidence == 60  # catchall: a generic file type


def test_one_lookup_per_distinct_access(tmp_path: Path) -> None:
    facts = _policy()
    _explain(tmp_path, facts, *[_avc("write", "file", "mydaemon_var_lib_t", serial=i) for i in range(1, 50)])
    assert facts.lookups == 1


def test_without_facts_every_finding_is_no_policy(tmp_path: Path) -> None:
    f = _one(tmp_path, None, _avc("write", "file", "mydaemon_var_lib_t"))
    assert f.reason is Reason.NO_POLICY and f.advice[-1].kind is AdviceKind.MODULE
    assert f.advice[-1].confidence == 45
