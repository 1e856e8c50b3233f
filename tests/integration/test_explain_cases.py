"""The explanation engine on real log lines, against the real policy.

Every case is a log under ``tests/data/explain/`` (AVC + SYSCALL + CWD + PATH
+ PROCTITLE records as the kernel writes them), scanned and grouped by the
real audit layer, explained against the reference policy plus the Eucalyptus
fixture module (``euca_root``), with file_contexts read offline from that
root. Each case asserts the reason, the first advice kind and its command.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import explain_groups
from avcfix.explain.model import AdviceKind, Finding, Reason
from avcfix.facts import open_facts
from avcfix.index.setools_facts import PolicyFacts

DATA = Path(__file__).resolve().parents[1] / "data" / "explain"
SEED = Path(__file__).resolve().parents[2] / "fixtures" / "eucanetd" / "audit.log"


@pytest.fixture(scope="module")
def facts(euca_root) -> PolicyFacts:
    f = open_facts(None, euca_root.root)
    assert f is not None
    return f


def explain(name: str, facts) -> list[Finding]:
    path = DATA / name if not Path(name).is_absolute() else Path(name)
    groups = group_denials(scan([str(path)]))
    assert groups, f"no denial parsed from {name}"
    return explain_groups(groups, facts)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [(f.group.key, f.perms, f.reason) for f in findings]
    return findings[0]


# (log, reason, first advice kind or None, first command or None)
CASES = [
    ("te_rule.log", Reason.TE_RULE, AdviceKind.MODULE,
     "allow eucalyptus_eucanetd_t eucalyptus_var_lib_t:file read;"),
    ("port_label.log", Reason.TE_RULE, AdviceKind.PORT_LABEL,
     "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822"),
    ("boolean.log", Reason.BOOLEAN, AdviceKind.BOOLEAN, "setsebool -P httpd_read_user_content on"),
    ("boolean_pair.log", Reason.BOOLEAN, AdviceKind.BOOLEAN,
     "setsebool -P tftp_enable_homedir=on use_nfs_home_dirs=on"),
    ("restorecon.log", Reason.TE_RULE, AdviceKind.RESTORECON, "restorecon -v /var/lib/eucalyptus/network.xml"),
    # the top custom directory below /srv is labelled, not the one file (h13-files)
    ("fcontext.log", Reason.TE_RULE, AdviceKind.FCONTEXT,
     "semanage fcontext -a -t eucalyptus_var_lib_t '/srv/eucalyptus(/.*)?' "
     "&& restorecon -Rv /srv/eucalyptus"),
    ("constraint.log", Reason.CONSTRAINT, None, None),
    ("rbac.log", Reason.RBAC, None, None),
    # nothing mislabeled: the dontaudit_hidden note (h13-files)
    ("dontaudit.log", Reason.DONTAUDIT, AdviceKind.DONTAUDIT, "semodule -B"),
    ("allowed_now.log", Reason.ALLOWED_NOW, None, None),
    ("permissive.log", Reason.PERMISSIVE, AdviceKind.MODULE,
     "allow eucalyptus_eucanetd_t eucalyptus_var_lib_t:file read;"),
    ("risks.log", Reason.BOOLEAN, AdviceKind.BOOLEAN, "setsebool -P httpd_execmem on"),
    ("port_connect_boolean.log", Reason.BOOLEAN, AdviceKind.BOOLEAN,
     "setsebool -P httpd_can_network_connect on"),
]


@pytest.mark.parametrize(("log", "reason", "kind", "command"), CASES, ids=[c[0] for c in CASES])
def test_reason_and_first_advice(facts, log, reason, kind, command):
    f = only(explain(log, facts))
    assert f.reason is reason
    if kind is None:
        assert f.advice == ()
    else:
        assert f.advice[0].kind is kind
        assert f.advice[0].command == command
        assert all(0 <= a.confidence <= 100 and a.why for a in f.advice)
    # module advice is always last
    kinds = [a.kind for a in f.advice]
    assert AdviceKind.MODULE not in kinds[:-1]


def test_port_label_never_suggests_generic_allow(facts):
    f = only(explain("port_label.log", facts))
    assert [a.kind for a in f.advice] == [AdviceKind.PORT_LABEL]
    assert not any("unreserved_port_t" in a.command for a in f.advice)
    assert not f.needs_module


def test_port_type_reached_only_through_a_boolean_is_offered_with_low_confidence(facts):
    # sesearch -A -s httpd_t -c tcp_socket -p name_connect: every port type httpd_t
    # may connect to by a rule of its own is under a boolean (http_port_t under
    # httpd_can_network_relay / httpd_graceful_shutdown); the advice says so
    f = only(explain("port_connect_boolean.log", facts))
    port = [a for a in f.advice if a.kind is AdviceKind.PORT_LABEL]
    assert port and all(a.confidence < 50 and "boolean" in a.why for a in port)
    assert f.advice.index(port[0]) > 0
    assert not any(a.kind is AdviceKind.MODULE for a in f.advice)


def test_port_without_specific_type_falls_back_honestly(facts, tmp_path):
    # kmod_t may bind no specific port type: say so, and fall back to the rule
    text = (DATA / "port_label.log").read_text()
    text = text.replace("eucalyptus_eucanetd_t", "kmod_t").replace('comm="eucanetd"', 'comm="kmod"')
    log = tmp_path / "kmod_port.log"
    log.write_text(text)
    f = only(explain_groups(group_denials(scan([str(log)])), facts))
    assert f.reason is Reason.TE_RULE
    assert [a.kind for a in f.advice] == [AdviceKind.MODULE]
    assert f.advice[0].command == "allow kmod_t unreserved_port_t:udp_socket name_bind;"
    assert "no port label" in f.advice[0].why


def test_risky_rules_are_flagged_and_tempered(facts):
    findings = explain("risks_transition_shadow.log", facts)
    by_target = {f.group.target: f for f in findings}
    shadow, unconf = by_target["shadow_t"], by_target["unconfined_t"]
    assert [r.split(":")[0] for r in shadow.risks] == ["write shadow_t"]
    assert [r.split(":")[0] for r in unconf.risks] == ["unconfined transition"]
    for f in (shadow, unconf):
        assert f.reason is Reason.TE_RULE
        assert f.advice[0].kind is AdviceKind.MODULE
        assert f.advice[0].confidence <= 50 and "risky" in f.advice[0].why
    assert unconf.advice[0].command == "allow httpd_t unconfined_t:process transition;"


def test_boolean_has_description_and_settings(facts):
    f = only(explain("boolean.log", facts))
    assert f.booleans == (("httpd_read_user_content", True),)
    assert "user home content" in f.detail
    assert "user home content" in f.advice[0].why


def test_boolean_pair_when_no_single_boolean_suffices(facts):
    f = only(explain("boolean_pair.log", facts))
    assert f.booleans == (("tftp_enable_homedir", True), ("use_nfs_home_dirs", True))
    # nfs_t is a filesystem label: no restorecon / fcontext advice on it
    assert all(a.kind is AdviceKind.BOOLEAN for a in f.advice)


def test_constraint_names_text_and_differing_part(facts):
    f = only(explain("constraint.log", facts))
    assert "u1 == u2" in f.detail
    assert f.differs == ("user",)
    assert "[differs: user]" in f.detail and "chcon -u" in f.detail


def test_mcs_constraint_on_levels_with_other_contexts_noted(facts):
    f = only(explain("mcs_levels.log", facts))
    assert f.reason is Reason.CONSTRAINT
    assert f.differs == ("level",)
    assert "h1 dom h2" in f.detail
    # the group's second context pair (same categories) is allowed: said, not hidden
    assert "svirt_image_t:s0:c1,c2: allowed_now" in f.detail
    assert "chcon -l" in f.detail
    # svirt_image_t is assigned at run time (virtual_image_context): no restorecon to virt_image_t
    assert f.advice == ()


def test_rbac_names_missing_association(facts):
    f = only(explain("rbac.log", facts))
    assert "role staff_r types httpd_t" in f.detail


def test_dontaudit_and_allowed_now_need_no_module(facts):
    for log in ("dontaudit.log", "allowed_now.log"):
        f = only(explain(log, facts))
        assert not f.needs_module


def test_permissive_keeps_underlying_analysis(facts):
    f = only(explain("permissive.log", facts))
    assert f.underlying is Reason.TE_RULE
    assert "candidate" in f.detail
    assert f.needs_module


def test_narrower_permission_splits_broad_capability(facts):
    findings = explain("narrower_perm.log", facts)
    by_perms = {f.perms: f for f in findings}
    assert set(by_perms) == {("dac_override",), ("dac_read_search",)}
    broad = by_perms[("dac_override",)]
    assert broad.reason is Reason.TE_RULE
    assert broad.advice[0].kind is AdviceKind.NARROWER_PERM
    assert broad.advice[0].command == "allow eucalyptus_cloud_t eucalyptus_cloud_t:capability dac_read_search;"
    assert any(r.startswith("dac_override:") for r in broad.risks)
    narrow = by_perms[("dac_read_search",)]
    assert narrow.advice[0].command == "allow eucalyptus_cloud_t eucalyptus_cloud_t:capability dac_read_search;"
    assert narrow.needs_module and not broad.needs_module


def test_group_split_per_reason(facts):
    findings = explain("split.log", facts)
    assert [(f.perms, f.reason) for f in findings] == [
        (("write",), Reason.TE_RULE),
        (("open", "read"), Reason.BOOLEAN),
    ]
    assert findings[0].advice[0].command == "allow httpd_t user_home_t:file write;"


def test_unknown_names_are_reported_never_dropped(facts):
    findings = explain("unknown.log", facts)
    got = {(f.group.target, f.group.tclass, f.perms): f for f in findings}
    t = got[("eucalyptus_state_t", "file", ("read",))]
    assert t.reason is Reason.UNKNOWN_TYPE and "eucalyptus_state_t" in t.detail
    c = got[("eucalyptus_eucanetd_t", "quantum_socket", ("frobnicate",))]
    assert c.reason is Reason.UNKNOWN_CLASS and "quantum_socket" in c.detail
    p = got[("eucalyptus_var_lib_t", "file", ("teleport",))]
    assert p.reason is Reason.UNKNOWN_PERM and "teleport" in p.detail
    ok = got[("eucalyptus_var_lib_t", "file", ("read",))]
    assert ok.reason is Reason.TE_RULE
    assert all(not f.needs_module for f in (t, c, p))


def test_unknown_type_against_plain_reference_policy(ref_policy):
    facts = open_facts(ref_policy, None)
    findings = explain_groups(group_denials(scan([str(SEED)])), facts)
    euca = [f for f in findings if f.group.source.startswith("eucalyptus_")]
    assert euca and all(f.reason is Reason.UNKNOWN_TYPE for f in euca)
    assert all("eucalyptus_" in f.detail for f in euca)


def test_seed_example(facts):
    findings = explain(str(SEED), facts)
    first = {(f.group.target, f.group.tclass, f.perms): (f.reason, f.advice[0].kind, f.advice[0].command)
             for f in findings}
    assert first[("unreserved_port_t", "udp_socket", ("name_bind",))] == (
        Reason.TE_RULE, AdviceKind.PORT_LABEL, "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822")
    assert first[("eucalyptus_var_run_t", "dir", ("add_name", "write"))] == (
        Reason.TE_RULE, AdviceKind.MODULE, "allow eucalyptus_eucanetd_t eucalyptus_var_run_t:dir { add_name write };")
    assert first[("getty_t", "capability2", ("checkpoint_restore",))][0] is Reason.TE_RULE


def test_no_policy_gives_log_only_advice():
    findings = explain_groups(group_denials(scan([str(SEED)])), None)
    assert findings and all(f.reason is Reason.NO_POLICY for f in findings)
    assert all("--policy" in f.detail for f in findings)
    port = next(f for f in findings if f.group.tclass == "udp_socket")
    assert port.advice[-1].kind is AdviceKind.MODULE
    assert port.advice[-1].command == "allow eucalyptus_eucanetd_t unreserved_port_t:udp_socket name_bind;"
    dac = next(f for f in findings if f.perms == ("dac_override",))
    assert dac.advice[0].kind is AdviceKind.NARROWER_PERM
    assert any(r.startswith("dac_override:") for r in dac.risks)


@pytest.mark.parametrize("log", ["injection.log", "injection_space.log"])
def test_hostile_paths_never_reach_a_command_unquoted(facts, log):
    f = only(explain(log, facts))
    assert f.advice
    for a in f.advice:
        assert "\n" not in a.command
        words = shlex.split(a.command)
        assert not {"rm", "-rf", "reboot", "$(reboot)", "#"} & set(words)
        if a.kind is AdviceKind.RESTORECON:
            assert words == ["restorecon", "-v", "/var/lib/eucalyptus/a b'$(reboot)"]
    if log == "injection_space.log":
        assert f.advice[0].kind is AdviceKind.RESTORECON


def test_deterministic(facts):
    a = explain(str(SEED), facts)
    b = explain(str(SEED), facts)
    assert a == b
