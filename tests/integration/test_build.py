"""Build orchestration: name selection, merge into an existing module, atomic
writes, real compile, and (slow) a real install into a private store."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from avcfix import proc
from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.builder import BuildOptions, BuildStep, build_module, resolve_name, rule_diff, select_denials
from avcfix.errors import ExitCode, InstallError, PolicyError, UsageError
from avcfix.explain.model import Advice, AdviceKind, Finding, Reason
from avcfix.index.setools_target import TargetPolicy
from avcfix.policy.te_parse import parse_te
from avcfix.toolchain import atomic, semodule
from avcfix.toolchain.store import copy_root

PROJECT = Path(__file__).resolve().parents[2]
EUCA_LOG = PROJECT / "fixtures" / "eucanetd" / "audit.log"
EUCANETD = "eucalyptus_eucanetd_t"


@pytest.fixture(scope="module")
def euca_denials():
    return tuple(scan([str(EUCA_LOG)]))


def _findings(denials, domain=EUCANETD):
    """Findings as the explain engine gives them for the seed (written by hand
    here so these tests do not depend on the engine): the port bind is a
    port-label fix, everything else a missing allow rule."""
    out = []
    for g in group_denials(d for d in denials if d.stype == domain):
        if g.tclass == "udp_socket" and "name_bind" in g.perms:
            adv = Advice(AdviceKind.PORT_LABEL, "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822",
                         90, "the port has a generic label")
            out.append(Finding(g, g.perms, Reason.TE_RULE, (adv,)))
        else:
            out.append(Finding(g, g.perms, Reason.TE_RULE,
                               (Advice(AdviceKind.MODULE, "avcfix build", 50, "no better fix"),)))
    return out


def _ioctl_finding(denials):
    """An ioctl on the domain's own UDP socket, with the command the kernel logged."""
    g = group_denials(d for d in denials if d.stype == EUCANETD)[0]
    g = replace(g, target=EUCANETD, tclass="udp_socket", perms=("ioctl",), ioctlcmds=(0x8910, 0x8933))
    return Finding(g, ("ioctl",), Reason.TE_RULE)


def _opts(tmp_path, **kw):
    kw.setdefault("mls", True)
    return BuildOptions(module="eucanetd_local", out_dir=tmp_path, **kw)


def _pp_cil(pp: Path) -> str:
    r = proc.run([str(semodule.PP_TO_CIL), str(pp), "-"])
    assert r.ok, r.stderr
    return r.stdout


# -- name selection --------------------------------------------------------------------------

def test_name_selects_a_domain_by_type_word_comm_or_exe(euca_denials):
    assert resolve_name(EUCANETD, euca_denials) == EUCANETD
    assert resolve_name("eucanetd", euca_denials) == EUCANETD            # a word of the type
    assert resolve_name("eucalyptus-clo", euca_denials) == "eucalyptus_cloud_t"  # comm
    assert resolve_name("eucalyptus-cloud", euca_denials) == "eucalyptus_cloud_t"  # exe basename
    assert resolve_name("agetty", euca_denials) == "getty_t"
    assert resolve_name("eucalyptus_cloud", euca_denials) == "eucalyptus_cloud_t"  # several words
    picked = select_denials("eucanetd", euca_denials)
    assert picked and {d.stype for d in picked} == {EUCANETD}
    assert len(picked) == sum(1 for d in euca_denials if d.stype == EUCANETD)


def test_an_ambiguous_name_lists_the_candidates(euca_denials):
    with pytest.raises(UsageError) as ei:
        select_denials("eucalyptus", euca_denials)
    msg = str(ei.value)
    assert ei.value.exit_code is ExitCode.USAGE
    assert "eucalyptus_cloud_t" in msg and EUCANETD in msg and "ambiguous" in msg


def test_an_unknown_name_lists_the_domains(euca_denials):
    with pytest.raises(UsageError) as ei:
        select_denials("httpd", euca_denials)
    assert "getty_t" in str(ei.value) and EUCANETD in str(ei.value)
    # a part of a word is not a word
    with pytest.raises(UsageError):
        select_denials("euca", euca_denials)


# -- a fresh build --------------------------------------------------------------------------

