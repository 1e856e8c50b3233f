"""Redaction (``avcfix bundle --redact``) keeps correlation: the redacted events
log gives the same rules on the reference policy (the pure tests:
tests/unit/test_bundle_redact.py)."""

from __future__ import annotations

import json

from bundle_helpers import (
    EUCANETD_LOG,
    FIXED_SECRETS,
    Secrets,
    haystack,
    hostile_log,
    members,
    run,
    secrets_log,
)


def _rules(doc: dict) -> list[tuple]:
    return [(r["source"], r["target"], r["class"], tuple(r["perms"]), r["count"], r["reason"], tuple(r["ports"]))
            for r in doc["rules"]]


def test_redacted_events_log_gives_the_same_rules(tmp_path, capsys, ref_policy):
    s = Secrets("web01.corp.example", "db-main", "jump.lan", "alice", 1234, 1500, "10.20.30.40",
                "172.16.5.9", "2a01:4f8::17")
    log = tmp_path / "audit.log"
    log.write_text(hostile_log(s) + EUCANETD_LOG.read_text() + secrets_log(FIXED_SECRETS))
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(log), "--redact", "--policy", str(ref_policy), "-o", str(out))
    assert code == 0, err
    files = members(out.read_bytes())
    assert "alice" not in haystack(files)
    assert not any(v in haystack(files) for v in FIXED_SECRETS.values())
    back = tmp_path / "events.log"
    back.write_bytes(files["events.log"])
    _, before, _ = run(capsys, "why", "--json", str(log), "--policy", str(ref_policy))
    _, after, _ = run(capsys, "why", "--json", str(back), "--policy", str(ref_policy))
    assert _rules(json.loads(after)) == _rules(json.loads(before))
    assert _rules(json.loads(files["denials.json"])) == _rules(json.loads(before))
    # event correlation survives too: the same events, the same denials per event (events.log is
    # in time order, the input was not)
    def ids(doc):
        return sorted((d["serial"], d["source"], d["target"], d["tclass"], d["syscall"], d["exit"], d["port"])
                      for d in doc["denials"])
    assert ids(json.loads(after)) == ids(json.loads(before))
