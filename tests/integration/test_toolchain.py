"""The toolchain wrappers run the real checkmodule, semodule_package, semodule and setools."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from avcfix import proc
from avcfix.errors import CompileError, ExitCode, InstallError, PolicyError, UsageError
from avcfix.index.setools_target import Names, TargetPolicy, policy_is_mls
from avcfix.toolchain import semodule
from avcfix.toolchain.compile import Diagnostic, ModuleCompileError, checkmodule_argv, compile_module
from avcfix.toolchain.store import PolicyRoot, copy_root
from avcfix.toolchain.verify import AllowRule, IoctlRule, missing_ioctls, missing_rules

#: A tiny non-MLS policy, compiled by the real checkpolicy in a fixture.
MINI_POLICY = """\
class file
class process
sid kernel
class file { read write open getattr ioctl }
class process { transition }
type sys_t;
type data_t;
attribute domain;
typeattribute sys_t domain;
allow domain data_t:file { read getattr };
allow sys_t self:process transition;
allow sys_t data_t:file ioctl;
allowxperm domain data_t:file ioctl { 0x8910 0x8927-0x8929 };
bool off_bool false;
bool on_bool true;
if (off_bool) { allow sys_t data_t:file write; } else { allow sys_t data_t:file open; }
if (on_bool) { allow data_t data_t:file getattr; }
role sys_r;
role sys_r types sys_t;
user sys_u roles { sys_r };
sid kernel sys_u:sys_r:sys_t
"""

GOOD_TE = """\
module goodmod 1.0;

require {
\ttype httpd_t;
\ttype httpd_log_t;
\tclass file { read open };
}

