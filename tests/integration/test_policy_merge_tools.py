"""merge_modules and `avcfix merge`: merged audit2allow and refpolicy modules compile with
the real toolchain (the pure tests: tests/unit/test_policy_merge.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from policy_data import TE_DATA, load, perms_by_key, te_statement_lines
from policy_helpers import compile_refpolicy, compile_te

from avcfix.cli import main
from avcfix.policy.merge import merge_modules
from avcfix.policy.model import AvRule, HeaderStyle, RuleKind
from avcfix.policy.render import render_te
from avcfix.policy.te_parse import parse_te


def test_overlapping_audit2allow_outputs_give_one_rule_per_key(tmp_path: Path) -> None:
    a, b = load("a2a_tpm_enforcing.te"), load("a2a_tpm_permissive.te")
    merged = merge_modules([a, b], name="tpm_local")
    keys = [(r.kind, r.sources, r.targets, r.classes) for r in merged.av_rules]
    assert len(keys) == len(set(keys))
    assert perms_by_key([merged]) == perms_by_key([a, b])
    assert len(merged.rules) < len(a.rules) + len(b.rules)
    # requires recomputed: exactly the types and class perms the rules use
    used_types = {n for r in merged.av_rules for n in r.sources.names + r.targets.names} - {"self"}
    assert set(merged.require.types) == used_types
    compile_te(render_te(merged), "tpm_local", tmp_path)


def test_refpolicy_interface_calls_survive_and_compile(tmp_path: Path) -> None:
    a, b = load("a2a_refpolicy.te"), load("a2a_refpolicy_short.te")
    merged = merge_modules([a, b], name="refmerged")
    assert merged.style is HeaderStyle.POLICY_MODULE
    assert set(merged.opaque) == set(a.opaque) | set(b.opaque)
    text = render_te(merged)
    for op in a.opaque + b.opaque:
        assert op.text in text
    compile_refpolicy(text, "refmerged", tmp_path)


# ---------------------------------------------------------------- CLI


def test_cli_merge_writes_once_and_is_stable(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out" / "tpm_local.te"
    a, b = str(TE_DATA / "a2a_tpm_enforcing.te"), str(TE_DATA / "a2a_tpm_permissive.te")
    assert main(["merge", a, b, "-o", str(out), "--name", "tpm_local"]) == 0
    text = out.read_text()
    assert text.startswith("module tpm_local 1.0;\n")
    compile_te(text, "tpm_local", tmp_path / "build")
    stamp = out.stat().st_mtime_ns
    os.utime(out, ns=(stamp - 10_000_000_000, stamp - 10_000_000_000))
    stamp = out.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["merge", str(out), a, "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] is False and summary["module"] == "tpm_local"
    assert summary["added"] == []  # the enforcing run's rules are all in the merged file already
    assert main(["merge", a, b, "--json", "-o", str(tmp_path / "again.te")]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == [
        "allow sysadm_t bootloader_t:process { noatsecure rlimitinh siginh };"]
    assert summary["rules"] == len(parse_te(text).rules)
    assert out.stat().st_mtime_ns == stamp


def test_corpus_audit2allow_rule_lists_merge_into_a_compilable_module(corpus_dir: Path, tmp_path: Path) -> None:
    """Headerless ``audit2allow`` output (rules only) from the corpus gets a
    computed require block and compiles."""
    files = sorted(corpus_dir.glob("selinux_*.audit2allow-noanalysis.txt"))
    if not files:
        pytest.skip("no audit2allow outputs in the corpus")
    modules = [parse_te(f.read_text(), str(f)) for f in files]
    merged = merge_modules(modules, name="corpus_merged")
    assert perms_by_key([merged]) == perms_by_key(modules)
    assert all(isinstance(r, AvRule) and r.kind is RuleKind.ALLOW for r in merged.rules)
    text = render_te(merged)
    assert len(te_statement_lines(text)) > len(merged.rules)
    compile_te(text, "corpus_merged", tmp_path)


def test_fixture_refpolicy_module_survives_merge_and_builds(tmp_path: Path) -> None:
    """avcfix/lab/policies/eucalyptus.te (declarations, interface calls, permission-set
    macros) merged with itself renders to a module the devel Makefile builds."""
    path = TE_DATA.parents[2] / "avcfix" / "lab" / "policies" / "eucalyptus.te"
    m = parse_te(path.read_text(), str(path))
    merged = merge_modules([m, m])
    assert merged.opaque == m.opaque and merged.declarations == m.declarations
    text = render_te(merged)
    assert parse_te(text) == merged
    compile_refpolicy(text, "eucalyptus", tmp_path)