def test_fresh_build_writes_compiles_and_leaves_the_port_out(tmp_path, euca_denials):
    steps = []
    rec = proc.Recorder()
    res = build_module(_findings(euca_denials), _opts(tmp_path), progress=lambda s, d: steps.append(s),
                       record=rec)
    assert res.changed and res.version == "1.0"
    assert res.te_path == tmp_path / "eucanetd_local.te" and res.pp_path == tmp_path / "eucanetd_local.pp"
    assert res.pp_path.is_file() and res.compiled and res.previous_pp is None
    assert [r.argv[0] for r in res.results] == ["checkmodule", "semodule_package"]
    assert rec.results == list(res.results)
    assert steps == [BuildStep.GENERATE, BuildStep.WRITE, BuildStep.COMPILE]
    te = res.te_path.read_text()
    assert "module eucanetd_local 1.0;" in te
    assert "name_bind" not in te.replace("# ", "#").split("#============")[1]  # only in the left-out comment
    assert [f.group.tclass for f in res.left_out] == ["udp_socket"]
    assert res.diff == (
        "+ allow eucalyptus_eucanetd_t eucalyptus_var_lib_t:dir search;",
        "+ allow eucalyptus_eucanetd_t eucalyptus_var_lib_t:file read;",
        "+ allow eucalyptus_eucanetd_t eucalyptus_var_run_t:dir { add_name write };",
        "+ allow eucalyptus_eucanetd_t eucalyptus_var_run_t:file create;",
    )
    cil = _pp_cil(res.pp_path)
    assert "(allow eucalyptus_eucanetd_t eucalyptus_var_run_t (dir (add_name write)))" in cil
    assert "name_bind" not in cil
    # no temporary files are left in the output directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eucanetd_local.pp", "eucanetd_local.te"]


def test_include_advised_puts_the_port_rule_in(tmp_path, euca_denials):
    res = build_module(_findings(euca_denials), _opts(tmp_path, include_advised=True))
    assert "(allow eucalyptus_eucanetd_t unreserved_port_t (udp_socket (name_bind)))" in _pp_cil(res.pp_path)
    assert res.left_out == ()


def test_xperms_give_an_allowxperm_rule_that_compiles(tmp_path, euca_denials):
    res = build_module(_findings(euca_denials) + [_ioctl_finding(euca_denials)], _opts(tmp_path, xperms=True))
    te = res.te_path.read_text()
    assert "allowxperm eucalyptus_eucanetd_t self:udp_socket ioctl { 0x8910 0x8933 };" in te
    assert "allow eucalyptus_eucanetd_t self:udp_socket ioctl;" in te
    cil = _pp_cil(res.pp_path)
    assert "(allowx eucalyptus_eucanetd_t self (ioctl udp_socket (0x8910 0x8933)))" in cil
    plain = build_module([_ioctl_finding(euca_denials)], _opts(tmp_path / "plain"))
    assert "allowxperm" not in plain.te_path.read_text()


def test_cil_output_is_written_next_to_the_te(tmp_path, euca_denials):
    res = build_module(_findings(euca_denials), _opts(tmp_path, cil=True))
    assert res.cil_path == tmp_path / "eucanetd_local.cil"
    text = res.cil_path.read_text()
    assert "(allow eucalyptus_eucanetd_t eucalyptus_var_lib_t (dir (search)))" in text


def test_nothing_to_allow_writes_nothing(tmp_path, euca_denials):
    port_only = [f for f in _findings(euca_denials) if f.group.tclass == "udp_socket"]
    res = build_module(port_only, _opts(tmp_path))
    assert not res.changed and res.pp_path is None and res.results == ()
    assert len(res.left_out) == 1
    assert list(tmp_path.iterdir()) == []


def test_mls_is_read_from_the_target_policy(tmp_path, euca_denials, ref_policy):
    res = build_module(_findings(euca_denials), _opts(tmp_path, mls=None, policy=ref_policy))
    assert res.mls is True and "-M" in res.results[0].argv
    assert TargetPolicy(ref_policy).mls


# -- merging into an existing module ------------------------------------------------------------

def test_rerun_with_nothing_new_changes_no_file(tmp_path, euca_denials):
    findings = _findings(euca_denials)
    first = build_module(findings, _opts(tmp_path))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    again = build_module(findings, _opts(tmp_path))
    assert not again.changed and again.diff == () and again.version == "1.0"
    assert again.results == () and not again.compiled  # nothing was run
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert after == before
    # a subset of what is there is also "nothing new"
    third = build_module(findings[:1], _opts(tmp_path))
    assert not third.changed
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == before
    assert first.te_path.read_text().startswith("module eucanetd_local 1.0;")


