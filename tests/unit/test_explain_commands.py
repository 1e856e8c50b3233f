"""Fix commands are shell-safe; risk flags are data with one reason each (what a real
shell makes of the commands: tests/integration/test_explain_commands_tools.py)."""

from __future__ import annotations

import re
import shlex

import pytest
from hostile_paths import HOSTILE
from hypothesis import given, settings
from hypothesis import strategies as st

from avcfix.explain import commands
from avcfix.explain.constraint import constraint_differs
from avcfix.explain.risks import RISKS, risks_for


@pytest.mark.parametrize("path", [p for p in HOSTILE if "\t" not in p])
def test_fcontext_regex_matches_only_the_path(path):
    cmd = commands.semanage_fcontext("eucalyptus_var_lib_t", path, tree=False)
    words = shlex.split(cmd)
    assert words[:5] == ["semanage", "fcontext", "-a", "-t", "eucalyptus_var_lib_t"]
    regex = words[5]
    assert re.fullmatch(regex, path) and not re.fullmatch(regex, path + "x")
    assert words[6:] == ["&&", "restorecon", "-v", path]


def test_fcontext_tree_regex():
    cmd = commands.semanage_fcontext("var_lib_t", "/srv/my.app/", tree=True)
    assert cmd == "semanage fcontext -a -t var_lib_t '/srv/my\\.app(/.*)?' && restorecon -Rv /srv/my.app"


@pytest.mark.parametrize("bad", ["", "relative/x", "/a\nb", "/a\x00b", "/a\u2028b"])
def test_unsafe_paths_give_no_command(bad):
    assert commands.restorecon(bad) is None
    assert commands.semanage_fcontext("var_t", bad, tree=False) is None


@pytest.mark.parametrize("bad", ["/var/www/../..", "/var/www/..", "/srv/./x", "/../etc/shadow", "/a/b/../../../"])
def test_dot_segments_give_no_command(bad):
    # a log's path is attacker text: /var/www/../.. with tclass=dir was advice for restorecon -Rv /
    assert commands.safe_path(bad) is None
    assert commands.restorecon(bad, recursive=True) is None
    assert commands.semanage_fcontext("var_t", bad, tree=True) is None


@pytest.mark.parametrize("top", ["/", "/usr", "/var/", "//etc", "/var/lib", "/home"])
def test_system_trees_are_never_relabelled_recursively(top):
    assert commands.restorecon(top, recursive=True) == f"restorecon -v {top}"
    assert commands.semanage_fcontext("var_t", top, tree=True) is None
    assert commands.semanage_fcontext("var_t", "/var/lib/app", tree=True) is not None


def test_loop_refuses_recursive_or_dotted_restorecon_text():
    from avcfix.explain.fixes import _restorecon
    assert _restorecon("restorecon -Rv /usr", [["restorecon", "-Rv", "/usr"]]) is None
    # the recursion of avcfix's own -Rv advice is kept (it used to be dropped)
    fix = _restorecon("restorecon -Rv /srv/site", [["restorecon", "-Rv", "/srv/site"]])
    assert fix is not None and fix.argv == (("restorecon", "-R", "-v", "--", "/srv/site"),)
    assert _restorecon("restorecon -Rvx /srv/site", [["restorecon", "-Rvx", "/srv/site"]]) is None
    assert _restorecon("restorecon -R -v /usr", [["restorecon", "-R", "-v", "/usr"]]) is None
    assert _restorecon("restorecon -v /a/../b", [["restorecon", "-v", "/a/../b"]]) is None
    fix = _restorecon("restorecon -R -v /var/lib/app", [["restorecon", "-R", "-v", "/var/lib/app"]])
    assert fix is not None and fix.argv == (("restorecon", "-R", "-v", "--", "/var/lib/app"),)


def test_identifiers_are_checked():
    assert commands.allow_rule("a_t", "b_t", "file", ["read"]) == "allow a_t b_t:file read;"
    assert commands.allow_rule("a_t", "a_t", "file", ["write", "read"]) == "allow a_t a_t:file { read write };"
    assert commands.allow_rule("a_t; allow x_t", "b_t", "file", ["read"]) is None
    assert commands.allow_rule("a_t", "b_t", "file", ["read }"]) is None
    assert commands.setsebool([("httpd_x", True)]) == "setsebool -P httpd_x on"
    assert commands.setsebool([("a", True), ("b", False)]) == "setsebool -P a=on b=off"
    assert commands.setsebool([("x; reboot", True)]) is None
    assert commands.semanage_port("http_port_t", "tcp", 8080) == "semanage port -a -t http_port_t -p tcp 8080"
    assert commands.semanage_port("http_port_t", "tcp", 70000) is None
    assert commands.semanage_port("http_port_t", "tcp;", 80) is None
    assert commands.semanage_port("$(x)", "tcp", 80) is None


