"""The .te grammar: what it reads, round trips, opaque statements, syntax errors
(that a rendered module compiles: tests/integration/test_policy_te_parse_tools.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from policy_data import TE_DATA
from policy_strategies import modules

from avcfix.errors import PolicyError
from avcfix.policy.model import (
    AttributeDecl,
    ClassPerms,
    HeaderStyle,
    Module,
    Opaque,
    Require,
    RoleTypes,
    TypeAttribute,
    TypeDecl,
)
from avcfix.policy.render import render_te, rule_te
from avcfix.policy.te_parse import TeSyntaxError, parse_te

FULL = """\
# A hand-written module with a bit of everything.
module full 2.3;

require {
\ttype httpd_t, var_t;
\tattribute domain;
\trole system_r;
\tbool httpd_can_network_connect;
\tclass file { read write getattr };
\tclass tcp_socket name_connect;
}

type full_t;
type full_exec_t alias { old_exec_t older_exec_t }, file_type;
attribute full_domain;
typeattribute full_t domain, full_domain;
role system_r types { full_t };

# evidence for the next rule
allow full_t var_t:file { read getattr };   # trailing comment
allow { full_t httpd_t } { var_t self }:{ file } ~{ write };
dontaudit full_t domain:file *;
auditallow full_t var_t:file { read -getattr };
neverallow full_t { domain -httpd_t }:file write;
allowxperm full_t self:tcp_socket ioctl { 0x8910 0x8927-0x892a 35000 0010 };
dontauditxperm full_t self:tcp_socket ioctl ~0x5401;
type_transition full_t var_t:file full_exec_t "name;with#odd";
init_daemon_domain(full_t, full_exec_t)
ifdef(`distro_redhat',`
\tallow full_t var_t:file read; # (inside a macro)
')
optional_policy(`
\tapache_read_sys_content(full_t)
')
if (httpd_can_network_connect) {
\tallow httpd_t self:tcp_socket name_connect;
} else {
\tdontaudit httpd_t self:tcp_socket name_connect;
}
optional {
\trequire { type sshd_t; }
\tallow full_t sshd_t:process sigchld;
}
"""


def test_reads_every_supported_statement() -> None:
    m = parse_te(FULL, "full.te")
    assert (m.name, m.version, m.style) == ("full", "2.3", HeaderStyle.MODULE)
    assert m.require == Require(
        types=("httpd_t", "var_t"), attributes=("domain",), roles=("system_r",),
        bools=("httpd_can_network_connect",),
        classes=(ClassPerms("file", ("getattr", "read", "write")), ClassPerms("tcp_socket", ("name_connect",))),
    )
    decls = set(m.declarations)
    assert TypeDecl("full_t") in decls
    assert TypeDecl("full_exec_t", ("file_type",), ("old_exec_t", "older_exec_t")) in decls
    assert AttributeDecl("full_domain") in decls
    assert TypeAttribute("full_t", ("domain", "full_domain")) in decls
    assert RoleTypes("system_r", ("full_t",)) in decls
    rules = {rule_te(r) for r in m.rules}
    assert rules == {
        "allow full_t var_t:file { getattr read };",
        "allow { full_t httpd_t } { self var_t }:file ~write;",
        "dontaudit full_t domain:file *;",
        "auditallow full_t var_t:file { read -getattr };",
        "neverallow full_t { domain -httpd_t }:file write;",
        "allowxperm full_t self:tcp_socket ioctl { 0xa 0x88b8 0x8910 0x8927-0x892a };",
        "dontauditxperm full_t self:tcp_socket ioctl ~{ 0x5401 };",
    }
    texts = [op.text.splitlines()[0] for op in m.opaque]
    assert texts == [  # in file order, except calls on a domain with rules: in its section
        'type_transition full_t var_t:file full_exec_t "name;with#odd";',
        "ifdef(`distro_redhat',`",
        "optional_policy(`",
        "if (httpd_can_network_connect) {",
        "optional {",
        "init_daemon_domain(full_t, full_exec_t)",
    ]
    text = render_te(m)
    section = text[text.index("#============= full_t =============="):]
    assert "init_daemon_domain(full_t, full_exec_t)" in section
    first = [r for r in m.av_rules if rule_te(r) == "allow full_t var_t:file { getattr read };"][0]
    assert first.comments == ("evidence for the next rule", "trailing comment")
    assert m.comments == ("A hand-written module with a bit of everything.",)


def test_round_trip_of_full_example() -> None:
    m = parse_te(FULL, "full.te")
    text = render_te(m)
    assert parse_te(text) == m
    assert render_te(parse_te(text)) == text


def test_policy_module_header_and_headerless_files() -> None:
    m = parse_te("policy_module(myapp, 1.0.2)\n\ntype myapp_t;\n", "x.te")
    assert (m.name, m.version, m.style) == ("myapp", "1.0.2", HeaderStyle.POLICY_MODULE)
    assert render_te(m).startswith("policy_module(myapp, 1.0.2)\n")
    bare = parse_te("allow a_t b_t:file read;\n", "/some/dir/mylocal.te")
    assert (bare.name, bare.version) == ("mylocal", "1.0")
    assert parse_te("allow a_t b_t:file read;\n", "weird name!.txt").name == "local"


@pytest.mark.parametrize("path", sorted(TE_DATA.glob("*.te")), ids=lambda p: p.name)
def test_real_audit2allow_output_round_trips(path: Path) -> None:
    text = path.read_text()
    m = parse_te(text, str(path))
    assert m.rules or m.opaque
    assert parse_te(render_te(m)) == m
    # every allow line of the file is a rule of the module
    lines = {ln.strip() for ln in text.splitlines() if ln.startswith("allow ")}
    assert lines == {rule_te(r) for r in m.av_rules} | (lines - {rule_te(r) for r in m.av_rules} and set())


def test_audit2allow_analysis_comments_stay_with_their_rule() -> None:
    m = parse_te((TE_DATA / "a2a_multi.te").read_text(), "a2a_multi.te")
    rule = [r for r in m.av_rules if rule_te(r) == "allow ftpd_t httpd_sys_content_t:file getattr;"][0]
    assert rule.comments == ("!!!! This avc can be allowed using the boolean 'allow_ftpd_full_access'",)


def test_refpolicy_interface_calls_are_opaque() -> None:
    text = (TE_DATA / "a2a_refpolicy.te").read_text()
    m = parse_te(text, "a2a_refpolicy.te")
    # rendered like audit2allow -R: each call in its domain's section, after the rules
    assert te_lines(render_te(m)) == te_lines(text)
    assert m.style is HeaderStyle.POLICY_MODULE
    assert Opaque("apache_read_sys_content(ftpd_t)") in m.opaque
    assert Opaque("corenet_tcp_connect_reserved_port(smbd_t)") in m.opaque
    assert len(m.opaque) == 9


def te_lines(text: str) -> list[str]:
    """Statement and banner lines after the require block; blank lines and other comments left out."""
    body = text[text.index("}\n") + 2:]
    return [ln for ln in body.splitlines() if ln.strip() and (not ln.startswith("#") or ln.startswith("#="))]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "text,line,col,needle",
    [
        ("module x 1.0;\nallow a b:file { read write ;\n", 2, 29, "expected '}', found ';'"),
        ("module x 1.0;\nalow a b:file read;\n", 2, 1, "expected a statement"),
        ("module x 1.0;\nrequire {\n\ttype a;\n\tclas file read;\n}\n", 4, 2, "found 'clas'"),
        ("module x;\n", 1, 9, "expected version"),
        ("allow a b file read;\n", 1, 11, "expected ':'"),
        ("module x 1.0;\n\tallow a b:file read\ntype foo;\n", 3, 1, "expected ';'"),
        ("type a_t, ;\n", 1, 11, "expected identifier"),
        ("allowxperm a b:c ioctl { 0x1-zz };\n", 1, 30, "expected number"),
        ("allow a b:file ;\n", 1, 16, "expected a name"),
    ],
)
def test_syntax_errors_point_at_the_bad_token(text: str, line: int, col: int, needle: str) -> None:
    with pytest.raises(TeSyntaxError) as info:
        parse_te(text, "bad.te")
    err = info.value
    assert isinstance(err, PolicyError)
    assert (err.filename, err.line, err.col) == ("bad.te", line, col)
    assert needle in err.message
    shown, caret = err.caret.splitlines()
    assert shown.strip() == text.splitlines()[line - 1].strip()
    assert caret.index("^") == col - 1 + 4
    assert str(err).startswith(f"bad.te:{line}:{col}: ")


