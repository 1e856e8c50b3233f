"""The benchmark's log generator (bench/gen.py): deterministic, realistic, readable by the real tools."""

from __future__ import annotations

import importlib.util
import io
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from syscall_arches import needs_libaudit

PROJECT = Path(__file__).resolve().parents[2]


def _load_gen():
    spec = importlib.util.spec_from_file_location("bench_gen", PROJECT / "bench" / "gen.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen = _load_gen()

STAMP = re.compile(r"^type=(\w+) msg=audit\((\d+)\.(\d{3}):(\d+)\): ")


def make(lines: int, seed: int = 1):
    buf = io.StringIO()
    stats = gen.write_log(buf, lines, seed=seed)
    return buf.getvalue(), stats


def events_of(text: str) -> dict[int, list[tuple[str, str]]]:
    """serial -> [(type, line)], checking every line's stamp on the way."""
    events: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for line in text.splitlines():
        m = STAMP.match(line)
        assert m, line
        events[int(m.group(4))].append((m.group(1), line))
    return events


@pytest.fixture(scope="module")
def sample():
    return make(30000)


def test_same_seed_same_bytes_other_seed_other_bytes():
    a, _ = make(3000, seed=7)
    b, _ = make(3000, seed=7)
    c, _ = make(3000, seed=8)
    assert a == b
    assert a != c


def test_exact_line_count(sample):
    text, stats = sample
    assert text.count("\n") == 30000 == stats.lines
    for n in (0, 1, 2, 5, 17):
        small, st = make(n)
        assert small.count("\n") == n == st.lines


def test_timestamps_and_serials_increase(sample):
    text, stats = sample
    last_time, last_serial = -1, -1
    for line in text.splitlines():
        m = STAMP.match(line)
        t, serial = int(m.group(2)) * 1000 + int(m.group(3)), int(m.group(4))
        assert t >= last_time
        assert serial >= last_serial
        if serial == last_serial:
            assert t == last_time  # records of one event share the stamp
        last_time, last_serial = t, serial
    assert stats.first_serial == int(STAMP.match(text).group(4))
    assert stats.last_serial == last_serial


def test_denial_share_is_about_one_in_seven(sample):
    text, stats = sample
    events = events_of(text)
    denial = [s for s, recs in events.items() if any(t == "AVC" for t, _ in recs)]
    assert len(events) == stats.events
    assert len(denial) == stats.denial_events
    assert 0.12 < len(denial) / len(events) < 0.165
    # Most *lines* are still unrelated to denials.
    denial_lines = sum(len(events[s]) for s in denial)
    assert denial_lines / stats.lines < 0.35


def test_every_denial_event_has_its_context(sample):
    text, _ = sample
    for recs in events_of(text).values():
        types = [t for t, _ in recs]
        if "AVC" not in types:
            continue
        assert types.count("SYSCALL") == 1, recs
        assert types[-1] == "PROCTITLE"
        assert types.index("AVC") < types.index("SYSCALL")  # the kernel logs the AVC first
        syscall = next(line for t, line in recs if t == "SYSCALL")
        if " syscall=42 " in syscall or " syscall=49 " in syscall:  # connect, bind
            assert "SOCKADDR" in types
        elif " syscall=16 " not in syscall:  # ioctl works on an fd: no path lookup
            assert "CWD" in types and "PATH" in types


def test_realistic_mix(sample):
    text, stats = sample
    types = {STAMP.match(line).group(1) for line in text.splitlines()}
    for expected in ("SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "USER_ACCT", "USER_START", "CRED_ACQ",
                     "LOGIN", "SERVICE_START", "SERVICE_STOP", "BPF", "NETFILTER_CFG", "SOCKADDR", "AVC"):
        assert expected in types
    assert stats.permissive_avcs > 0
    assert text.count("permissive=1") == stats.permissive_avcs
    assert text.count("type=AVC ") == stats.avc_records
    assert 0 < stats.permissive_avcs < stats.avc_records / 4
    # Some untrusted strings are hex-encoded, as the kernel does for spaces.
    assert re.search(r" name=[0-9A-F]{8,} ", text)
    assert re.search(r" comm=[0-9A-F]{8,} ", text)
    assert re.search(r" cwd=[0-9A-F]{8,}", text)


def test_enc_matches_the_kernel_rule():
    assert gen.enc("httpd") == '"httpd"'
    assert gen.enc("My Page.html") == "4D7920506167652E68746D6C"
    assert gen.enc('a"b') == "612262"
    assert gen.proctitle(("/usr/sbin/named", "-f")) == "2F7573722F7362696E2F6E616D6564002D66"
    assert gen.proctitle(("x" * 200, "y")) == '"' + "x" * 128 + '"'  # cut at 128 bytes: no NUL left
    assert bytes.fromhex(gen.proctitle(("x" * 120, "y" * 20))).decode() == "x" * 120 + "\0" + "y" * 7


AUSEARCH = shutil.which("ausearch")


@pytest.mark.skipif(AUSEARCH is None, reason="ausearch (auditd) not installed")
def test_ausearch_reads_every_denial_event(tmp_path: Path):
    log = tmp_path / "audit.log"
    with log.open("w") as fh:
        stats = gen.write_log(fh, 20000, seed=3)
    cp = subprocess.run([AUSEARCH, "-if", str(log), "-m", "AVC", "--raw"], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    serials = {int(m.group(4)) for m in map(STAMP.match, cp.stdout.splitlines()) if m}
    assert len(serials) == stats.denial_events > 500
    # ausearch keeps whole events: every SYSCALL of a denial comes along.
    assert cp.stdout.count("type=SYSCALL ") == stats.denial_events
    # And it understands every record: nothing is reported as malformed.
    everything = subprocess.run([AUSEARCH, "-if", str(log), "--raw"], capture_output=True, text=True)
    assert everything.stdout.count("\n") == stats.lines


def test_scenarios_exist_in_the_reference_policy(ref_policy: Path):
    setools = pytest.importorskip("setools")
    policy = setools.SELinuxPolicy(str(ref_policy))
    for sc in gen.SCENARIOS:
        types = [sc.scontext.split(":")[2]] + [a.tcontext.split(":")[2] for a in sc.accesses]
        for name in types:
            policy.lookup_type(name)  # raises InvalidType
        for acc in sc.accesses:
            cls = policy.lookup_class(acc.tclass)
            perms = set(cls.perms)
            try:
                perms |= set(cls.common.perms)
            except setools.exception.NoCommon:
                pass
            assert set(acc.perms.split()) <= perms, (sc.key, acc)


@pytest.mark.skipif(shutil.which("audit2allow") is None, reason="audit2allow not installed")
def test_denials_are_really_denied_by_the_reference_policy(ref_policy: Path, tmp_path: Path):
    """audit2allow finds a rule for every scenario, none of them already allowed."""
    log = tmp_path / "audit.log"
    with log.open("w") as fh:
        gen.write_log(fh, 6000, seed=5)
    cp = subprocess.run(["audit2allow", "-p", str(ref_policy), "-i", str(log)], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    assert "allowed in the current policy" not in cp.stdout
    for sc in gen.SCENARIOS:
        source = sc.scontext.split(":")[2]
        for acc in sc.accesses:
            target = acc.tcontext.split(":")[2]
            target = "self" if target == source else target
            assert f"allow {source} {target}:{acc.tclass} " in cp.stdout, (sc.key, acc)


@needs_libaudit
def test_the_generators_syscall_numbers_are_libaudits():
    """bench/gen.py writes x86_64 numbers from its own table (so it runs without
    python3-audit); each is the number libaudit gives the name."""
    from avcfix.audit import syscalls

    assert gen.X86_64_SYSCALLS, "the table is empty"
    for name, nr in gen.X86_64_SYSCALLS.items():
        assert syscalls.syscall_number("x86_64", name) == nr, name
