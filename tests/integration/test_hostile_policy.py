"""Log names that m4, checkpolicy or CIL would read as something else never reach policy.

Checked with the real tools: the devel Makefile's m4 run (the same command
line, the same headers), checkmodule, and libsepol's .pp-to-CIL converter
reading the compiled package back: what a module grants is what the .pp says,
not what its .te text looks like.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import DEVEL_MAKEFILE, PP_TO_CIL, need_tools

from avcfix import proc
from avcfix.cli import main
from avcfix.errors import ExitCode
from avcfix.names.identifiers import (
    CIL_KEYWORDS,
    CIL_KEYWORDS_USED_AS_NAMES,
    TE_KEYWORDS,
    identifier_problem,
)
from avcfix.names.m4names import M4_BUILTINS, REFPOLICY_MACROS, m4_words
from avcfix.toolchain.headers import DEVEL_INCLUDE, header_dirs, header_macro_names

SCTX = "system_u:system_r:httpd_t:s0"
EUCA_LOG = str(Path(__file__).resolve().parents[2] / "fixtures" / "eucanetd" / "audit.log")


def _avc(serial: int, perms: str, target: str = "shadow_t", tclass: str = "file") -> str:
    return (f"type=AVC msg=audit(1700000000.{serial:03d}:{serial}): avc:  denied  {{ {perms} }} for  pid={serial} "
            f'comm="x" name="n" dev="sda" ino={serial} scontext={SCTX} '
            f"tcontext=system_u:object_r:{target}:s0 tclass={tclass} permissive=0")


def _build(capsys, *argv: str) -> tuple[int, dict, str]:
    code = main(["build", *argv, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err


def _pp_allows(pp: str | Path) -> list[str]:
    """The allow rules of a compiled package, as libsepol converts it to CIL."""
    need_tools(str(PP_TO_CIL))
    res = proc.run([str(PP_TO_CIL), str(pp), "-"], timeout=60)
    assert res.ok, res.stderr
    return sorted(line for line in res.stdout.splitlines() if line.startswith("(allow"))


def _need_devel() -> None:
    if not DEVEL_MAKEFILE.is_file() or not DEVEL_INCLUDE.is_dir():
        pytest.skip("the refpolicy devel headers are not installed (selinux-policy-dev)")
    need_tools("m4", "make", "checkmodule", "semodule_package")


# ------------------------------------------------------- the m4 build, for real

#: Permission names a log may carry that the m4 build would expand.
M4_PERMS = ["manage_file_perms", "rw_file_perms", "x-read_file_perms", "a.dnl", "define", "gen_require",
            "files_read_etc_files", "mmap_exec_file_perms"]


#: Log text that would be policy if m4 expanded it in the evidence comments.
COMMENT_PAYLOAD = "can_exec(httpd_t, shadow_t) `dnl' manage_file_perms ifelse(a,a,`allow')"


def _m4_log(path: Path) -> Path:
    path.write_text("\n".join([
        _avc(1, "read " + " ".join(M4_PERMS)),
        _avc(2, "getattr", target="files_read_etc_files"),  # an interface of the headers, as a type
        _avc(3, "write", tclass="read_files_pattern"),      # a pattern macro, as a class
        _avc(4, "open", target="x-can_exec"),               # a macro after a '-'
        # log text in comments: m4 copies '#' comments as they are
        _avc(5, "read").replace('comm="x"', "comm=" + COMMENT_PAYLOAD.encode().hex().upper()),
    ]) + "\n")
    return path


def _check_m4_result(doc: dict, te: Path) -> None:
    (m,) = doc["modules"]
    rejected = " | ".join(f"{r['what']}: {r['reason']}" for r in m["rejected"])
    for perm in M4_PERMS:
        assert f"permission {perm!r}" in rejected
    for name in ("files_read_etc_files", "read_files_pattern", "x-can_exec"):
        assert repr(name) in rejected
    assert "+ allow httpd_t shadow_t:file read;" in m["diff"]
    assert "can_exec(httpd_t, shadow_t)" in te.read_text()  # in a comment
    # no rule or require line names them (the existing .te's own gen_require block stays)
    statements = [line for line in te.read_text().splitlines()
                  if line.lstrip().startswith(("allow", "class", "type"))]
    text = "\n".join(statements)
    for name in M4_PERMS + ["files_read_etc_files", "read_files_pattern", "can_exec"]:
        assert name not in text
    # what the package grants: the log's one real permission, nothing m4 made of the rest
    allows = _pp_allows(m["pp"])
    assert [a for a in allows if "shadow_t" in a] == ["(allow httpd_t shadow_t (file (read)))"]


def test_a_macro_named_permission_never_widens_a_refpolicy_build(capsys, tmp_path):
    """The repro of issue 12: `{ read manage_file_perms }` merged into a refpolicy-style
    .te, no policy: the devel Makefile's m4 used to expand it into twelve permissions."""
    _need_devel()
    out = tmp_path / "out"
    out.mkdir()
    te = out / "httpd_local.te"
    te.write_text("policy_module(httpd_local, 1.0)\n\ngen_require(`\n\ttype httpd_t;\n')\n")
    code, doc, err = _build(capsys, "httpd", str(_m4_log(tmp_path / "m4.log")), "--out-dir", str(out), "--mls")
    assert code == 0, err
    assert doc["modules"][0]["commands"][0]["argv"][:3] == ["make", "-f", str(DEVEL_MAKEFILE)]
    _check_m4_result(doc, te)


