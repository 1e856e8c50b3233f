"""merge_modules and `avcfix merge`: dedup, union, requires, idempotence, opaque statements
(what compiles after a merge: tests/integration/test_policy_merge_tools.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from policy_data import TE_DATA, load, perms_by_key
from policy_strategies import modules

from avcfix.cli import main
from avcfix.errors import UsageError
from avcfix.names.identifiers import InvalidIdentifier
from avcfix.policy.merge import bump_version, merge_modules, rule_changes
from avcfix.policy.model import Opaque
from avcfix.policy.render import render_te, rule_te
from avcfix.policy.te_parse import parse_te


def test_split_rules_of_one_file_are_joined() -> None:
    """audit2allow -M writes name_bind and name_connect on separate lines (one per
    explanation); merging folds them into one rule."""
    m = load("a2a_multi.te")
    lines = [rule_te(r) for r in merge_modules([m]).av_rules]
    assert "allow httpd_t reserved_port_t:tcp_socket { name_bind name_connect };" in lines
    assert not any(line.startswith("allow httpd_t reserved_port_t:tcp_socket name_") for line in lines)


@pytest.mark.parametrize("name", sorted(p.name for p in TE_DATA.glob("*.te")))
def test_merge_is_idempotent(name: str) -> None:
    m = load(name)
    once = merge_modules([m])
    assert merge_modules([m, m]) == once
    assert merge_modules([once]) == once
    assert merge_modules([once, once, once]) == once


def test_merging_a_clean_module_with_itself_changes_nothing() -> None:
    m = load("a2a_short.te")  # one rule per key already, requires exact
    assert merge_modules([m, m]) == m
    assert render_te(merge_modules([m, m])) == render_te(m)


def test_requires_kept_for_names_used_by_opaque_blocks() -> None:
    text = """module keep 1.0;
require {
\ttype unused_t;
\ttype inner_t;
\ttype a_t;
\tclass file { read write };
\tclass dir search;
}
allow a_t self:file read;
ifdef(`distro_debian',`
\tallow a_t inner_t:dir search;
')
"""
    merged = merge_modules([parse_te(text, "keep.te")])
    assert merged.require.types == ("a_t", "inner_t")
    assert [(c.name, c.perms) for c in merged.require.classes] == [("dir", ("search",)), ("file", ("read",))]


def test_name_version_and_errors() -> None:
    m = load("a2a_short.te")
    assert merge_modules([m], name="other", version="3.1").name == "other"
    with pytest.raises(UsageError):
        merge_modules([])
    with pytest.raises(InvalidIdentifier):
        merge_modules([m], name="bad name")


def test_rule_changes_and_bump_version() -> None:
    a = parse_te("module v 1.0;\nallow a_t b_t:file read;\n")
    b = merge_modules([a, parse_te("module v 1.0;\nallow a_t b_t:file write;\nallow a_t c_t:dir search;\n")])
    ch = rule_changes(a, b)
    assert ch.added == ("allow a_t b_t:file { read write };", "allow a_t c_t:dir search;")
    assert ch.removed == ("allow a_t b_t:file read;",)
    assert ch.changed and not rule_changes(b, b).changed
    assert [bump_version(v) for v in ("1.0", "1.9", "2", "1.2.3")] == ["1.1", "1.10", "2.1", "1.2.4"]


def test_complement_and_star_rules_merge_only_with_identical_ones() -> None:
    a = parse_te("allow a_t b_t:file ~{ write };\nallow a_t b_t:file read;\n")
    b = parse_te("allow a_t b_t:file ~{ write };\nallow a_t b_t:file *;\n")
    merged = merge_modules([a, b])
    assert sorted(rule_te(r) for r in merged.rules) == [
        "allow a_t b_t:file *;", "allow a_t b_t:file read;", "allow a_t b_t:file ~write;"]


# ---------------------------------------------------------------- CLI


def test_cli_merge_to_stdout_and_cil(tmp_path: Path, capsys) -> None:
    f = str(TE_DATA / "a2a_short.te")
    assert main(["merge", f]) == 0
    assert capsys.readouterr().out == render_te(load("a2a_short.te"))
    assert main(["merge", f, "--cil"]) == 0
    assert "(allow staff_t sysctl_fs_t (file (read)))" in capsys.readouterr().out


def test_cli_merge_reads_stdin(monkeypatch, capsys) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("allow a_t b_t:file read;\nallow a_t b_t:file write;\n"))
    assert main(["merge", "-", "--name", "mylocal"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("module mylocal 1.0;\n")
    assert "allow a_t b_t:file { read write };" in out and "class file { read write };" in out


def test_cli_merge_errors(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.te"
    bad.write_text("module bad 1.0;\nallow a_t b_t:file { read ;\n")
    assert main(["merge", str(bad)]) == 5
    err = capsys.readouterr().err
    assert "bad.te:2:27: expected '}', found ';'\n    allow a_t b_t:file { read ;\n" in err
    assert err.splitlines()[-1] == " " * (4 + 26) + "^"
    markup = tmp_path / "markup.te"
    markup.write_text("allow a_t b_t:file [/bold];\n")  # input text is never rich markup
    assert main(["merge", str(markup)]) == 5
    assert "found '['" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "missing.te")]) == 3
    assert main(["merge", str(tmp_path)]) == 3
    # bad option values are usage errors (exit 2), found before any file is read
    for bad_option in (["--name", "x;y"], ["--name", "gen_require"], ["--name", "manage_file_perms"],
                       ["--version", "1.x"], ["--version", "1;"], ["-o", str(tmp_path / "a;b.te")],
                       ["-o", str(tmp_path / "dnl.te")], ["-o", str(tmp_path / "x y.cil"), "--cil"]):
        assert main(["merge", str(TE_DATA / "a2a_short.te"), *bad_option]) == 2, bad_option
        err = capsys.readouterr().err
        assert "not a valid module name" in err or "not a module version" in err, err
    assert not list(tmp_path.glob("*;*")) and not (tmp_path / "dnl.te").exists()
    assert main(["merge", str(TE_DATA / "a2a_short.te"), "-o", str(tmp_path / "ok_local.te")]) == 0
    assert main(["merge", str(TE_DATA / "a2a_short.te"), "--json"]) == 2
    assert main(["merge", str(TE_DATA / "a2a_refpolicy.te"), "--cil"]) == 5  # interface calls: no CIL
    assert "CIL output cannot include them" in capsys.readouterr().err


def test_opaque_comments_and_order_preserved() -> None:
    a = parse_te("policy_module(o, 1.0)\n# first call\nfoo_call(a_t)\nbar_call(a_t)\n")
    b = parse_te("policy_module(o, 1.0)\nbaz_call(a_t)\n# again\nfoo_call(a_t)\n")
    merged = merge_modules([a, b])
    assert [op.text for op in merged.opaque] == ["foo_call(a_t)", "bar_call(a_t)", "baz_call(a_t)"]
    assert merged.opaque[0] == Opaque("foo_call(a_t)", ("first call", "again"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules, modules)
def test_merge_properties(a, b) -> None:
    """Idempotent, order-insensitive in its rules, and never loses a permission."""
    once = merge_modules([a, b])
    assert merge_modules([once, once]) == once
    assert merge_modules([once, a]).rules == once.rules
    assert {rule_te(r) for r in merge_modules([b, a]).rules} == {rule_te(r) for r in once.rules}
    assert parse_te(render_te(once)) == once
    for key, perms in perms_by_key([a, b]).items():
        if None not in key[1:]:
            assert perms <= perms_by_key([once])[key] | {"*"}