@pytest.mark.parametrize("text", [
    "\x00\x01", "}}}}", "allow", "(((", "module", "#" * 1000 + "\nx", "allow a b:c d;" * 3 + "{",
    "allow a b:c " + "~" * 3000 + "read;",
    "require { require { } }", "module x 1.0; module y 1.0;", "policy_module(x)", "allowxperm a b:c ioctl { };",
    "allowxperm a b:c ioctl { 0x10000 };", "allowxperm a b:c ioctl 99999999999999999999;",
])
def test_garbage_input_gives_a_syntax_error(text: str) -> None:
    with pytest.raises(TeSyntaxError):
        parse_te(text)


@pytest.mark.parametrize("text", ["f(" + "(" * 3000 + ")" * 3000 + ")", "if (x) " + "{" * 3000 + "}" * 3000])
def test_deep_nesting_is_one_opaque_statement_or_a_syntax_error(text: str) -> None:
    """Nesting 3,000 deep: pyparsing 3.0 (Debian 12) runs out of recursion and
    the parser reports a syntax error; pyparsing 3.1+ (Fedora, PyPI) parses it,
    and it is then one opaque statement kept to the byte, as a shallow
    ``f(((x)))`` is. Never a RecursionError or a statement made of part of it."""
    try:
        module = parse_te(text)
    except TeSyntaxError:
        return
    assert [o.text for o in module.opaque] == [text] and not module.rules and not module.declarations


# -------------------------------------------------------------- hypothesis

@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules)
def test_round_trip_property(m: Module) -> None:
    text = render_te(m)
    assert parse_te(text, "prop.te") == m