def test_a_macro_named_permission_never_reaches_a_raw_module(capsys, tmp_path):
    """The same log without an existing .te: checkmodule path, and the .cil."""
    _need_devel()  # the headers' interfaces are refused only where headers are installed
    out = tmp_path / "out"
    code, doc, err = _build(capsys, "httpd", str(_m4_log(tmp_path / "m4.log")), "--out-dir", str(out), "--mls",
                            "--cil")
    assert code == 0, err
    assert doc["modules"][0]["commands"][0]["argv"][0] == "checkmodule"
    _check_m4_result(doc, out / "httpd_local.te")
    cil = (out / "httpd_local.cil").read_text()
    assert [line for line in cil.splitlines() if line.startswith("(allow")] == [
        "(allow httpd_t shadow_t (file (read)))"]


def test_with_a_policy_a_macro_named_permission_is_an_unknown_one(capsys, tmp_path, ref_policy):
    """Explained against the policy, `manage_file_perms` is no permission of `file`: it is
    left out as unknown_perm (the fix is not a rule), before any name check."""
    _need_devel()
    out = tmp_path / "out"
    out.mkdir()
    (out / "httpd_local.te").write_text("policy_module(httpd_local, 1.0)\n")
    log = tmp_path / "p.log"
    log.write_text(_avc(1, "read manage_file_perms") + "\n")
    code, doc, err = _build(capsys, "httpd", str(log), "--out-dir", str(out), "--policy", str(ref_policy))
    assert code == 0, err
    (m,) = doc["modules"]
    assert [(f["perms"], f["reason"]) for f in m["left_out"]] == [(["manage_file_perms"], "unknown_perm")]
    assert [a for a in _pp_allows(m["pp"]) if "shadow_t" in a] == ["(allow httpd_t shadow_t (file (read)))"]


def test_interfaces_of_the_modules_own_if_are_refused(capsys, tmp_path):
    """The devel Makefile also reads NAME.if next to NAME.te: its interfaces expand too."""
    _need_devel()
    out = tmp_path / "out"
    out.mkdir()
    (out / "httpd_local.te").write_text("policy_module(httpd_local, 1.0)\n")
    (out / "httpd_local.if").write_text(
        "## <summary>local</summary>\ninterface(`httpd_local_grant',`\n\tgen_require(`\n\t\ttype shadow_t;\n"
        "\t')\n\tallow $1 shadow_t:file write;\n')\n")
    log = tmp_path / "if.log"
    log.write_text(_avc(1, "read httpd_local_grant") + "\n")
    code, doc, err = _build(capsys, "httpd", str(log), "--out-dir", str(out), "--mls")
    assert code == 0, err
    assert any("httpd_local_grant" in r["what"] for r in doc["modules"][0]["rejected"])
    assert [a for a in _pp_allows(doc["modules"][0]["pp"]) if "shadow_t" in a] == [
        "(allow httpd_t shadow_t (file (read)))"]