allow httpd_t httpd_log_t:file { read open };
"""


@pytest.fixture(scope="module")
def mini_policy(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("mini")
    (d / "mini.conf").write_text(MINI_POLICY)
    cp = subprocess.run(["checkpolicy", "-o", str(d / "policy.33"), str(d / "mini.conf")],
                        capture_output=True, text=True, check=False)
    assert cp.returncode == 0, cp.stderr
    return d / "policy.33"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- MLS detection and checkmodule argv ---------------------------------------------------

def test_mls_is_read_from_the_policy_file(ref_policy, mini_policy):
    assert policy_is_mls(ref_policy) is True
    assert policy_is_mls(mini_policy) is False


def test_checkmodule_gets_dash_M_only_for_an_mls_target(tmp_path):
    te, mod = tmp_path / "m.te", tmp_path / "m.mod"
    assert checkmodule_argv(te, mod, mls=True) == ["checkmodule", "-M", "-m", "-o", str(mod), str(te)]
    assert checkmodule_argv(te, mod, mls=False) == ["checkmodule", "-m", "-o", str(mod), str(te)]


def test_unreadable_policy_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError):
        TargetPolicy(tmp_path / "nope.33")
    bogus = _write(tmp_path / "policy.33", "not a policy\n")
    with pytest.raises(PolicyError) as ei:
        TargetPolicy(bogus)
    assert ei.value.exit_code is ExitCode.POLICY


# -- compile ------------------------------------------------------------------------------

def test_compile_produces_a_package_and_keeps_the_previous_one(tmp_path):
    te = _write(tmp_path / "goodmod.te", GOOD_TE)
    rec = proc.Recorder()
    first = compile_module(te, mls=True, record=rec)
    assert first.pp_path == tmp_path / "goodmod.pp" and first.pp_path.stat().st_size > 0
    assert first.previous is None
    assert [r.argv[0] for r in rec.results] == ["checkmodule", "semodule_package"]
    assert "-M" in rec.results[0].argv
    old = first.pp_path.read_bytes()
    second = compile_module(te, mls=True)
    assert second.previous == tmp_path / "goodmod.pp.prev"
    assert second.previous.read_bytes() == old
    # the private work directory is gone; only the module's files remain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["goodmod.pp", "goodmod.pp.prev", "goodmod.te"]
    # the package really is a policy package: the pp->CIL converter reads it back
    if semodule.PP_TO_CIL.exists():
        r = proc.run([str(semodule.PP_TO_CIL), str(first.pp_path), "-"])
        assert "(allow httpd_t httpd_log_t (file (read open)))" in r.stdout


def test_a_compile_error_is_shown_next_to_its_te_line(tmp_path):
    te = _write(tmp_path / "badmod.te", GOOD_TE.replace("goodmod", "badmod")
                + "allow httpd_t httpd_log_t:file { read opne };\nallow httpd_t nosuch_log_t:file read;\n")
    with pytest.raises(CompileError) as ei:
        compile_module(te, mls=True)
    err = ei.value
    assert isinstance(err, ModuleCompileError) and err.exit_code is ExitCode.COMPILE
    diags = err.diagnostics
    assert [(d.line, d.message) for d in diags] == [
        (10, "permission opne is not defined for class file"),
        (11, "unknown type nosuch_log_t"),
    ]
    text = str(err)
    assert "   10 | allow httpd_t httpd_log_t:file { read opne };" in text
    # the caret sits under the culprit, not under the ';' checkmodule stopped at
    lines = text.splitlines()
    at = lines.index("   11 | allow httpd_t nosuch_log_t:file read;")
    assert lines[at + 1] == " " * lines[at].index("nosuch_log_t") + "^" * len("nosuch_log_t")
    # nothing was left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["badmod.te"]


def test_a_module_named_differently_from_its_file_is_explained(tmp_path):
    te = _write(tmp_path / "other.te", GOOD_TE)
    with pytest.raises(CompileError) as ei:
        compile_module(te, mls=True)
    assert "named goodmod but the file is other.te" in str(ei.value)


def test_diagnostic_without_a_source_line_renders_its_message():
    assert Diagnostic("x.te", 3, "syntax error").render() == "x.te:3: syntax error"


# -- semodule argv and listing -------------------------------------------------------------

def test_semodule_argv_for_an_alternate_root(tmp_path):
    root = PolicyRoot(tmp_path, "default")
    pp = tmp_path / "m.pp"
    assert semodule.install_argv(root, pp) == ["semodule", "-p", str(tmp_path), "-s", "default", "-i", str(pp)]
    assert semodule.install_argv(root, pp, priority=350) == [
        "semodule", "-p", str(tmp_path), "-s", "default", "-X", "350", "-i", str(pp)]
    assert semodule.remove_argv(root, "m", priority=200) == [
        "semodule", "-p", str(tmp_path), "-s", "default", "-X", "200", "-r", "m"]
    assert semodule.list_argv(root) == ["semodule", "-p", str(tmp_path), "-s", "default", "--list-modules=full"]
    host = PolicyRoot(Path("/"), "default")
    assert semodule.install_argv(host, pp) == ["semodule", "-i", str(pp)]
    with pytest.raises(UsageError):
        semodule.install_argv(root, pp, priority=0)
    with pytest.raises(UsageError):
        semodule.install_argv(root, pp, priority=1000)


def test_parse_list_sorts_and_reads_priorities():
    text = "400 zeta            pp         \n100 alpha           pp          disabled\n200 zeta cil\n\nbogus\n"
    mods = semodule.parse_list(text)
    assert [(m.name, m.priority, m.kind, m.disabled) for m in mods] == [
        ("alpha", 100, "pp", True), ("zeta", 200, "cil", False), ("zeta", 400, "pp", False)]


def test_list_modules_of_a_store_copy(pristine_root):
    mods = semodule.list_modules(pristine_root)
    names = {m.name for m in mods}
    assert {"base", "apache"} <= names
    assert all(1 <= m.priority <= 999 for m in mods)


def test_install_of_a_wrong_suffix_is_refused(tmp_path):
    with pytest.raises(UsageError):
        semodule.install(PolicyRoot(tmp_path), tmp_path / "m.te")


# -- verify ---------------------------------------------------------------------------------

def test_missing_rules_against_a_small_policy(mini_policy):
    missing = missing_rules(mini_policy, [
        AllowRule("sys_t", "data_t", "file", ("getattr", "read", "write")),  # via attribute domain
        AllowRule("sys_t", "self", "process", ("transition",)),
        AllowRule("sys_t", "sys_t", "process", ("transition",)),
        AllowRule("data_t", "data_t", "file", ("getattr", "read")),  # getattr: enabled by on_bool
        AllowRule("sys_t", "data_t", "file", ("open",)),  # the else branch of off_bool
    ])
    # write is only allowed under off_bool, which the policy sets false
    assert [str(r) for r in missing] == [
        "allow data_t data_t:file read;",
        "allow sys_t data_t:file write;",
    ]


def test_missing_ioctls_against_a_small_policy(mini_policy):
    missing = missing_ioctls(mini_policy, [
        IoctlRule("sys_t", "data_t", "file", (0x8910, 0x8928, 0x892A)),  # via attribute domain
        IoctlRule("data_t", "data_t", "file", (0x8910,)),
    ])
    assert [str(r) for r in missing] == [
        "allowxperm data_t data_t:file ioctl { 0x8910 };",
        "allowxperm sys_t data_t:file ioctl { 0x892a };",
    ]


def test_missing_rules_against_the_reference_policy(ref_policy):
    pol = TargetPolicy(ref_policy)
    missing = missing_rules(pol, [
        AllowRule("httpd_t", "httpd_log_t", "file", ("append", "read", "write")),
        AllowRule("httpd_t", "self", "tcp_socket", ("accept", "listen")),
    ])
    assert [str(r) for r in missing] == ["allow httpd_t httpd_log_t:file write;"]


def test_target_policy_names_what_it_lacks(mini_policy):
    pol = TargetPolicy(mini_policy)
    lacking = pol.missing(Names(types=("sys_t", "self", "gone_t"), attributes=("domain", "nope"),
                                classes=("file", "dir"), roles=("sys_r",)))
    assert lacking == Names(types=("gone_t",), attributes=("nope",), classes=("dir",))
    assert lacking.describe() == "type gone_t, attribute nope, class dir"
    assert not pol.missing(Names(types=("data_t",)))
    assert pol.missing_permissions([("file", ("read", "ioctl", "map")), ("dir", ("search",)),
                                    ("process", ("transition",))]) == (("file", ("map",)),)
    assert pol.defines("write") and pol.defines("domain") and not pol.defines("gone_t")


# -- install into a private store ----------------------------------------------------------

@pytest.mark.slow
def test_a_type_the_policy_lacks_is_named_when_semodule_fails(store_root, tmp_path):
    """semodule's "Failed to resolve ... cil:LINE" becomes the name of the type (.pp and .cil)."""
    te = _write(tmp_path / "lackmod.te", GOOD_TE.replace("goodmod", "lackmod")
                .replace("httpd_log_t", "ghost_log_t"))
    pp = compile_module(te, mls=True).pp_path
    with pytest.raises(InstallError) as ei:
        semodule.install(store_root, pp)
    msg = str(ei.value)
    assert ei.value.exit_code is ExitCode.INSTALL
    assert "does not define ghost_log_t" in msg
    assert "cil:" not in msg and "Failed to resolve" not in msg
    assert "lackmod" not in {m.name for m in semodule.list_modules(store_root)}

    cil = _write(tmp_path / "lackcil.cil", "(allow httpd_t phantom_t (file (read open)))\n")
    with pytest.raises(InstallError) as ei:
        semodule.install(store_root, cil)
    assert "does not define phantom_t" in str(ei.value)