def test_new_rules_are_merged_and_the_version_bumped(tmp_path, euca_denials):
    findings = _findings(euca_denials)
    lib = [f for f in findings if f.group.target == "eucalyptus_var_lib_t"]
    run = [f for f in findings if f.group.target == "eucalyptus_var_run_t"]
    build_module(lib, _opts(tmp_path))
    old_pp = (tmp_path / "eucanetd_local.pp").read_bytes()
    res = build_module(run, _opts(tmp_path))
    assert res.changed and res.version == "1.1"
    assert res.diff == (
        "+ allow eucalyptus_eucanetd_t eucalyptus_var_run_t:dir { add_name write };",
        "+ allow eucalyptus_eucanetd_t eucalyptus_var_run_t:file create;",
    )
    mod = parse_te(res.te_path.read_text(), str(res.te_path))
    assert mod.version == "1.1"
    assert len(mod.rules) == 4  # the old rules are kept
    # the package was rebuilt and the old one kept for a rollback
    assert res.previous_pp == tmp_path / "eucanetd_local.pp.prev"
    assert res.previous_pp.read_bytes() == old_pp
    assert "eucalyptus_var_lib_t (file (read))" in _pp_cil(res.pp_path)
    # a widened permission set shows as one removed and one added rule
    widened = replace(run[0], perms=run[0].perms + ("remove_name",),
                      group=replace(run[0].group, perms=run[0].group.perms + ("remove_name",)))
    res2 = build_module([widened], _opts(tmp_path))
    assert res2.version == "1.2"
    assert res2.diff == (
        "- allow eucalyptus_eucanetd_t eucalyptus_var_run_t:dir { add_name write };",
        "+ allow eucalyptus_eucanetd_t eucalyptus_var_run_t:dir { add_name remove_name write };",
    )


def test_an_existing_refpolicy_module_keeps_its_interface_calls(tmp_path, euca_denials):
    (tmp_path / "eucanetd_local.te").write_text(
        "policy_module(eucanetd_local, 1.0)\n\n"
        "gen_require(`\n\ttype eucalyptus_eucanetd_t;\n')\n\n"
        "logging_send_syslog_msg(eucalyptus_eucanetd_t)\n"
    )
    res = build_module(_findings(euca_denials), _opts(tmp_path))
    text = res.te_path.read_text()
    assert res.version == "1.1"
    assert "logging_send_syslog_msg(eucalyptus_eucanetd_t)" in text
    assert "policy_module(eucanetd_local, 1.1)" in text
    # compiled with refpolicy's Makefile (m4 + checkmodule); the interface expanded
    assert [r.argv[0] for r in res.results] == ["make"]
    cil = _pp_cil(res.pp_path)
    assert "(allow eucalyptus_eucanetd_t eucalyptus_var_run_t (file (create)))" in cil
    assert "(allow eucalyptus_eucanetd_t devlog_t (sock_file" in cil  # from logging_send_syslog_msg


def test_an_unparsable_existing_module_is_a_policy_error(tmp_path, euca_denials):
    te = tmp_path / "eucanetd_local.te"
    te.write_text("module eucanetd_local 1.0;\nallow a b:c { d ;\n")
    before = te.read_bytes()
    with pytest.raises(PolicyError) as ei:
        build_module(_findings(euca_denials), _opts(tmp_path))
    assert ei.value.exit_code is ExitCode.POLICY
    assert "eucanetd_local.te" in str(ei.value)
    assert te.read_bytes() == before


# -- atomic writes -----------------------------------------------------------------------------

def test_an_interrupted_write_leaves_the_old_te(tmp_path, euca_denials, monkeypatch):
    findings = _findings(euca_denials)
    build_module(findings[:1], _opts(tmp_path))
    te = tmp_path / "eucanetd_local.te"
    before = te.read_bytes()

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        build_module(findings, _opts(tmp_path))
    monkeypatch.undo()
    assert te.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eucanetd_local.pp", "eucanetd_local.te"]


def test_write_atomic_keeps_the_mode(tmp_path):
    f = tmp_path / "x.te"
    f.write_text("old\n")
    os.chmod(f, 0o600)
    atomic.write_atomic(f, "new\n")
    assert f.read_text() == "new\n" and (f.stat().st_mode & 0o777) == 0o600
    atomic.write_atomic(tmp_path / "sub" / "y.te", "y\n")
    assert (tmp_path / "sub" / "y.te").read_text() == "y\n"


