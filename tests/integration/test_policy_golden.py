"""Golden .te and .cil files, each checked by the real toolchain.

Every golden ``.te`` is compiled by checkmodule (``-M``: the reference policy
is MLS) and semodule_package; every golden ``.cil`` must equal, statement for
statement, libsepol's own translation of that compiled module to CIL; one slow
test installs both into a copy of the reference store (with the Eucalyptus
fixture module) and checks every rule with setools.

Regenerate after an intended change with ``AVCFIX_UPDATE_GOLDEN=1`` and review
the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_data import (
    GOLDEN,
    PROJECT,
    check_golden,
    cil_rule_lines,
    finding,
    group,
    groups_from_log,
    no_policy_findings,
)
from policy_helpers import compile_te, pp_to_cil

from avcfix import proc
from avcfix.policy.generate import generate_module
from avcfix.policy.model import Module
from avcfix.policy.render import render_cil, render_te
from avcfix.policy.te_parse import parse_te
from avcfix.toolchain.store import copy_root

EUCA = "eucalyptus_eucanetd_t"
CORPUS_LOG = "selinux_audit2allow_test.log"


def eucanetd_module() -> Module:
    groups = [g for g in groups_from_log(PROJECT / "fixtures" / "eucanetd" / "audit.log") if g.source == EUCA]
    return generate_module(no_policy_findings(groups), name="eucanetd_local", xperms=True).module


def corpus_module(corpus_dir: Path) -> Module:
    log = corpus_dir / CORPUS_LOG
    if not log.is_file():
        pytest.skip(f"{log} not in the corpus")
    return generate_module(no_policy_findings(groups_from_log(log)), name="corpus_multi").module


def check_module(module: Module, tmp_path: Path) -> None:
    te_text, cil_text = render_te(module), render_cil(module)
    check_golden(GOLDEN / f"{module.name}.te", te_text)
    check_golden(GOLDEN / f"{module.name}.cil", cil_text)
    assert parse_te(te_text) == module
    pp = compile_te(te_text, module.name, tmp_path)
    assert cil_rule_lines(cil_text) == cil_rule_lines(pp_to_cil(pp))


def test_eucanetd_golden(tmp_path: Path) -> None:
    module = eucanetd_module()
    assert {str(r.sources) for r in module.rules} == {EUCA}
    assert len(module.rules) == 5
    check_module(module, tmp_path)


def test_corpus_multi_domain_golden(corpus_dir: Path, tmp_path: Path) -> None:
    module = corpus_module(corpus_dir)
    assert len(module.domains) >= 5
    check_module(module, tmp_path)


def test_golden_files_are_what_the_toolchain_accepts(tmp_path: Path) -> None:
    """The golden .te files themselves (as committed) compile."""
    for te in sorted(GOLDEN.glob("*.te")):
        compile_te(te.read_text(), te.stem, tmp_path / te.stem)


def xperm_module(name: str) -> Module:
    """A generated module with allowxperm rules (ioctl commands seen on a socket)."""
    g = group(EUCA, EUCA, "udp_socket", ["ioctl"], ioctlcmds=(0x8910, 0x8933, 0x8934, 0x8935))
    return generate_module([finding(g)], name=name, xperms=True).module


@pytest.mark.slow
def test_install_golden_te_and_cil_and_check_with_setools(euca_root, tmp_path: Path) -> None:
    """One semodule transaction: the .pp from the golden .te, the golden .cil
    (under another module name), and an xperm module as .pp and as .cil, linked
    against the reference policy plus the Eucalyptus types; setools finds
    every rule in the rebuilt policy."""
    setools = pytest.importorskip("setools")
    root = copy_root(euca_root, tmp_path / "root")
    pp = compile_te((GOLDEN / "eucanetd_local.te").read_text(), "eucanetd_local", tmp_path / "build")
    cil = tmp_path / "eucanetd_local_cil.cil"
    cil.write_text((GOLDEN / "eucanetd_local.cil").read_text())
    xte = xperm_module("xperm_te")
    xpp = compile_te(render_te(xte), "xperm_te", tmp_path / "xbuild")
    xcil = tmp_path / "xperm_cil.cil"
    xcil.write_text(render_cil(xperm_module("xperm_cil")))
    res = proc.run(root.semodule_argv("-i", str(pp), "-i", str(cil), "-i", str(xpp), "-i", str(xcil)), timeout=600)
    assert res.ok, res.stderr
    listed = proc.run(root.semodule_argv("-l"), timeout=120).stdout.split()
    for name in ("eucanetd_local", "eucanetd_local_cil", "xperm_te", "xperm_cil"):
        assert name in listed

    policy = setools.SELinuxPolicy(str(root.policy_file))
    module = parse_te((GOLDEN / "eucanetd_local.te").read_text())
    for rule in module.av_rules + xte.av_rules:
        src, tgt, cls = rule.sources.single, rule.targets.single, rule.classes.single
        tgt = src if tgt == "self" else tgt
        found = list(setools.TERuleQuery(policy, ruletype=["allow"], source=src, source_indirect=False,
                                         target=tgt, target_indirect=False, tclass=[cls],
                                         perms=set(rule.perms.names)).results())
        granted = {p for r in found for p in r.perms}
        assert set(rule.perms.names) <= granted, f"not in the installed policy: {rule}"
    (xrule,) = xte.xperm_rules
    found = list(setools.TERuleQuery(policy, ruletype=["allowxperm"], source=EUCA, source_indirect=False,
                                     target=EUCA, target_indirect=False, tclass=["udp_socket"]).results())
    assert found, "allowxperm rule not in the installed policy"
    installed = set()
    for r in found:
        installed.update(int(x) for x in r.perms)
    expected = {c for lo, hi in xrule.ranges for c in range(lo, hi + 1)}
    assert expected <= installed


#: Corpus logs where avcfix's rules must equal audit2allow's (after merging
#: audit2allow's split lines): real tool output as the reference.
SAME_AS_AUDIT2ALLOW = [
    "selinux_audit2allow_test.log",
    "avcparser_tpm-enforcing.log",
    "avcparser_tpm-permissive.log",
    "android_logcat_tecno_kelly_recovery_denials.txt",
    "selinux_sepolgen_test_data_short.log",
    "avcparser_dontaudit_AVC.log",
    "plaso_audit_avc.log",
    "insights_sealert_reports.txt",
]


@pytest.mark.parametrize("log_name", SAME_AS_AUDIT2ALLOW)
def test_rules_equal_audit2allow_on_corpus(corpus_dir: Path, log_name: str) -> None:
    from avcfix.policy.merge import merge_modules
    from avcfix.policy.render import rule_te

    log = corpus_dir / log_name
    reference = corpus_dir / f"{log_name}.audit2allow-noanalysis.txt"
    if not (log.is_file() and reference.is_file()):
        pytest.skip(f"{log_name} or its audit2allow output is not in the corpus")
    ours = generate_module(no_policy_findings(groups_from_log(log)), name="x").module
    theirs = merge_modules([parse_te(reference.read_text(), str(reference))])
    assert [rule_te(r) for r in ours.rules] == [rule_te(r) for r in theirs.rules]