# ------------------------------------------- the filter against m4 itself

@pytest.fixture(scope="session")
def m4_state(tmp_path_factory) -> Path:
    """m4 frozen after the support macros and every header interface, exactly as the
    devel Makefile runs it over a module (its own m4 command line, read with make -n)."""
    _need_devel()
    work = tmp_path_factory.mktemp("m4state")
    (work / "probe.te").write_text("policy_module(probe, 1.0)\n")
    res = proc.run(["make", "-f", str(DEVEL_MAKEFILE), "tmp/all_interfaces.conf"], cwd=work, timeout=300)
    assert res.ok, res.stderr
    plan = proc.run(["make", "-n", "-f", str(DEVEL_MAKEFILE), "tmp/probe.mod"], cwd=work, timeout=60)
    assert plan.ok, plan.stderr
    (line,) = [x for x in plan.stdout.splitlines() if x.startswith("m4 ") and " probe.te" in x]
    argv = [a for a in shlex.split(line.split(">")[0]) if a not in ("-s", "probe.te")]
    state = work / "state.m4f"
    res = proc.run(argv + ["-F", str(state)], cwd=work, timeout=300)
    assert res.ok and state.is_file(), res.stderr
    return state


def _through_m4(state: Path, names: list[str], tmp_path: Path) -> list[str]:
    src = tmp_path / "names.te"
    src.write_text("policy_module(probe, 1.0)\n@@@@\n" + "".join(f"@{n}@\n" for n in names))
    res = proc.run(["m4", "-R", str(state), str(src)], timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.split("@@@@\n", 1)[1].splitlines()


def test_the_oracle_sees_the_bug(m4_state, tmp_path):
    """m4 with the headers does expand what the filter refuses (else the tests below prove nothing)."""
    out = _through_m4(m4_state, ["manage_file_perms", "read", "x-rw_file_perms", "files_read_etc_files"], tmp_path)
    assert out[1] == "@read@"
    assert "ioctl" in out[0] and "getattr" in out[2] and out[3] != "@files_read_etc_files@"


@pytest.fixture(scope="session")
def header_words() -> list[str]:
    """Every m4 word of the installed headers: the candidate names that can be macros."""
    if not DEVEL_INCLUDE.is_dir():
        pytest.skip("no refpolicy devel headers")
    words: set[str] = set(M4_BUILTINS) | set(REFPOLICY_MACROS)
    for f in DEVEL_INCLUDE.rglob("*"):
        if f.suffix in (".if", ".spt"):
            words.update(m4_words(f.read_text(encoding="utf-8", errors="replace")))
    return sorted(words)


def test_every_header_word_the_filter_accepts_stays_itself(m4_state, header_words, tmp_path):
    reserved = header_macro_names(DEVEL_INCLUDE)
    accepted = [w for w in header_words if w[0].isalpha() and identifier_problem(w, "type", reserved) is None]
    assert len(accepted) > 1000 and "read" in accepted and "shadow_t" in accepted
    out = _through_m4(m4_state, accepted, tmp_path)
    changed = [(w, o) for w, o in zip(accepted, out, strict=False) if o != f"@{w}@"]
    assert not changed and len(out) == len(accepted), changed[:10]


_SEPARATORS = st.sampled_from(["-", ".", "_", "", "0", "x"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_accepted_name_passes_m4_unchanged(m4_state, header_words, tmp_path, data):
    """Names made of header words (macros among them) joined by '-', '.', '_': those the
    filter accepts, for any kind, come out of the Makefile's m4 exactly as they went in."""
    reserved = header_macro_names(DEVEL_INCLUDE)
    names = []
    for _ in range(30):
        parts = data.draw(st.lists(st.sampled_from(header_words), min_size=1, max_size=3))
        seps = data.draw(st.lists(_SEPARATORS, min_size=len(parts), max_size=len(parts)))
        name = "a" + "".join(s + p for s, p in zip(seps, parts, strict=True))
        kind = data.draw(st.sampled_from(["type", "class", "permission", "module"]))
        if identifier_problem(name, kind, reserved) is None:
            names.append(name)
    names += data.draw(st.lists(st.from_regex(r"[a-z][a-z0-9_.-]{0,20}", fullmatch=True)
                                .filter(lambda n: identifier_problem(n, "type", reserved) is None), max_size=10))
    if names:
        assert _through_m4(m4_state, names, tmp_path) == [f"@{n}@" for n in names]


# ------------------------------------------------------------ keyword lists

#: checkpolicy's lexer keywords (checkpolicy/policy_scan.l, 3.4 to 3.8), written out
#: here so that a word missing from avcfix's list fails the tests.
LEXER_KEYWORDS = """
    clone common class constrain validatetrans inherits sid role roles roleattribute attribute_role types
    typealias typeattribute typebounds type bool tunable if else alias attribute expandattribute
    type_transition type_member type_change role_transition range_transition sensitivity dominance category
    level range mlsconstrain mlsvalidatetrans user neverallow allow auditallow auditdeny dontaudit allowxperm
    auditallowxperm dontauditxperm neverallowxperm source target sameuser module require optional or and not
    xor eq true false dom domby incomp fscon ibpkeycon ibendportcon portcon netifcon nodecon pirqcon iomemcon
    ioportcon pcidevicecon devicetreecon fs_use_xattr fs_use_task fs_use_trans genfscon r1 r2 r3 u1 u2 u3 t1
    t2 t3 l1 l2 h1 h2 policycap permissive default_user default_role default_type default_range low-high high
    low glblub""".split()

#: libsepol's CIL keys (cil_init_keys() in libsepol/cil/src/cil.c, 3.4 to 3.8) that are identifiers.
CIL_KEYS = """
    t1 t2 t3 r1 r2 r3 u1 u2 u3 l1 l2 h1 h2 and or not eq neq dom domby incomp true false self notself other
    object_r udp tcp dccp sctp auditallow tunableif allow dontaudit typetransition typechange call tunable xor
    all range type role user userattribute userattributeset sensitivity category categoryset level
    levelrange class ipaddr classmap classpermission boolean string name handleunknown deny reject
    blockinherit blockabstract classorder classmapping classpermissionset common classcommon sid sidcontext
    sidorder userlevel userrange userbounds userprefix selinuxuser selinuxuserdefault typeattribute
    typeattributeset expandtypeattribute typealias typealiasactual typebounds typepermissive rangetransition
    userrole roletype roletransition roleallow roleattribute roleattributeset rolebounds booleanif neverallow
    typemember sensitivityalias sensitivityaliasactual categoryalias categoryaliasactual categoryorder
    sensitivityorder sensitivitycategory constrain mlsconstrain validatetrans mlsvalidatetrans context
    filecon ibpkeycon ibendportcon portcon nodecon genfscon netifcon pirqcon iomemcon ioportcon pcidevicecon
    devicetreecon fsuse policycap optional defaultuser defaultrole defaulttype macro in mls defaultrange file
    dir char block socket pipe symlink any xattr task trans source target low high low-high glblub perm
    allowx auditallowx dontauditx neverallowx permissionx ioctl nlmsg unordered cil lms lmx lme""".split()

#: GNU m4 1.4's builtins.
M4_BUILTIN_NAMES = """
    builtin changecom changequote debugfile debugmode decr define defn divert divnum dnl dumpdef errprint
    esyscmd eval format ifdef ifelse include incr index indir len m4exit m4wrap maketemp mkstemp patsubst
    popdef pushdef regexp shift sinclude substr syscmd sysval traceoff traceon translit undefine
    undivert""".split()


def test_the_keyword_lists_are_complete():
    assert set(LEXER_KEYWORDS) <= TE_KEYWORDS
    assert set(CIL_KEYS) <= CIL_KEYWORDS
    assert set(M4_BUILTIN_NAMES) <= M4_BUILTINS

def test_every_te_keyword_is_one_for_checkmodule(tmp_path):
    """The list is checkpolicy's lexer: each word (but 'self', reserved by the grammar)
    fails as a type name in the real checkmodule, and the filter refuses it."""
    need_tools("checkmodule")
    accepted = []
    assert "self" in TE_KEYWORDS
    for word in sorted(set(LEXER_KEYWORDS) | (TE_KEYWORDS - {"self"})):
        te = tmp_path / "kw.te"
        te.write_text(f"module kw 1.0;\nrequire {{ type a_t; }}\ntype {word};\n")
        if proc.run(["checkmodule", "-m", "-o", str(tmp_path / "kw.mod"), str(te)], timeout=60).ok:
            accepted.append(word)
        assert identifier_problem(word) and identifier_problem(word.upper())
    assert accepted == []


def test_filesystem_is_a_class_not_a_keyword(tmp_path):
    """`tclass=filesystem` (mount, associate...) is one of the commonest denials."""
    need_tools("checkmodule")
    assert identifier_problem("filesystem", "class") is None
    te = tmp_path / "fs.te"
    te.write_text("module fs 1.0;\nrequire { type a_t; type b_t; class filesystem mount; }\n"
                  "allow a_t b_t:filesystem mount;\n")
    assert proc.run(["checkmodule", "-m", "-o", str(tmp_path / "fs.mod"), str(te)], timeout=60).ok


@pytest.mark.parametrize("which", ["debian-reference", "fedora-targeted"])
def test_no_name_of_the_installed_policy_is_refused(which, request):
    """The filter never refuses a real name: every type, attribute, class, permission,
    role, boolean and user of the policy passes, with the headers' macros (Debian's
    reference policy with the host's headers; Fedora's targeted policy with its own
    devel headers too)."""
    setools = pytest.importorskip("setools")
    if which == "debian-reference":
        pol = setools.SELinuxPolicy(str(request.getfixturevalue("ref_policy")))
        reserved = header_macro_names(DEVEL_INCLUDE)
    else:
        fedora = request.getfixturevalue("fedora_root")
        pol = setools.SELinuxPolicy(str(fedora.policy_file))
        dirs = header_dirs(fedora.root, fedora.name)
        assert (fedora.root / "usr/share/selinux/devel/include").is_dir()
        reserved = header_macro_names(*dirs)
    named = [("type", str(t)) for t in pol.types()] + [("attribute", str(a)) for a in pol.typeattributes()]
    named += [("role", str(r)) for r in pol.roles()] + [("bool", str(b)) for b in pol.bools()]
    named += [("user", str(u)) for u in pol.users()] + [("class", str(c)) for c in pol.classes()]
    for c in pol.classes():
        perms = set(c.perms)
        try:
            perms |= set(c.common.perms)
        except setools.exception.NoCommon:
            pass
        named += [("permission", p) for p in perms]
    refused = [(k, n, identifier_problem(n, k, reserved)) for k, n in named
               if identifier_problem(n, k, reserved) is not None and n != "self"]
    assert len(named) > 4000 and refused == []


def test_cil_keywords_as_types_are_kinds_not_names():
    for word in set(CIL_KEYS) | CIL_KEYWORDS:
        assert identifier_problem(word, "type") is not None, word
        assert identifier_problem(word, "role") is not None or word == "object_r", word
        expected = word in CIL_KEYWORDS_USED_AS_NAMES
        assert (identifier_problem(word, "class") is None) == expected, word
        assert (identifier_problem(word, "permission") is None) == expected, word
    for word in set(M4_BUILTIN_NAMES) | M4_BUILTINS | REFPOLICY_MACROS:
        for kind in ("type", "class", "permission", "module"):
            assert identifier_problem(word, kind) is not None, (word, kind)
            assert identifier_problem(f"a-{word}", kind) is not None, (word, kind)


#: Every keyword that is a valid identifier, as a target type in a log.
_KEYWORD_TYPES = sorted(w for w in {*LEXER_KEYWORDS, *CIL_KEYS, *M4_BUILTIN_NAMES, "self", "gen_require",
                                     "manage_file_perms", "policy_module"} if re.fullmatch(r"[A-Za-z][\w.-]*", w))


def test_a_log_naming_keyword_types_builds_only_the_real_rule(capsys, tmp_path):
    """`tcontext=...:macro:s0`, `:blockinherit:`, `:optional:`... each is rejected and
    left out of the .te, the .cil and the compiled package; the one real denial stays."""
    need_tools("checkmodule", "semodule_package")
    log = tmp_path / "kw.log"
    lines = [_avc(1, "read", target="user_home_t")]
    lines += [_avc(i + 2, "read", target=word) for i, word in enumerate(_KEYWORD_TYPES)]
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    code, doc, err = _build(capsys, "httpd", str(log), "--out-dir", str(out), "--mls", "--cil")
    assert code == 0, err
    (m,) = doc["modules"]
    rejected = {r["what"].split(" (")[0] for r in m["rejected"]}
    assert rejected == {f"target type {w!r}" for w in _KEYWORD_TYPES}
    assert m["diff"] == ["+ allow httpd_t user_home_t:file read;"]
    assert _pp_allows(m["pp"]) == ["(allow httpd_t user_home_t (file (read)))"]
    cil = (out / "httpd_local.cil").read_text()
    assert [line for line in cil.splitlines() if not line.startswith(";") and line] == [
        "(allow httpd_t user_home_t (file (read)))"]


# ------------------------------------------------------- build --json on failure

def test_build_json_prints_the_document_when_the_compile_fails(capsys, tmp_path):
    """Exit 6 and the document, with the module in `failed` (README: build --json)."""
    _need_devel()
    out = tmp_path / "out"
    out.mkdir()
    (out / "httpd_local.te").write_text("policy_module(httpd_local, 1.0)\n\nnosuch_interface(httpd_t)\n")
    log = tmp_path / "a.log"
    log.write_text(_avc(1, "read") + "\n")
    code, doc, err = _build(capsys, "httpd", str(log), "--out-dir", str(out), "--mls")
    assert code == ExitCode.COMPILE
    assert doc["version"] == 1 and doc["modules"] == [] and doc["stats"]["denials"] == 1
    (failed,) = doc["failed"]
    assert failed["module"] == "httpd_local" and failed["exit"] == 6
    assert "nosuch_interface(httpd_t)" in failed["error"]
    assert "nosuch_interface" in err  # the message is on stderr too


def test_build_json_prints_the_document_for_policy_errors(capsys, tmp_path):
    """Exit 5: an unparsable existing .te, an unreadable --policy."""
    log = tmp_path / "a.log"
    log.write_text(_avc(1, "read") + "\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "httpd_local.te").write_text("module httpd_local 1.0;\nallow httpd_t {\n")
    code, doc, err = _build(capsys, "httpd", str(log), "--out-dir", str(out), "--mls")
    assert code == ExitCode.POLICY
    assert [(f["module"], f["exit"]) for f in doc["failed"]] == [("httpd_local", 5)]
    code, doc, err = _build(capsys, "httpd", str(log), "--out-dir", str(tmp_path / "o2"),
                            "--policy", str(tmp_path / "missing.policy"))
    assert code == ExitCode.POLICY
    assert [(f["module"], f["exit"]) for f in doc["failed"]] == [("httpd_local", 5)]
    assert doc["modules"] == [] and "missing.policy" in doc["failed"][0]["error"]


def test_build_json_prints_the_document_when_the_install_check_fails(capsys, tmp_path, euca_policy, store_root):
    """Exit 7: explained against the fixture policy, installed into a store without
    the eucalyptus module: the target policy lacks the module's types."""
    code, doc, err = _build(capsys, "eucanetd", EUCA_LOG, "--out-dir", str(tmp_path / "out"),
                            "--policy", str(euca_policy), "--root", str(store_root.root), "--install")
    assert code == ExitCode.INSTALL
    (failed,) = doc["failed"]
    assert failed["module"] == "eucanetd_local" and failed["exit"] == 7
    assert "eucalyptus_eucanetd_t" in failed["error"] and "does not define" in failed["error"]


@pytest.mark.parametrize("bad", ["a;b", "gen_require", "x y", "manage_file_perms", "dnl"])
def test_build_bad_module_name_is_a_usage_error(capsys, tmp_path, bad):
    log = tmp_path / "a.log"
    log.write_text(_avc(1, "read") + "\n")
    code = main(["build", "httpd", str(log), "--out-dir", str(tmp_path / "out"), "--mls", "--module", bad])
    assert code == ExitCode.USAGE
    assert "not a valid module name" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
