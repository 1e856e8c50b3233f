"""``avcfix build`` end to end: real log, real explain engine, real toolchain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avcfix import proc
from avcfix.cli import main
from avcfix.cli.build import default_module_name
from avcfix.errors import ExitCode
from avcfix.index.setools_target import TargetPolicy
from avcfix.policy.te_parse import parse_te
from avcfix.toolchain import semodule
from avcfix.toolchain.store import copy_root
from avcfix.toolchain.verify import AllowRule, missing_rules

PROJECT = Path(__file__).resolve().parents[2]
EUCA_LOG = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys, *argv: str) -> dict:
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def _pp_cil(pp: str) -> str:
    r = proc.run([str(semodule.PP_TO_CIL), pp, "-"])
    assert r.ok, r.stderr
    return r.stdout


def test_default_module_names():
    assert default_module_name("eucanetd") == "eucanetd_local"
    assert default_module_name("eucalyptus_eucanetd_t") == "eucalyptus_eucanetd_local"
    assert default_module_name("eucalyptus-clo") == "eucalyptus_clo_local"
    assert default_module_name("python3.11") == "python3_11_local"
    assert default_module_name("7zip") == "m_7zip_local"


def test_build_eucanetd_against_the_fixture_policy(capsys, tmp_path, euca_policy):
    doc = _json(capsys, "build", "eucanetd", EUCA_LOG, "--out-dir", str(tmp_path), "--policy", str(euca_policy))
    assert doc["version"] == 1 and len(doc["modules"]) == 1
    m = doc["modules"][0]
    assert m["module"] == "eucanetd_local" and m["version"] == "1.0" and m["changed"] and m["compiled"]
    assert m["mls"] is True  # the reference policy is MLS: checkmodule -M
    assert m["commands"][0]["argv"][:2] == ["checkmodule", "-M"]
    assert m["te"] == str(tmp_path / "eucanetd_local.te")
    assert all(line.startswith("+ allow eucalyptus_eucanetd_t ") for line in m["diff"])
    assert "+ allow eucalyptus_eucanetd_t eucalyptus_var_run_t:file create;" in m["diff"]
    # the port bind is left out: labelling the port is the fix
    ports = [f for f in m["left_out"] if f["class"] == "udp_socket"]
    assert ports and ports[0]["fix"].startswith("semanage port -a -t eucalyptus_eucanetd_port_t")
    cil = _pp_cil(m["pp"])
    assert "name_bind" not in cil
    assert "(allow eucalyptus_eucanetd_t eucalyptus_var_lib_t (dir (search)))" in cil
    mod = parse_te((tmp_path / "eucanetd_local.te").read_text())
    assert {str(r.sources) for r in mod.rules} == {"eucalyptus_eucanetd_t"}


def test_a_second_run_changes_no_file(capsys, tmp_path, euca_policy):
    argv = ("build", "eucanetd", EUCA_LOG, "--out-dir", str(tmp_path), "--policy", str(euca_policy))
    _json(capsys, *argv)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert "no new rules" in out and "unchanged" in out
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == before


def test_human_output_shows_the_diff_and_the_left_out_fix(capsys, tmp_path, euca_policy):
    code, out, err = _run(capsys, "build", "eucalyptus_eucanetd_t", EUCA_LOG, "--out-dir", str(tmp_path),
                          "--policy", str(euca_policy))
    assert code == 0, err
    assert "eucanetd_t_local" not in out  # a full type gives the module name without _t
    assert "eucalyptus_eucanetd_local 1.0: wrote" in out
    assert "+ allow eucalyptus_eucanetd_t eucalyptus_var_lib_t:file read;" in out
    assert "semanage port -a -t eucalyptus_eucanetd_port_t" in out


def test_an_ambiguous_name_exits_2_listing_candidates(capsys, tmp_path, euca_policy):
    code, out, err = _run(capsys, "build", "eucalyptus", EUCA_LOG, "--out-dir", str(tmp_path),
                          "--policy", str(euca_policy))
    assert code == ExitCode.USAGE
    assert "eucalyptus_cloud_t" in err and "eucalyptus_eucanetd_t" in err
    assert list(tmp_path.iterdir()) == []


def test_no_name_is_a_usage_error(capsys):
    code, out, err = _run(capsys, "build")
    assert code == ExitCode.USAGE and "--all-domains" in err


def test_a_missing_log_exits_3(capsys, tmp_path):
    code, out, err = _run(capsys, "build", "eucanetd", str(tmp_path / "nope.log"), "--out-dir", str(tmp_path))
    assert code == ExitCode.INPUT


def test_all_domains_builds_one_module_per_domain(capsys, tmp_path, euca_policy):
    doc = _json(capsys, "build", "--all-domains", EUCA_LOG, "--out-dir", str(tmp_path),
                "--policy", str(euca_policy))
    names = [m["module"] for m in doc["modules"]]
    assert names == sorted(names)
    assert "eucalyptus_eucanetd_local" in names and "eucalyptus_cloud_local" in names
    for m in doc["modules"]:
        if m["pp"] is not None:
            mod = parse_te(Path(m["te"]).read_text())
            assert len({str(r.sources) for r in mod.rules}) == 1


def test_all_domains_with_module_puts_everything_in_one(capsys, tmp_path, euca_policy):
    doc = _json(capsys, "build", "--all-domains", "--module", "euca_all", EUCA_LOG, "--out-dir", str(tmp_path),
                "--policy", str(euca_policy))
    assert [m["module"] for m in doc["modules"]] == ["euca_all"]
    text = (tmp_path / "euca_all.te").read_text()
    # one section per source domain (eucalyptus_cloud_t's capability is advised
    # narrower, so it is in the left-out comment instead)
    assert "#============= eucalyptus_eucanetd_t ==============" in text
    assert "#============= getty_t ==============" in text
    assert "# eucalyptus_cloud_t eucalyptus_cloud_t:capability" in text
    assert Path(doc["modules"][0]["pp"]).is_file()


def test_no_mls_compiles_without_dash_M(capsys, tmp_path, euca_policy):
    doc = _json(capsys, "build", "eucanetd", EUCA_LOG, "--out-dir", str(tmp_path), "--policy", str(euca_policy),
                "--no-mls", "--cil")
    m = doc["modules"][0]
    assert m["mls"] is False and "-M" not in m["commands"][0]["argv"]
    assert Path(m["cil"]).read_text().count("(allow ") == 4


def test_a_type_the_install_target_lacks_exits_7_naming_it(capsys, tmp_path, euca_policy, store_root):
    # explained against the fixture policy, installed into a store without the eucalyptus module
    code, out, err = _run(capsys, "build", "eucanetd", EUCA_LOG, "--out-dir", str(tmp_path / "out"),
                          "--policy", str(euca_policy), "--root", str(store_root.root), "--install")
    assert code == ExitCode.INSTALL
    assert "eucalyptus_eucanetd_t" in err and "does not define" in err
    assert "cil:" not in err
    assert "eucanetd_local" not in {m.name for m in semodule.list_modules(store_root)}


@pytest.mark.slow
def test_install_into_a_root_and_verify(capsys, tmp_path, euca_root):
    root = copy_root(euca_root, tmp_path / "root")
    doc = _json(capsys, "build", "eucanetd", EUCA_LOG, "--out-dir", str(tmp_path / "out"),
                "--root", str(root.root), "--install", "--priority", "250")
    m = doc["modules"][0]
    assert m["installed"] and m["missing_after_install"] == []
    sem = [c["argv"] for c in m["commands"] if c["argv"][0] == "semodule"]
    # whether the package is installed already is read from the store in place: only -i runs
    assert [a[:8] for a in sem] == [["semodule", "-p", str(root.root), "-s", "default", "-X", "250", "-i"]]
    assert not m["already_installed"]
    assert (250, "eucanetd_local") in {(x.priority, x.name) for x in semodule.list_modules(root)}
    # the same denials explained against the rebuilt policy are now allowed
    again = _json(capsys, "build", "eucanetd", EUCA_LOG, "--out-dir", str(tmp_path / "again"),
                  "--root", str(root.root))
    assert again["modules"][0]["pp"] is None  # nothing left to allow


def test_all_domains_on_a_corpus_log_compiles_and_is_deterministic(capsys, tmp_path, corpus_dir, ref_policy):
    log = corpus_dir / "selinux_audit2allow_test.log"
    if not log.is_file():
        pytest.skip(f"{log.name} not in the corpus")
    runs = []
    for sub in ("a", "b"):
        runs.append(_json(capsys, "build", "--all-domains", str(log), "--out-dir", str(tmp_path / sub),
                          "--policy", str(ref_policy), "--xperms"))
    assert [m["module"] for m in runs[0]["modules"]] == [m["module"] for m in runs[1]["modules"]]
    built = {m["module"]: m for m in runs[0]["modules"] if m["pp"] is not None}
    assert {"httpd_local", "qemu_local", "smbd_local"} <= set(built)
    pol = TargetPolicy(ref_policy)
    for m in built.values():
        # compiled by the real checkmodule + semodule_package
        assert [c["argv"][0] for c in m["commands"]] == ["checkmodule", "semodule_package"]
        assert "(allow " in _pp_cil(m["pp"])
        # same input -> same bytes
        te = Path(m["te"])
        assert te.read_bytes() == (tmp_path / "b" / te.name).read_bytes()
        # every rule grants only what the reference policy does not already grant
        mod = parse_te(te.read_text())
        rules = [AllowRule(str(r.sources), str(r.sources) if str(r.targets) == "self" else str(r.targets),
                           str(r.classes), r.perms.names) for r in mod.av_rules]
        assert rules and missing_rules(pol, rules) == tuple(sorted(rules, key=lambda r: (r.source, r.target,
                                                                                       r.tclass)))
    # smbd's default_t tcp_socket ioctl happens in an execve (ppc syscall 11: ausearch -i prints
    # syscall=execve), a descriptor leaked across exec: the module gets the dontaudit rule...
    smbd = Path(built["smbd_local"]["te"]).read_text()
    assert "dontaudit smbd_t default_t:tcp_socket { ioctl read write };" in smbd
    # ...and with --include-advised the allow rule, where the ioctl command logged becomes allowxperm
    advised = _json(capsys, "build", "smbd_t", str(log), "--out-dir", str(tmp_path / "adv"),
                    "--policy", str(ref_policy), "--xperms", "--include-advised")["modules"][0]
    assert "allowxperm smbd_t default_t:tcp_socket ioctl { 0x2a };" in Path(advised["te"]).read_text()
    assert "(allowx smbd_t default_t (ioctl tcp_socket (0x2a)))" in _pp_cil(advised["pp"])


def test_hostile_log_text_never_reaches_policy(capsys, tmp_path, ref_policy):
    """comm, path and context fields holding '; allow', newlines and braces: the module
    compiles and grants exactly the one valid access."""
    payload = b"\nallow httpd_t shadow_t:file read;".hex().upper()
    path_hex = b"/tmp/\n} allow".hex().upper()
    ctx = "scontext=system_u:system_r:httpd_t:s0"
    log = tmp_path / "hostile.log"
    log.write_text("\n".join([
        'type=AVC msg=audit(1700000000.100:200): avc:  denied  { read } for  pid=1 '
        f'comm="; allow httpd_t shadow_t:file read; #" name="}}" dev="sda" ino=1 {ctx} '
        "tcontext=system_u:object_r:user_home_t:s0 tclass=file permissive=0",
        f"type=AVC msg=audit(1700000000.200:201): avc:  denied  {{ getattr }} for  pid=2 comm={payload} "
        f"path={path_hex} dev=\"sda\" ino=2 {ctx} tcontext=system_u:object_r:user_home_t:s0 tclass=file "
        "permissive=0",
        f'type=AVC msg=audit(1700000000.300:202): avc:  denied  {{ write }} for  pid=3 comm="x" {ctx} '
        "tcontext=system_u:object_r:evil}t;allow:s0 tclass=file permissive=0",
        f'type=AVC msg=audit(1700000000.400:203): avc:  denied  {{ read }} for  pid=4 comm="x" {ctx} '
        "tcontext=system_u:object_r:shadow_t:s0 tclass=file{ permissive=0",
    ]) + "\n")
    out = tmp_path / "out"
    doc = _json(capsys, "build", "httpd", str(log), "--out-dir", str(out), "--policy", str(ref_policy),
                "--include-advised")
    m = doc["modules"][0]
    assert m["diff"] == ["+ allow httpd_t user_home_t:file { getattr read };"]
    assert any("evil}t;allow" in r["what"] for r in m["rejected"])
    te = (out / "httpd_local.te").read_text()
    statements = [line for line in te.splitlines() if line and not line.startswith("#")]
    assert not any("shadow_t" in line or "evil" in line for line in statements)
    cil = _pp_cil(m["pp"])
    assert [line for line in cil.splitlines() if line.startswith("(allow")] == [
        "(allow httpd_t user_home_t (file (getattr read)))"]


def test_an_unwritable_out_dir_exits_3(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = _run(capsys, "build", "eucanetd", EUCA_LOG, "--out-dir", str(blocker / "sub"), "--mls")
    assert code == ExitCode.INPUT
    assert "cannot write" in err and "Traceback" not in err


def test_a_compile_error_exits_6_and_shows_the_te_line(capsys, tmp_path):
    """An existing refpolicy-style module calling an interface that does not exist."""
    te = tmp_path / "eucanetd_local.te"
    te.write_text("policy_module(eucanetd_local, 1.0)\n\ngen_require(`\n\ttype eucalyptus_eucanetd_t;\n')\n\n"
                  "nosuch_interface(eucalyptus_eucanetd_t)\n")
    code, out, err = _run(capsys, "build", "eucanetd", EUCA_LOG, "--out-dir", str(tmp_path), "--mls")
    assert code == ExitCode.COMPILE
    written = te.read_text().splitlines()
    bad = written.index("nosuch_interface(eucalyptus_eucanetd_t)") + 1
    assert f"eucanetd_local.te:{bad}: syntax error" in err
    assert f"{bad:>5} | nosuch_interface(eucalyptus_eucanetd_t)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "eucanetd_local.pp").exists()


def test_one_failing_domain_does_not_stop_the_others(capsys, tmp_path, ref_policy):
    log = tmp_path / "two.log"
    log.write_text(
        'type=AVC msg=audit(1700000000.100:300): avc:  denied  { read } for  pid=1 comm="httpd" name="x" '
        "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:user_home_t:s0 tclass=file permissive=0\n"
        'type=AVC msg=audit(1700000000.200:301): avc:  denied  { read } for  pid=2 comm="sshd" name="y" '
        "scontext=system_u:system_r:sshd_t:s0 tcontext=system_u:object_r:user_home_t:s0 tclass=file permissive=0\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "httpd_local.te").write_text("module httpd_local 1.0;\nallow httpd_t {\n")  # unparsable
    code, stdout, err = _run(capsys, "build", "--all-domains", str(log), "--out-dir", str(out),
                             "--policy", str(ref_policy), "--include-advised", "--json")
    assert code == ExitCode.POLICY  # the first failure's code
    doc = json.loads(stdout)
    assert [f["module"] for f in doc["failed"]] == ["httpd_local"] and doc["failed"][0]["exit"] == 5
    assert [m["module"] for m in doc["modules"]] == ["sshd_local"]
    assert Path(doc["modules"][0]["pp"]).is_file()
    assert "1 of 2 modules failed" in err


def test_json_output_is_deterministic(capsys, tmp_path, euca_policy):
    docs = []
    for _ in range(2):
        out = tmp_path / "out"
        if out.exists():
            for p in out.iterdir():
                p.unlink()
        code, stdout, err = _run(capsys, "build", "eucanetd", EUCA_LOG, "--out-dir", str(out),
                                 "--policy", str(euca_policy), "--json")
        assert code == 0, err
        docs.append(stdout)
    assert docs[0] == docs[1]
    assert json.loads(docs[0])["modules"][0]["commands"][0]["argv"] == [
        "checkmodule", "-M", "-m", "-o", "eucanetd_local.mod", str((tmp_path / "out" / "eucanetd_local.te").resolve())]