def test_rule_diff_of_a_new_module_lists_every_rule(tmp_path, euca_denials):
    res = build_module(_findings(euca_denials), _opts(tmp_path))
    assert rule_diff(None, res.module) == res.diff


# -- install -------------------------------------------------------------------------------------

def test_a_type_the_target_lacks_is_named_before_semodule_runs(store_root, tmp_path, euca_denials):
    # the reference store has no eucalyptus module: its types are unknown there
    rec = proc.Recorder()
    with pytest.raises(InstallError) as ei:
        build_module(_findings(euca_denials), _opts(tmp_path / "out", install=True, root=store_root),
                     record=rec)
    msg = str(ei.value)
    assert ei.value.exit_code is ExitCode.INSTALL
    assert "type eucalyptus_eucanetd_t" in msg and "type eucalyptus_var_lib_t" in msg
    assert "cil" not in msg
    assert not any(r.argv[0] == "semodule" for r in rec.results)


def test_a_permission_the_target_lacks_is_named_before_semodule_runs(euca_root, tmp_path, euca_denials):
    g = group_denials(d for d in euca_denials if d.stype == EUCANETD)[0]
    bogus = Finding(replace(g, perms=("frobnicate",)), ("frobnicate",), Reason.TE_RULE)
    rec = proc.Recorder()
    with pytest.raises(InstallError) as ei:
        build_module([bogus], _opts(tmp_path / "out", install=True, root=copy_root(euca_root, tmp_path / "root")),
                     record=rec)
    assert f"class {g.tclass} has no frobnicate" in str(ei.value)
    assert not any(r.argv[0] == "semodule" for r in rec.results)


@pytest.mark.slow
def test_install_into_a_store_copy_and_verify(euca_root, tmp_path, euca_denials):
    root = copy_root(euca_root, tmp_path / "root")
    steps = []
    res = build_module(_findings(euca_denials) + [_ioctl_finding(euca_denials)],
                       BuildOptions(module="eucanetd_local", out_dir=tmp_path / "out", root=root,
                                    install=True, priority=300, xperms=True),
                       progress=lambda s, d: steps.append(s))
    assert res.installed and res.missing_after_install == ()
    assert res.mls is True  # read from the root's policy
    assert steps[-3:] == [BuildStep.CHECK, BuildStep.INSTALL, BuildStep.VERIFY]
    inst = [r.argv for r in res.results if r.argv[0] == "semodule"]
    base = ("semodule", "-p", str(root.root), "-s", "default", "-X", "300")
    # the install alone: whether this package is in the store already is read in place (no semodule -E)
    assert inst == [base + ("-i", str(tmp_path / "out" / "eucanetd_local.pp"))]
    assert not res.already_installed
    assert (300, "eucanetd_local") in {(m.priority, m.name) for m in semodule.list_modules(root)}
    # the rebuilt policy grants the rules (checked independently with setools here)
    import setools

    pol = setools.SELinuxPolicy(str(root.policy_file))
    rules = list(setools.TERuleQuery(pol, ruletype=["allow"], source=EUCANETD,
                                     target="eucalyptus_var_run_t", tclass=["dir"]).results())
    assert {"add_name", "write"} <= {str(p) for r in rules for p in r.perms}
    xrules = [r for r in pol.terules() if str(r.ruletype) == "allowxperm" and str(r.source) == EUCANETD]
    assert {int(c) for r in xrules for c in r.perms} == {0x8910, 0x8933}
    # the port rule was left out, so the port bind is still denied
    binds = list(setools.TERuleQuery(pol, ruletype=["allow"], source=EUCANETD, target="unreserved_port_t",
                                     tclass=["udp_socket"], perms=["name_bind"]).results())
    assert binds == []
    # the same build again: nothing written, and the store shows the package is in place
    again = build_module(_findings(euca_denials) + [_ioctl_finding(euca_denials)],
                         BuildOptions(module="eucanetd_local", out_dir=tmp_path / "out", root=root,
                                      install=True, priority=300, xperms=True))
    assert not again.changed and again.installed and again.already_installed
    assert [r.argv for r in again.results if r.argv[0] == "semodule"] == []
    # what the store holds is what semodule -E hands back
    r = proc.run(semodule.extract_argv(root, "eucanetd_local", priority=300), cwd=tmp_path)
    assert r.ok and (tmp_path / "eucanetd_local.pp").read_bytes() == res.pp_path.read_bytes()
    assert again.missing_after_install == ()
    # at another priority it is not installed yet
    assert not semodule.is_installed(root, res.pp_path, priority=200)
