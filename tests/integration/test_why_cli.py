"""`avcfix why` end to end: outputs, filters, exit codes, hostile log text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from avcfix.cli import main
from avcfix.errors import ExitCode

PROJECT = Path(__file__).resolve().parents[2]
EUCA = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")

DENIAL_KEYS = {"node", "serial", "time", "scontext", "tcontext", "tclass", "perms", "permissive", "comm", "exe",
               "syscall", "paths"}
RULE_KEYS = {"source", "target", "class", "perms", "count", "permissive", "reason", "advice", "risks"}


def why(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["why", *args])
    out, err = capsys.readouterr()
    return code, out, err


def why_json(capsys, *args: str) -> dict:
    code, out, err = why(capsys, "--json", *args)
    assert code == 0, err
    return json.loads(out)


def _walk_strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _walk_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk_strings(v)


def test_json_document(capsys):
    doc = why_json(capsys, EUCA)
    assert list(doc) == ["denials", "rules", "skipped", "sources", "stats"]
    stats = doc["stats"]
    assert all(isinstance(stats[k], int) for k in ("lines", "events", "denials", "skipped_lines"))
    assert (stats["lines"], stats["events"], stats["denials"], stats["skipped_lines"]) == (43, 14, 8, 0)
    assert len(doc["denials"]) == 8
    for d in doc["denials"]:
        assert DENIAL_KEYS <= set(d) and list(d) == sorted(d)
        assert isinstance(d["serial"], int) and isinstance(d["time"], float)
        assert d["perms"] == sorted(d["perms"]) and isinstance(d["permissive"], bool)
        assert d["node"] is None or isinstance(d["node"], str)
        assert isinstance(d["paths"], list)
    bind = next(d for d in doc["denials"] if d["tclass"] == "udp_socket")
    assert (bind["syscall"], bind["comm"], bind["exe"], bind["port"]) == ("bind", "eucanetd", "/usr/sbin/eucanetd", 63822)
    assert bind["scontext"] == "system_u:system_r:eucalyptus_eucanetd_t:s0"
    for r in doc["rules"]:
        assert RULE_KEYS <= set(r) and list(r) == sorted(r)
        assert r["perms"] == sorted(r["perms"]) and r["count"] >= 1
        for a in r["advice"]:
            assert set(a) == {"kind", "command", "confidence", "why", "advisor", "acts_on", "evidence"}
            assert a["advisor"] and isinstance(a["evidence"], list)
        assert r["object"] is None or r["object"]["kind"] in {"path", "fd", "port", "subject", "other", "unknown"}
    keys = {(r["source"], r["target"], r["class"], r["permissive"]) for r in doc["rules"]}
    assert ("eucalyptus_cloud_t", "eucalyptus_cloud_t", "capability", False) in keys
    cloud = [r for r in doc["rules"] if r["source"] == "eucalyptus_cloud_t"]
    assert set().union(*(r["perms"] for r in cloud)) == {"dac_override", "dac_read_search"}


def test_json_has_no_self_in_log_derived_fields(capsys):
    doc = why_json(capsys, EUCA)
    for d in doc["denials"]:
        assert "self" not in (d["source"], d["target"])
    for r in doc["rules"]:
        assert "self" not in (r["source"], r["target"])


def test_json_is_deterministic(capsys):
    first = why(capsys, "--json", EUCA, EUCA)[1]
    second = why(capsys, "--json", EUCA, EUCA)[1]
    assert first == second and first.endswith("}\n")


def test_json_through_the_console_script():
    exe = PROJECT / ".venv" / "bin" / "avcfix"
    if not exe.exists():
        pytest.skip("no .venv/bin/avcfix (run make setup)")
    proc = subprocess.run([str(exe), "why", "--json", EUCA], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stats"]["denials"] == 8


def test_json_goes_to_stdout_when_stderr_is_a_terminal(tmp_path):
    """The progress bar is drawn on a terminal stderr; it must not take the
    document written to stdout (``avcfix why --json LOG > out.json``)."""
    import os
    import pty

    exe = PROJECT / ".venv" / "bin" / "avcfix"
    if not exe.exists():
        pytest.skip("no .venv/bin/avcfix (run make setup)")
    out = tmp_path / "out.json"
    leader, follower = pty.openpty()
    try:
        with out.open("w") as fh:
            proc = subprocess.run([str(exe), "why", "--json", "--jobs", "1", EUCA], stdout=fh, stderr=follower,
                                  stdin=subprocess.DEVNULL, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    assert json.loads(out.read_text())["stats"]["denials"] == 8


def test_rich_report(capsys):
    code, out, err = why(capsys, "--format", "rich", EUCA)
    assert code == 0
    for needle in ("eucalyptus_eucanetd_t", "eucalyptus_cloud_t", "unreserved_port_t", "name_bind",
                   "dac_override", "evidence", "8 denials in 7 groups"):
        assert needle in out
    assert err == ""


def test_raw_prints_events_in_ausearch_layout(capsys, tmp_path):
    code, out, _ = why(capsys, "--raw", "--domain", "eucalyptus_cloud_t", EUCA)
    assert code == 0
    assert out.count("----\n") == 2
    assert out.count("type=AVC") == 2 and out.count("type=SYSCALL") == 2 and out.count("type=PROCTITLE") == 2
    again = tmp_path / "raw.log"
    again.write_text(out)
    doc = why_json(capsys, str(again))
    assert doc["stats"]["skipped_lines"] == 0 and doc["stats"]["denials"] == 2


def test_filters(capsys):
    doc = why_json(capsys, "--domain", "eucalyptus_eucanetd_t", EUCA)
    assert {d["source"] for d in doc["denials"]} == {"eucalyptus_eucanetd_t"} and len(doc["denials"]) == 5
    assert why_json(capsys, "--domain", "eucalyptus", EUCA)["denials"] == []
    assert {d["comm"] for d in why_json(capsys, "--comm", "agetty", EUCA)["denials"]} == {"agetty"}
    since = why_json(capsys, "--since", "1700000061", "--until", "1700000061.5", EUCA)["denials"]
    assert sorted(d["serial"] for d in since) == [4110, 4111]


def test_bad_time_is_usage_error(capsys):
    code, _, err = why(capsys, "--since", "next tuesday", EUCA)
    assert code == ExitCode.USAGE
    assert "next tuesday" in err


def test_raw_and_json_together_is_usage_error(capsys):
    assert why(capsys, "--raw", "--json", EUCA)[0] == ExitCode.USAGE


def test_missing_file_and_directory(capsys, tmp_path):
    code, out, err = why(capsys, str(tmp_path / "nope.log"))
    assert code == ExitCode.INPUT and "nope.log" in err and out == ""
    code, _, err = why(capsys, str(tmp_path))
    assert code == ExitCode.INPUT and "directory" in err
    code, out, err = why(capsys, "--json", EUCA, str(tmp_path / "nope.log"))
    assert code == ExitCode.INPUT and out == ""  # nothing half-written


def test_default_source_message(capsys, tmp_path, monkeypatch):
    import avcfix.cli.common as common

    monkeypatch.setattr(common, "DEFAULT_LOG", str(tmp_path / "audit.log"))
    code, _, err = why(capsys)
    assert code == ExitCode.INPUT
    assert "by default" in err and "stdin" in err


def test_skipped_lines_reported_and_strict(capsys, tmp_path):
    log = tmp_path / "mixed.log"
    log.write_text(Path(EUCA).read_text() + "garbage line\n\x00\x01 binary\n")
    code, _, err = why(capsys, str(log))
    assert code == 0
    assert "skipped 2 lines" in err and f"{log}:44" in err and f"{log}:45" in err
    code, out, err = why(capsys, "--strict", "--json", str(log))
    assert code == ExitCode.STRICT
    assert json.loads(out)["stats"]["skipped_lines"] == 2
    assert why(capsys, "--strict", EUCA)[0] == 0


def test_stdin(capsys, monkeypatch):
    import io

    data = Path(EUCA).read_bytes()

    class FakeStdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    doc = why_json(capsys, "-")
    assert doc["stats"]["denials"] == 8 and doc["sources"] == ["<stdin>"]


def test_hostile_log_text_is_inert(capsys, tmp_path):
    evil = ('type=AVC msg=audit(1700000000.000:1): avc:  denied  { read } for  pid=1 '
            'comm=5B626F6C645D1B5B33316D6576696C name="[red]x[/red]" '
            "scontext=system_u:system_r:a_t:s0 tcontext=system_u:object_r:b_t:s0 tclass=file permissive=0\n")
    log = tmp_path / "evil.log"
    log.write_text(evil + "\x1b[31mred garbage\n")
    code, out, err = why(capsys, str(log))
    assert code == 0
    assert "\x1b" not in out and "\x1b" not in err
    assert "[bold]\\x1b[31mevil" in out  # markup shown literally, escape made visible
    doc = why_json(capsys, str(log))
    assert doc["denials"][0]["comm"] == "[bold]\x1b[31mevil"  # JSON keeps the exact text, escaped by JSON


# --- parallel --json ---------------------------------------------------------------

def _gen_log(tmp_path, lines: int) -> str:
    gen = PROJECT / "bench" / "gen.py"
    if not gen.exists():
        pytest.skip("bench/gen.py not present")
    out = tmp_path / "gen.log"
    subprocess.run([sys.executable, str(gen), "--lines", str(lines), "-o", str(out), "--seed", "3"], check=True)
    return str(out)


@pytest.mark.parametrize("jobs", ["2", "3", "5"])
def test_parallel_json_is_byte_identical(capsys, tmp_path, jobs):
    log = _gen_log(tmp_path, 30000)
    with open(log, "a") as fh:  # skipped lines and their numbers must survive the cut too
        fh.write("garbage at the end\n")
    seq = why(capsys, "--json", "--jobs", "1", log)
    par = why(capsys, "--json", "--jobs", jobs, log)
    assert seq[0] == par[0] == 0
    assert seq[1] == par[1]
    assert json.loads(par[1])["skipped"][0]["line"] == 30001


def test_parallel_json_filters_and_small_files(capsys):
    seq = why(capsys, "--json", "--domain", "eucalyptus_eucanetd_t", EUCA)[1]
    assert why(capsys, "--json", "--jobs", "2", "--domain", "eucalyptus_eucanetd_t", EUCA)[1] == seq


def test_parallel_report_matches_sequential(capsys, tmp_path):
    log = _gen_log(tmp_path, 20000)
    seq = why(capsys, "--jobs", "1", log)
    par = why(capsys, "--jobs", "3", log)
    assert seq[0] == par[0] == 0
    assert seq[1] == par[1] and "denials in" in par[1]


@pytest.mark.parametrize("args", [["why", "--json"], ["why", "--format", "rich"], ["why", "--raw"], ["why", "--json", "--jobs", "2"],
                                  ["build", "--all-domains", "--json"]])
def test_closed_stdout_is_a_quiet_documented_exit(tmp_path, args):
    """``avcfix why --json LOG | head -1``: the reader goes away after a few
    bytes. Exit 141 (CLOSED_PIPE), nothing on stderr but avcfix's own notes:
    no traceback, no 'internal error', no 'Exception ignored' (it was exit 1)."""
    import os

    log = _gen_log(tmp_path, 20000)
    argv = [sys.executable, "-m", "avcfix", *args, log]
    if args[0] == "build":
        argv += ["--out-dir", str(tmp_path / "out")]
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(argv, stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    if args[0] == "build":
        # build's whole document (~8 KB) fits in the pipe buffer: a reader that
        # read 64 bytes first could leave after the last write (exit 0, a race);
        # a reader gone before the first write is the same closed stdout
        os.close(read_end)
    else:
        with os.fdopen(read_end, "rb") as reader:
            assert reader.read(64)
    _, err = proc.communicate(timeout=300)
    text = err.decode(errors="replace")
    assert proc.returncode == ExitCode.CLOSED_PIPE == 141, text
    for marker in ("Traceback", "internal error", "Exception ignored", "This is a bug"):
        assert marker not in text