def test_every_risk_has_a_one_line_reason_and_unique_name():
    names = [r.name for r in RISKS]
    assert len(names) == len(set(names))
    for r in RISKS:
        assert r.reason and "\n" not in r.reason and r.perms


@pytest.mark.parametrize(("target", "tclass", "perms", "flag"), [
    ("shadow_t", "file", ("write",), "write shadow_t"),
    ("etc_t", "dir", ("add_name", "write"), "write etc_t"),
    ("bin_t", "file", ("create",), "write bin_t"),
    ("lib_t", "file", ("append",), "write lib_t"),
    ("x_t", "process", ("execmem",), "execmem"),
    ("x_t", "process", ("execstack",), "execstack"),
    ("x_t", "process", ("execheap",), "execheap"),
    ("lib_t", "file", ("execmod",), "execmod"),
    ("x_t", "capability", ("sys_admin",), "sys_admin"),
    ("x_t", "capability", ("sys_module",), "sys_module"),
    ("x_t", "capability", ("sys_ptrace",), "sys_ptrace"),
    ("x_t", "capability", ("dac_override",), "dac_override"),
    ("security_t", "security", ("load_policy",), "load_policy"),
    ("security_t", "security", ("setenforce",), "setenforce"),
    ("unconfined_t", "process", ("transition",), "unconfined transition"),
])
def test_risk_flags(target, tclass, perms, flag):
    got = risks_for(target, tclass, perms, lambda t: t == "unconfined_t")
    assert any(r.startswith(flag + ":") for r in got), got


@pytest.mark.parametrize(("target", "tclass", "perms"), [
    ("shadow_t", "file", ("read",)),
    ("etc_t", "file", ("read", "open")),
    ("httpd_t", "process", ("transition",)),
    ("x_t", "capability", ("chown",)),
])
def test_no_risk_flags(target, tclass, perms):
    assert risks_for(target, tclass, perms, lambda t: t == "unconfined_t") == ()


def test_constraint_differs():
    text = "constrain file { create } ((u1 == u2 -Fail-)  or (t1 == can_change_object_identity -Fail-) );"
    assert constraint_differs(text, "user_u:user_r:user_t:s0", "system_u:object_r:user_home_t:s0") == ("user",)
    text = ("constrain process { transition } ((r1 == r2 -Fail-)  or (t1 == can_change_process_role -Fail-) "
            "and (r2 == system_r) );")
    assert constraint_differs(text, "root:staff_r:a_t:s0", "root:system_r:b_t:s0") == ("role",)
    text = "mlsconstrain file { read } ((l1 dom l2 -Fail-) );"
    assert constraint_differs(text, "u:r:a_t:s0", "u:object_r:b_t:s0:c1") == ("level",)


_PATH_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029\x85"),
                     min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(_PATH_TEXT | st.sampled_from([".", "..", "a/..", "./b", "a/./b"]))
def test_any_printable_path_stays_one_word(tail):
    path = "/srv/" + tail
    cmd = commands.restorecon(path)
    if any(seg in (".", "..") for seg in path.split("/")):
        assert cmd is None and commands.semanage_fcontext("var_t", path, tree=False) is None
        return
    assert cmd is not None
    assert shlex.split(cmd) == ["restorecon", "-v", path]
    fc = commands.semanage_fcontext("var_t", path, tree=False)
    words = shlex.split(fc)
    assert words[:5] == ["semanage", "fcontext", "-a", "-t", "var_t"]
    assert words[6:] == ["&&", "restorecon", "-v", path.rstrip("/") or "/"]
    assert re.fullmatch(words[5], path.rstrip("/") or "/")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_rules_only_from_identifiers(source, perm):
    rule = commands.allow_rule(source, "etc_t", "file", [perm])
    if rule is not None:
        assert rule == f"allow {source} etc_t:file {perm};"
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-.]*", source) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-.]*", perm)
