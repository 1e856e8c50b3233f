"""Regression tests for what tests/test_fuzz_cli.py found (each failed before its fix)."""

from __future__ import annotations

from pathlib import Path

from bundle_helpers import EUCANETD_LOG, haystack, members, run


def test_redact_hides_the_node_of_a_skipped_line(capsys, tmp_path: Path):
    """A line that is not a whole audit record is skipped, and its excerpt goes
    into denials.json and README.md: a ``node=HOST`` in it must be redacted too
    (the fuzz test's minimal case: one line ``node=fuzzhost.example.org xxx...``)."""
    log = tmp_path / "audit.log"
    log.write_bytes(b"node=fuzzhost.example.org " + b"x" * 300 + b"\n" + EUCANETD_LOG.read_bytes())
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(log), "--redact", "-o", str(out))
    assert code == 0, err
    files = members(out.read_bytes())
    assert b"not an audit record" in files["denials.json"]  # the excerpt is there...
    assert "fuzzhost" not in haystack(files)  # ...without the host name
    assert b"node=host-1" in files["denials.json"]
