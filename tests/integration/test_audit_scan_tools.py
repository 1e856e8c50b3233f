"""scan() through the command line: a huge timestamp through every output (bundle
included), and read-once sources (FIFOs, pipes, stdin) in a child avcfix. The
pure tests: tests/unit/test_audit_scan.py."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from audit_lines import avc, cwd, path, syscall, write

# --- malformed records (issue 12) ------------------------------------------------------


def test_huge_timestamp_never_reaches_the_outputs(tmp_path, capsys):
    """BUG 5: ``audit(99999999999999999999.5:8)`` made the report, --raw and
    bundle die with OverflowError; it is now a skipped line like any other."""
    from avcfix.cli import main

    p = write(tmp_path, [avc(7), avc(8, t="99999999999999999999.5"), syscall(8, t="99999999999999999999.5")])
    runs = {
        "report": ["why", p],
        "raw": ["why", "--raw", p],
        "json": ["why", "--json", p],
        "bundle": ["bundle", "-o", str(tmp_path / "b.tar.gz"), p],
    }
    for name, argv in runs.items():
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, (name, err)
        assert "internal error" not in err and "OverflowError" not in err, name
        assert f"{p}:2: bad event id" in err and "time over 10 digits" in err, (name, err)
        if name == "json":
            assert [d["serial"] for d in json.loads(out)["denials"]] == [7]
        else:
            assert "99999999999999999999" not in out, name
    assert (tmp_path / "b.tar.gz").stat().st_size > 0


# --- read-once sources: pipes and FIFOs (issue 12) -----------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

#: Far past the 8 KiB a buffered 2-byte sniff pulls from a pipe.
BIG_LINES = [line for n in range(1, 1500) for line in (avc(n, perm=("read", "write", "open")[n % 3],
                                                           stype=f"d{n % 7}_t"), syscall(n),
                                                       path(n, f"/var/x{n}"), cwd(n, "/"))]
TIMEOUT = 120


def _avcfix(args: list[str], cwd: str, pass_fds: tuple[int, ...] = ()) -> subprocess.CompletedProcess:
    """``avcfix ARGS`` in a child (a read-once source needs a real open); a
    hang is a failure (killed at TIMEOUT), never a wait forever."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "AVCFIX_PURE")}
    env["COLUMNS"] = "120"
    try:
        return subprocess.run([sys.executable, "-m", "avcfix", *args], cwd=cwd, capture_output=True,
                              timeout=TIMEOUT, pass_fds=pass_fds, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"avcfix {' '.join(args)} hung on a read-once source")


def _feed(target, data: bytes) -> threading.Thread:
    """Write ``data`` to ``target`` (a FIFO path or a pipe fd) in a thread, then close it."""
    def run() -> None:
        try:
            if isinstance(target, int):
                with open(target, "wb", closefd=True) as fh:
                    fh.write(data)
            else:
                with open(target, "wb") as fh:
                    fh.write(data)
        except (BrokenPipeError, OSError):
            pass  # the reader gave up: its own failure is what the test reports

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _contents(gzipped: bool) -> bytes:
    data = ("\n".join(BIG_LINES) + "\n").encode()
    assert len(data) > 256 * 1024
    return gzip.compress(data) if gzipped else data


OUTPUTS = [["why", "--json"], ["why"], ["why", "--raw"], ["why", "--json", "--jobs", "2"]]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_named_fifo_reads_like_the_file(tmp_path, gzipped):
    """``mkfifo`` + a writer: the same bytes as the regular file of the same
    name (the name is in the output), for every output and --jobs 2."""
    data = _contents(gzipped)
    reg, fifo = tmp_path / "reg", tmp_path / "fifo"
    reg.mkdir()
    fifo.mkdir()
    (reg / "audit.log").write_bytes(data)
    os.mkfifo(fifo / "audit.log")
    for args in OUTPUTS:
        want = _avcfix([*args, "audit.log"], cwd=str(reg))
        assert want.returncode == 0, want.stderr.decode()
        writer = _feed(str(fifo / "audit.log"), data)
        got = _avcfix([*args, "audit.log"], cwd=str(fifo))
        writer.join(TIMEOUT)
        assert got.returncode == 0, (args, got.stderr.decode())
        assert got.stdout == want.stdout, args
        assert got.stderr == want.stderr, args
        if args == ["why", "--json"]:
            assert json.loads(got.stdout)["stats"]["denials"] == 1499


#: A fixed descriptor number, so that the regular-file run and the pipe run
#: both read /dev/fd/N (the name is in the output).
FD = 213


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_process_substitution_reads_like_the_file(tmp_path, gzipped):
    """``avcfix why <(cat log)``: /dev/fd/N of a pipe gives the bytes that
    /dev/fd/N of the regular file gives (it exited 3, Illegal seek, or read
    nothing)."""
    data = _contents(gzipped)
    log = tmp_path / "audit.log"
    log.write_bytes(data)
    with pytest.raises(OSError):
        os.fstat(FD)  # free
    for args in OUTPUTS:
        fd = os.open(log, os.O_RDONLY)
        os.dup2(fd, FD)
        os.close(fd)
        try:
            want = _avcfix([*args, f"/dev/fd/{FD}"], cwd=str(tmp_path), pass_fds=(FD,))
        finally:
            os.close(FD)
        assert want.returncode == 0, want.stderr.decode()
        r, w = os.pipe()
        os.dup2(r, FD)
        os.close(r)
        try:
            writer = _feed(w, data)
            got = _avcfix([*args, f"/dev/fd/{FD}"], cwd=str(tmp_path), pass_fds=(FD,))
        finally:
            os.close(FD)
        writer.join(TIMEOUT)
        assert got.returncode == 0, (args, got.stderr.decode())
        assert got.stdout == want.stdout, args
        assert got.stderr == want.stderr, args


def test_stdin_pipe_reads_like_the_file(tmp_path):
    """``cat log | avcfix why --json -``: the same denials and counts (the
    source's name is ``<stdin>``)."""
    data = _contents(False)
    log = tmp_path / "audit.log"
    log.write_bytes(data)
    want = _avcfix(["why", "--json", str(log)], cwd=str(tmp_path))
    env = {k: v for k, v in os.environ.items() if k != "AVCFIX_PURE"}
    got = subprocess.run([sys.executable, "-m", "avcfix", "why", "--json", "-"], input=data, capture_output=True,
                         timeout=TIMEOUT, env=env, cwd=str(tmp_path))
    assert got.returncode == want.returncode == 0
    assert got.stdout.replace(b'"<stdin>"', b"X") == want.stdout.replace(f'"{log}"'.encode(), b"X")
