"""Redacted bundles of real logs (``../shared/corpus``) keep every rule: avcfix
``why --json`` and sepolgen's ``audit2allow`` give the same result on the
redacted ``events.log`` as on the original log."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from bundle_helpers import members, run

#: Formats: raw, ausearch -i, ENRICHED, wrapped, Android logcat, node= prefixes, USER_AVC.
CORPUS_LOGS = (
    "android_logcat_tecno_kelly_recovery_denials.txt",
    "avcparser_dontaudit_AVC.log.ausearch.txt",
    "avcparser_network_AVC.log",
    "insights_sealert_reports.txt",
    "plaso_audit_avc.log",
    "selinux_audit2allow_test.log",
    "selinux_notebook_auditing_wrapped.txt",
    "selinux_sepolgen_test_data_short.log",
    "udica_append_avc_file.log",
    "wazuh_auditd_ini_selected.log",
)


def _rules(doc: dict) -> list[tuple]:
    return sorted((r["source"], r["target"], r["class"], tuple(r["perms"]), r["count"]) for r in doc["rules"])


@pytest.mark.parametrize("name", CORPUS_LOGS)
def test_redacted_corpus_bundle_keeps_the_rules(name, corpus_dir, tmp_path, capsys, ref_policy):
    log = corpus_dir / name
    if not log.is_file():
        pytest.skip(f"{name} not in the corpus")
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(log), "--redact", "--max-events", "100000", "-o", str(out))
    assert code == 0, err
    files = members(out.read_bytes())
    events = tmp_path / "events.log"
    events.write_bytes(files["events.log"])
    _, before, _ = run(capsys, "why", "--json", str(log))
    _, after, _ = run(capsys, "why", "--json", str(events))
    assert _rules(json.loads(after)) == _rules(json.loads(before))
    assert _rules(json.loads(files["denials.json"])) == _rules(json.loads(before))
    if shutil.which("audit2allow") and "logcat" not in name:
        a2a = [subprocess.run(["audit2allow", "-p", str(ref_policy), "-i", str(p)], capture_output=True,
                              text=True) for p in (log, events)]
        assert a2a[0].returncode == a2a[1].returncode
        assert a2a[1].stdout == a2a[0].stdout
