"""Findings -> Module: grouping, self, left-out advice, permissive marks, xperms,
requires, determinism and injection safety (compiled by the real checkmodule)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from policy_data import finding, group, groups_from_log, no_policy_findings, te_statement_lines
from policy_helpers import compile_te

from avcfix.explain.model import Advice, AdviceKind, Finding, Reason
from avcfix.names.identifiers import InvalidIdentifier
from avcfix.policy.generate import generate_module
from avcfix.policy.model import AvRule, NameSet, RuleKind, XpermRule
from avcfix.policy.render import render_cil, render_te, rule_te
from avcfix.policy.te_parse import parse_te


def allow_lines(text: str) -> list[str]:
    return [ln for ln in te_statement_lines(text) if ln.startswith(("allow ", "allowxperm "))]


EUCA = "eucalyptus_eucanetd_t"


def test_groups_by_source_target_class_and_unions_perms(tmp_path: Path) -> None:
    fs = [
        finding(group(EUCA, "eucalyptus_var_run_t", "dir", ["write"], count=2)),
        finding(group(EUCA, "eucalyptus_var_run_t", "dir", ["add_name", "search"], permissive=True, t0=5.0),
                perms=["add_name"], reason=Reason.PERMISSIVE),
        finding(group(EUCA, "eucalyptus_var_run_t", "file", ["create"])),
    ]
    res = generate_module(fs, name="eucanetd_local")
    text = render_te(res.module)
    assert allow_lines(text) == [
        f"allow {EUCA} eucalyptus_var_run_t:dir {{ add_name write }};",
        f"allow {EUCA} eucalyptus_var_run_t:file create;",
    ]
    # only the finding's perms: "search" was in the group but not in the finding
    assert "search" not in "\n".join(te_statement_lines(text))
    # evidence and the permissive mark sit right above the rule
    lines = text.splitlines()
    i = lines.index(f"allow {EUCA} eucalyptus_var_run_t:dir {{ add_name write }};")
    assert lines[i - 2] == "# 3 denials; comm: eucanetd; exe: /usr/sbin/eucanetd"
    assert lines[i - 1] == "# permissive: 1 of 3 logged in permissive mode (allowed, not blocked)"
    assert parse_te(text) == res.module
    compile_te(text, "eucanetd_local", tmp_path)


def test_self_requires_and_sections(tmp_path: Path) -> None:
    fs = [
        finding(group("httpd_t", "httpd_t", "process", ["execmem"])),
        finding(group("httpd_t", "var_t", "file", ["read", "open"])),
        finding(group("crond_t", "bin_t", "file", ["execute"])),
    ]
    m = generate_module(fs, name="multi").module
    assert m.require.types == ("bin_t", "crond_t", "httpd_t", "var_t")
    assert [(c.name, c.perms) for c in m.require.classes] == [
        ("file", ("execute", "open", "read")), ("process", ("execmem",))]
    text = render_te(m)
    assert "allow httpd_t self:process execmem;" in text
    assert text.index("#============= crond_t ==============") < text.index("#============= httpd_t ==============")
    assert parse_te(text) == m
    compile_te(text, "multi", tmp_path)


def test_left_out_by_default_listed_with_fix_command() -> None:
    port = finding(group(EUCA, "unreserved_port_t", "udp_socket", ["name_bind"]), advice=[
        Advice(AdviceKind.PORT_LABEL, "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822", 90, "label")])
    boolean = finding(group("httpd_t", "user_home_t", "file", ["read"]), reason=Reason.BOOLEAN, advice=[
        Advice(AdviceKind.BOOLEAN, "setsebool -P httpd_read_user_content on", 80, "bool")])
    allowed = finding(group("httpd_t", "etc_t", "file", ["read"]), reason=Reason.ALLOWED_NOW)
    keep = finding(group(EUCA, "eucalyptus_var_lib_t", "file", ["read"]))
    res = generate_module([port, boolean, allowed, keep], name="m")
    assert [rule_te(r) for r in res.module.rules] == [f"allow {EUCA} eucalyptus_var_lib_t:file read;"]
    assert set(res.left_out) == {port, boolean, allowed}
    comments = "\n".join(res.module.comments)
    assert "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822" in comments
    assert "setsebool -P httpd_read_user_content on" in comments
    assert "allowed_now" in comments

    res2 = generate_module([port, boolean, allowed, keep], name="m", include_advised=True)
    rules = [rule_te(r) for r in res2.module.rules]
    assert f"allow {EUCA} unreserved_port_t:udp_socket name_bind;" in rules
    assert "allow httpd_t user_home_t:file read;" in rules
    assert "allow httpd_t etc_t:file read;" not in rules  # an allow rule cannot fix "allowed now"
    assert res2.left_out == (allowed,)
    advised = [r for r in res2.module.av_rules if "unreserved_port_t" in r.targets.names][0]
    assert any("advised instead: semanage port" in c for c in advised.comments)


def test_xperms_only_when_asked(tmp_path: Path) -> None:
    g = group("qemu_t", "qemu_t", "tcp_socket", ["ioctl", "read"], ioctlcmds=(0x8910, 0x8927, 0x8928, 0x5401))
    plain = generate_module([finding(g)], name="x").module
    assert not plain.xperm_rules
    m = generate_module([finding(g)], name="x", xperms=True).module
    assert [rule_te(r) for r in m.rules] == [
        "allow qemu_t self:tcp_socket { ioctl read };",
        "allowxperm qemu_t self:tcp_socket ioctl { 0x5401 0x8910 0x8927-0x8928 };",
    ]
    assert parse_te(render_te(m)) == m
    compile_te(render_te(m), "x", tmp_path)
    # no ioctl permission in the finding -> no xperm rule even with commands seen
    m2 = generate_module([finding(g, perms=["read"])], name="x", xperms=True).module
    assert not m2.xperm_rules


def test_deterministic_whatever_the_input_order() -> None:
    fs = [finding(group(f"d{i % 3}_t", f"t{i}_t", "file", ["read", "write"][: 1 + i % 2], t0=float(i)))
          for i in range(12)]
    outputs = set()
    for seed in range(5):
        shuffled = fs[:]
        random.Random(seed).shuffle(shuffled)
        res = generate_module(shuffled, name="det")
        outputs.add((render_te(res.module), render_cil(res.module)))
    assert len(outputs) == 1


def test_invalid_module_name_or_version() -> None:
    with pytest.raises(InvalidIdentifier):
        generate_module([], name="bad name")
    with pytest.raises(InvalidIdentifier):
        generate_module([], name="ok", version="1.0; allow")


def test_injection_names_rejected_text_only_in_comments(tmp_path: Path) -> None:
    evil = 'x"; allow evil_t shadow_t:file *;\n}\nallow evil_t shadow_t:file read;\r#'
    fs = [
        finding(group(EUCA, "eucalyptus_var_lib_t", "file", ["read"], comm=evil, exe=evil, paths=[evil])),
        finding(group("evil_t", "shadow_t:file read;allow x", "file", ["read"])),
        finding(group("evil_t", "shadow_t", "file}", ["read"])),
        finding(group("evil}t", "shadow_t", "file", ["read"])),
        finding(group("evil}t", "shadow_t", "file", ["read"])),  # the same group again: reported once
        finding(group(EUCA, "eucalyptus_var_lib_t", "dir", ["search", "read;allow"])),
        finding(group(EUCA, "eucalyptus_var_lib_t", "dir", ["*"])),
    ]
    res = generate_module(fs, name="inject")
    text = render_te(res.module)
    assert allow_lines(text) == [
        f"allow {EUCA} eucalyptus_var_lib_t:dir search;",
        f"allow {EUCA} eucalyptus_var_lib_t:file read;",
    ]
    assert len(res.rejected) == 5
    assert {r.what.split(" ")[0] for r in res.rejected} == {"target", "class", "source", "permission"}
    # every statement line is one we expect; no log text outside comments
    statements = te_statement_lines(text)
    assert not any("shadow_t" in ln or "evil" in ln for ln in statements)
    # comments are single lines: the number of lines equals the statements + comments
    for line in text.splitlines():
        assert "\r" not in line
    # the parsed module grants exactly the two rules, and the real compiler agrees
    assert parse_te(text) == res.module
    assert [rule_te(r) for r in parse_te(text).rules] == allow_lines(text)
    compile_te(text, "inject", tmp_path)
    cil = render_cil(res.module)
    assert [ln for ln in cil.splitlines() if ln and not ln.startswith(";")] == [
        f"(allow {EUCA} eucalyptus_var_lib_t (dir (search)))",
        f"(allow {EUCA} eucalyptus_var_lib_t (file (read)))",
    ]


def test_injection_through_real_log_lines(tmp_path: Path) -> None:
    """Hex-encoded comm/name fields (as the kernel writes them) holding newlines,
    quotes and braces, and a context whose type is not an identifier."""
    comm = b'ev"; allow\n}'.hex().upper()
    name = b'/tmp/x\nallow evil_t shadow_t:file read;'.hex().upper()
    log = tmp_path / "audit.log"
    log.write_text(
        f"type=AVC msg=audit(1700000100.000:100): avc:  denied  {{ read }} for  pid=10 comm={comm} "
        f"name={name} dev=\"sda1\" ino=5 scontext=system_u:system_r:{EUCA}:s0 "
        "tcontext=system_u:object_r:eucalyptus_var_lib_t:s0 tclass=file permissive=0\n"
        "type=AVC msg=audit(1700000101.000:101): avc:  denied  { read } for  pid=11 comm=\"x\" "
        "name=\"y\" scontext=system_u:system_r:evil;allow_t:s0 "
        "tcontext=system_u:object_r:shadow}_t:s0 tclass=file permissive=0\n"
        "type=AVC msg=audit(1700000102.000:102): avc:  denied  { read } for  pid=12 comm=\"x\" "
        "name=\"y\" scontext=system_u:system_r:x..y_t:s0 "
        "tcontext=system_u:object_r:allow:s0 tclass=file permissive=0\n"
    )
    groups = groups_from_log(log)
    assert groups, "the audit layer found no denial in the crafted log"
    res = generate_module(no_policy_findings(groups), name="inject_log")
    text = render_te(res.module)
    assert allow_lines(text) == [f"allow {EUCA} eucalyptus_var_lib_t:file read;"]
    # names the audit layer lets through (they look like names) are refused here,
    # with their place in the log
    assert {r.what for r in res.rejected} >= {
        f"source type 'x..y_t' ({log}:3)", f"target type 'allow' ({log}:3)"}
    rule = res.module.av_rules[0]
    assert any("\\n" not in c and "ev\"; allow }" in c for c in rule.comments), rule.comments
    assert not any("shadow" in ln or "evil" in ln for ln in te_statement_lines(text))
    compile_te(text, "inject_log", tmp_path / "build")


def test_eucanetd_log_through_audit_layer(tmp_path: Path) -> None:
    groups = [g for g in groups_from_log(Path("fixtures/eucanetd/audit.log")) if g.source == EUCA]
    res = generate_module(no_policy_findings(groups), name="eucanetd_local")
    rules = [rule_te(r) for r in res.module.rules]
    assert f"allow {EUCA} eucalyptus_var_run_t:dir {{ add_name write }};" in rules
    assert f"allow {EUCA} unreserved_port_t:udp_socket name_bind;" in rules
    compile_te(render_te(res.module), "eucanetd_local", tmp_path)


def test_explain_engine_findings_from_real_log_lines(tmp_path: Path) -> None:
    """scan -> group_denials -> explain_groups(facts=None) -> module: what the
    engine says needs a module is in it, the rest is listed at the top."""
    engine = pytest.importorskip("avcfix.explain.engine")
    groups = groups_from_log(Path("fixtures/eucanetd/audit.log"))
    findings = engine.explain_groups(groups, facts=None)
    res = generate_module(findings, name="engine_local")
    wanted = [f for f in findings if f.needs_module]
    expected = generate_module([Finding(f.group, f.perms, Reason.NO_POLICY) for f in wanted],
                               name="engine_local").module
    assert [rule_te(r) for r in res.module.rules] == [rule_te(r) for r in expected.rules]
    assert len(res.left_out) == len(findings) - len(wanted)
    header = "\n".join(res.module.comments)
    for f in res.left_out:
        assert f"{f.group.source} {f.group.target}:{f.group.tclass}" in header
    compile_te(render_te(res.module), "engine_local", tmp_path)


def test_model_normalises_sets_and_ranges() -> None:
    """Values sort and deduplicate their sets; xperm ranges that touch are joined."""
    r = AvRule(RuleKind.ALLOW, NameSet.of("a_t"), NameSet.of("b_t"), NameSet.of("file"), NameSet.of("read", "read"))
    assert r.perms.names == ("read",)
    x = XpermRule("allowxperm", NameSet.of("a_t"), NameSet.of("self"), NameSet.of("tcp_socket"), "ioctl",
                  ((5, 7), (1, 2), (3, 3)))
    assert x.ranges == ((1, 3), (5, 7))
