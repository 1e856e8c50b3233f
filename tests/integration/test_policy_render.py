"""Rendering: CIL equals libsepol's own translation of the compiled .te, what
CIL cannot express is refused, comments can never end early."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from policy_data import TE_DATA, cil_rule_lines
from policy_helpers import compile_te, pp_to_cil

from avcfix.policy.model import AvRule, Module, NameSet, Opaque, RuleKind, clean_comment
from avcfix.policy.render import NotRepresentable, render_cil, render_te
from avcfix.policy.te_parse import parse_te

DECLS = """module decl_test 1.0;
require {
\ttype var_t;
\tattribute domain;
\trole system_r;
\tclass file { read write ioctl };
\tclass tcp_socket { ioctl };
}
type decl_test_t;
type decl_alias_t alias { decl_old_t }, domain;
attribute decl_attr;
typeattribute decl_test_t decl_attr, domain;
role system_r types decl_test_t;
allow decl_test_t var_t:file { read write };
allow { decl_test_t decl_alias_t } { var_t self }:{ file tcp_socket } ioctl;
dontaudit decl_test_t var_t:file write;
auditallow decl_test_t var_t:file read;
allowxperm decl_test_t self:tcp_socket ioctl { 0x8910 0x8927-0x892a };
"""


def split_attribute_sets(lines: set[str]) -> set[str]:
    """``(typeattributeset a (x y))`` -> one line per member (both forms mean the same)."""
    out = set()
    for line in lines:
        m = re.fullmatch(r"\(typeattributeset (\S+) \((.*)\)\)", line)
        if m:
            out.update(f"(typeattributeset {m.group(1)} ({t}))" for t in m.group(2).split())
        else:
            out.add(line)
    return out


def test_cil_equals_libsepol_translation(tmp_path: Path) -> None:
    m = parse_te(DECLS, "decl_test.te")
    pp = compile_te(render_te(m), "decl_test", tmp_path)
    ours = split_attribute_sets(cil_rule_lines(render_cil(m)))
    theirs = split_attribute_sets(cil_rule_lines(pp_to_cil(pp)))
    # libsepol also states the role requirement as an attribute; ours needs none
    theirs.discard("(roleattributeset cil_gen_require system_r)")
    assert ours == theirs


@pytest.mark.parametrize("path", sorted(TE_DATA.glob("a2a_*.te")), ids=lambda p: p.name)
def test_cil_of_real_audit2allow_modules(path: Path, tmp_path: Path) -> None:
    m = parse_te(path.read_text(), str(path))
    if m.opaque:
        with pytest.raises(NotRepresentable):
            render_cil(m)
        return
    pp = compile_te(render_te(m), m.name, tmp_path)
    assert cil_rule_lines(render_cil(m)) == cil_rule_lines(pp_to_cil(pp))


def test_cil_refuses_what_it_cannot_express() -> None:
    with pytest.raises(NotRepresentable):
        render_cil(Module("x", opaque=(Opaque("init_daemon_domain(a_t, b_t)"),)))
    r = AvRule(RuleKind.ALLOW, NameSet(("a_t",), complement=True), NameSet.of("b_t"), NameSet.of("file"),
               NameSet.of("read"))
    with pytest.raises(NotRepresentable):
        render_cil(Module("x", rules=(r,)))


def test_comments_cannot_break_out() -> None:
    nasty = "a\nallow x y:file read;\r\x00\x1b[31m\u2028allow z w:file *;\x85}"
    assert "\n" not in clean_comment(nasty) and "\x1b" not in clean_comment(nasty)
    r = AvRule(RuleKind.ALLOW, NameSet.of("a_t"), NameSet.of("b_t"), NameSet.of("file"), NameSet.of("read"),
               comments=(nasty,))
    m = Module("x", rules=(r,), comments=(nasty,))
    for text, mark in ((render_te(m), "#"), (render_cil(m), ";")):
        for line in text.splitlines():
            assert not line or line.startswith(mark) or "x y" not in line and "z w" not in line
    assert [str(rule.perms) for rule in parse_te(render_te(m)).rules] == ["read"]


def test_rendering_is_deterministic_across_construction_order() -> None:
    rules = [AvRule(RuleKind.ALLOW, NameSet.of(f"d{i % 2}_t"), NameSet.of(f"t{i}_t"), NameSet.of("file"),
                    NameSet(("write", "read")[: 1 + i % 2])) for i in range(6)]
    a = Module("x", rules=tuple(rules))
    b = Module("x", rules=tuple(reversed(rules)))
    assert a == b and render_te(a) == render_te(b) and render_cil(a) == render_cil(b)