def test_explain_failure_names_the_unknown_type_from_the_cil_line(tmp_path, ref_policy):
    """The same translation without running semodule: its message and the module's CIL line."""
    cil = _write(tmp_path / "lackcil.cil", "(typeattributeset cil_gen_require httpd_t)\n"
                 "(allow httpd_t phantom_t (file (read open)))\n")
    stderr = ("Failed to resolve allow statement at /r/var/lib/selinux/default/tmp/modules/400/lackcil/cil:2\n"
              "Failed to resolve AST\nsemodule:  Failed!\n")
    msg = semodule.explain_failure(stderr, cil, known=TargetPolicy(ref_policy).defines)
    assert msg.startswith("the target policy does not define phantom_t")
    assert "(allow httpd_t phantom_t (file (read open)))" in msg
    assert semodule.explain_failure(stderr, cil).startswith("semodule could not resolve this statement")
    assert semodule.explain_failure("other failure\n", cil) == "other failure"


@pytest.mark.slow
def test_install_verify_rollback_remove_in_a_store_copy(euca_root, tmp_path):
    root = copy_root(euca_root, tmp_path / "root")
    te = _write(tmp_path / "eucatest.te", """\
module eucatest 1.0;

require {
\ttype eucalyptus_eucanetd_t;
\ttype eucalyptus_var_lib_t;
\tclass dir { search getattr };
}

allow eucalyptus_eucanetd_t eucalyptus_var_lib_t:dir search;
""")
    rule1 = AllowRule("eucalyptus_eucanetd_t", "eucalyptus_var_lib_t", "dir", ("search",))
    rule2 = AllowRule("eucalyptus_eucanetd_t", "eucalyptus_var_lib_t", "dir", ("getattr",))
    both = AllowRule("eucalyptus_eucanetd_t", "eucalyptus_var_lib_t", "dir", ("getattr", "search"))
    assert missing_rules(root.policy_file, [rule1, rule2]) == (both,)  # not granted yet

    # compile 1.0, then 1.1 (which adds getattr): 1.0 is kept as eucatest.pp.prev
    compile_module(te, mls=True)
    te.write_text(te.read_text().replace("1.0;", "1.1;").replace("dir search;", "dir { getattr search };"))
    second = compile_module(te, mls=True)
    rec = proc.Recorder()
    semodule.install(root, second.pp_path, priority=350, record=rec)
    assert rec.results[0].argv[:7] == ("semodule", "-p", str(root.root), "-s", "default", "-X", "350")
    assert (350, "eucatest") in {(m.priority, m.name) for m in semodule.list_modules(root)}
    assert missing_rules(root.policy_file, [rule1, rule2]) == ()

    # rolling back reinstalls 1.0 from eucatest.pp.prev
    semodule.rollback(root, "eucatest", second.previous, priority=350)
    assert missing_rules(root.policy_file, [rule1, rule2]) == (rule2,)

    # no previous package: rollback removes the module
    semodule.rollback(root, "eucatest", None, priority=350)
    assert "eucatest" not in {m.name for m in semodule.list_modules(root)}
    assert missing_rules(root.policy_file, [rule1]) == (rule1,)
    with pytest.raises(InstallError):
        semodule.remove(root, "eucatest", priority=350)


def test_is_installed_compares_the_stored_package_bytes(pristine_root, tmp_path):
    assert semodule.extract_argv(pristine_root, "apache", priority=100) == [
        "semodule", "-p", str(pristine_root.root), "-s", "default", "-X", "100", "-E", "apache"]
    assert semodule.extract_argv(pristine_root, "apache")[-4:] == ["-X", "400", "-E", "apache"]
    # take the stored apache package out (read only), then ask about it
    r = proc.run(semodule.extract_argv(pristine_root, "apache", priority=100), cwd=tmp_path)
    assert r.ok, r.stderr
    pp = tmp_path / "apache.pp"
    assert semodule.is_installed(pristine_root, pp, priority=100)
    assert not semodule.is_installed(pristine_root, pp, priority=400)  # not at that priority
    pp.write_bytes(pp.read_bytes() + b"\0")
    assert not semodule.is_installed(pristine_root, pp, priority=100)  # different bytes
    other = tmp_path / "notthere.pp"
    other.write_bytes(b"x")
    assert not semodule.is_installed(pristine_root, other, priority=100)
