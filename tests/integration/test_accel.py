"""The C accelerator (``avcfix.audit._cscan``) gives exactly what its Python twins give.

Every function of the optional extension has a pure-Python twin that stays
the reference; the C code exists only for speed, so any difference between
the two is a bug (in the C, or in the contract). Each test here runs a C
function and its twin on the same input and requires the same answer, value
and type (``1``, ``True`` and ``1.0`` are told apart), and ``None`` from the
C exactly when the twin says ``None``:

1. ``scan_block`` vs ``scanner._py_fast_block`` + ``scanner._collect``;
2. ``event_fields`` vs ``fastpath.event_fields``;
3. ``event_denials`` vs ``fastpath.build_denials(fastpath.event_fields(...))``,
   with a fresh, a warm and a one-entry memo on each side;
4. ``jsondoc.denial_text`` (C) vs ``jsondoc.py_denial_text`` vs the json module;
5. ``count_newlines`` vs ``bytes(buffer[:end]).count(b"\\n")``;
6. ``avcfix why --json`` with and without ``AVCFIX_PURE=1`` (and ``--jobs 2``).

Inputs: the shared corpus (skipped when absent), a generated log
(``bench/gen.py``), the eucanetd fixture, and hypothesis-generated text:
realistic record fragments with mutations, arbitrary bytes, mutated real
events and hostile Denial values. The C code reads untrusted log text, so on
arbitrary input it must never crash, and never raise where Python does not.

Each comparison also counts how often the C side really answered, and the
tests require it to be often: a C function that always declines (returns
``None`` and leaves the work to Python) would otherwise pass vacuously.

The whole module is skipped when the extension is not built (or
``AVCFIX_PURE=1`` is set).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import mmap
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from avcfix.audit.accel import cscan

if cscan is None:
    pytest.skip("the C accelerator avcfix.audit._cscan is not built (or AVCFIX_PURE=1 is set)",
                allow_module_level=True)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from avcfix.audit import fastpath, fields, scanner  # noqa: E402
from avcfix.audit.api import ScanStats, events_to_denials, scan  # noqa: E402
from avcfix.audit.model import Context, Denial  # noqa: E402
from avcfix.audit.sources import check_source, read_blocks  # noqa: E402
from avcfix.report import jsondoc  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]
FIXTURE = PROJECT / "fixtures" / "eucanetd" / "audit.log"
CORPUS = PROJECT.parent / "shared" / "corpus"
GEN = PROJECT / "bench" / "gen.py"

SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------ helpers

def typed(x: object) -> object:
    """``x`` with the type of every value in it (so that ``1``, ``True`` and ``1.0`` differ)."""
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(typed(v) for v in x))
    if isinstance(x, dict):
        return ("dict", frozenset((typed(k), typed(v)) for k, v in x.items()))
    if isinstance(x, (set, frozenset)):
        return (type(x).__name__, frozenset(typed(v) for v in x))
    if isinstance(x, float):
        return ("float", x.hex())
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__, tuple((f.name, typed(getattr(x, f.name))) for f in dataclasses.fields(x)))
    return (type(x).__name__, x)


def outcome(fn, *args):
    """``("ok", result)`` or ``("raise", exception type)``."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - compared, not swallowed
        return ("raise", type(exc))


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The logs of the corpus (not its README, SOURCE notes or audit2allow outputs)."""
    return [p for p in sorted(corpus_dir.rglob("*"))
            if p.is_file() and p.name != "README.md"
            and not p.name.endswith((".SOURCE.txt", ".audit2allow-noanalysis.txt"))]


def raw_events(path: Path) -> list[scanner.RawEvent]:
    """Every raw event the scanner yields for ``path`` (as tests/test_audit_fastpath.py reads them)."""
    stats = ScanStats()
    blocks = (b for b, _ in read_blocks(check_source(str(path))))
    return list(scanner.scan_raw_events(blocks, str(path), stats, stats.skip))


@pytest.fixture(scope="module")
def gen_log(tmp_path_factory) -> Path:
    """A generated raw log: 20000 lines, seed 7."""
    if not GEN.exists():
        pytest.skip("bench/gen.py not present")
    out = tmp_path_factory.mktemp("accel") / "gen.log"
    subprocess.run([sys.executable, str(GEN), "--lines", "20000", "-o", str(out), "--seed", "7"],
                   check=True, capture_output=True)
    return out


def test_the_accelerator_is_wired_in():
    """The twins under test are the ones the program uses (else the C would be dead code)."""
    assert scanner._c_scan_block is cscan.scan_block
    assert fastpath._c_event_denials is cscan.event_denials
    assert jsondoc.denial_text is not jsondoc.py_denial_text


# ------------------------------------------------------------------ 1. scan_block

WANTED_KINDS = ("set", "dict", "frozenset")


def make_wanted(keys: list[bytes], kind: str) -> object:
    """Some keys of the block (every third) and some that are not in it."""
    pool = list(keys[::3]) + [b"9.9:9", b"node=x 1.5:9", b""]
    if kind == "set":
        return set(pool)
    if kind == "dict":  # the scanner passes its open events (a dict)
        return dict.fromkeys(pool, [])
    if kind == "frozenset":
        return frozenset(pool)
    return list(pool)


def check_block(text: bytes, end: int, first_line: int = 1, wanted: object = "set",
                with_marks: bool = True) -> bool:
    """C ``scan_block`` == the Python fast block path on ``text[:end]``; True when both answered."""
    lines = text[1:end - 1].split(b"\n")
    py = scanner._py_fast_block(text, end, lines)
    if isinstance(wanted, str):
        wanted = make_wanted(py[0] if py is not None else [], wanted)
    c = cscan.scan_block(text, end, first_line, wanted, with_marks)
    assert (c is None) == (py is None), (text[:end], end, c, py)
    if py is None:
        return False
    keys, py_marks = py
    assert type(c) is tuple and len(c) == 4, c
    nlines, seen, marks, hits = c
    expect_marks = set(py_marks) if with_marks else set()
    active = expect_marks | set(wanted)
    expect_hits = scanner._collect(keys, lines, range(first_line, first_line + len(lines)), active)
    assert nlines == len(lines), text[:end]
    assert seen == set(keys), text[:end]
    assert marks == expect_marks, text[:end]
    assert hits == expect_hits, text[:end]
    assert typed((nlines, seen, marks, hits)) == typed((len(lines), set(keys), expect_marks, expect_hits))
    return True


def check_file_blocks(path: Path) -> Counter:
    """The scanner's own blocks of ``path``, then windows of 1, 7 and 64 lines (each
    followed in ``text``, beyond ``end``, by the next lines of the file)."""
    got: Counter = Counter()
    blocks = (b for b, _ in read_blocks(check_source(str(path))))
    lineno = 1
    n = 0
    for text, end, lines in scanner._line_lists(blocks):
        if end:
            n += 1
            for with_marks in (True, False):
                got["c", check_block(text, end, lineno, WANTED_KINDS[n % 3], with_marks)] += 1
            lineno += text.count(b"\n", 0, end) - 1
        else:
            lineno += len(lines)
    data = path.read_bytes()
    all_lines = data.split(b"\n")
    if all_lines and all_lines[-1] == b"":
        all_lines.pop()
    for width in (1, 7, 64):
        for i in range(0, len(all_lines), width):
            text = b"\n" + b"\n".join(all_lines[i:i + width]) + b"\n"
            end = len(text)
            text += b"\n".join(all_lines[i + width:i + width + 2])
            ok = check_block(text, end, i + 1, WANTED_KINDS[i % 3], width != 7)
            got["w", ok] += 1
            if ok and width == 1 and (b"avc:" in text[:end] or b"SELINUX_ERR" in text[:end]):
                got["marked"] += 1
    return got


def test_scan_block_on_the_fixture():
    got = check_file_blocks(FIXTURE)
    assert got["c", True] >= 2 and got["w", True] > 30 and got["marked"] >= 7, got


def test_scan_block_on_a_generated_log(gen_log):
    got = check_file_blocks(gen_log)
    # A generated log is all raw records: every block and window goes to the C scan.
    assert got["c", False] == 0 and got["w", False] == 0 and got["c", True] >= 2, got
    assert got["marked"] > 500, got


def test_scan_block_on_the_corpus(corpus_dir):
    total: Counter = Counter()
    for path in corpus_files(corpus_dir):
        total += check_file_blocks(path)
    assert total["c", True] > 20 and total["w", True] > 20000 and total["marked"] > 5000, total
    assert total["w", False] > 1000, total  # and many windows that are not plain raw records


def test_scan_block_outside_its_input_convention():
    """A block that does not start and end with a newline, or an ``end`` out of range: ``None``."""
    text = b"\ntype=AVC msg=audit(1.5:9): avc:  denied\n"
    assert cscan.scan_block(text, len(text), 1, set(), True) is not None
    for end in (-(2**62), -1, 0, 1, len(text) + 1, 2**62):
        assert cscan.scan_block(text, end, 1, set(), True) is None, end
    assert cscan.scan_block(text[1:], len(text) - 1, 1, set(), True) is None
    assert cscan.scan_block(text, len(text) - 1, 1, set(), True) is None
    assert cscan.scan_block(b"", 0, 1, set(), True) is None


REC_TYPES = [b"AVC", b"SYSCALL", b"PATH", b"CWD", b"PROCTITLE", b"SELINUX_ERR", b"USER_AVC", b"1400",
             b"MAC_STATUS", b"X_9"]
ODD_TYPES = [b"avc", b"Avc", b"", b"A-B", b"\xc3\x89", b"AVC ", b"A\x00"]
IDS = [b"1.5:9", b"1.5:10", b"1762000000.081:43446", b"2:3"]
ODD_IDS = [b"", b"1.5:9 ", b"1.5;9", b"01/02/2025 10:11:12.5:9", b"1.5:9x", b"..:", b"1.5:9(", b"\xff"]
BODIES = [
    b'avc:  denied  { read } for  pid=1 comm="x" scontext=system_u:system_r:a_t:s0 '
    b"tcontext=system_u:object_r:b_t:s0 tclass=file permissive=0",
    b'arch=c000003e syscall=2 success=no exit=-13 a0=1 items=1 ppid=1 pid=1 comm="x" exe="/x"',
    b'item=0 name="/x" nametype=NORMAL', b'cwd="/"', b"proctitle=6C73002D6C",
    b"op=security_compute_av reason=bounds scontext=a tcontext=b tclass=c",
    b"pid=1 uid=0 msg='avc:  received policyload notice (seqno=2)'",
    b"", b"x",
]
FRAGMENTS = [b"avc:", b"SELINUX_ERR", b"audit(", b"msg=audit(", b"audit(1.5:9)", b")", b"(", b"\xff",
             b"\xe9t\xe9", b"\r", b"\t", b"\x00", b"type=AVC msg=audit(1.5:9): ", b"node=n ", b"a", b"av",
             b"c:", b"v", b"X", b"SELINUX_", b"ERR", b"type=", b" msg=", b"\n", b"\n\n", b"type=1401",
             b"type=1122"]


@st.composite
def record_lines(draw, mutate: bool = True) -> bytes:
    """A raw record line; mutated (or not) when ``mutate``."""
    rtype = draw(st.sampled_from(REC_TYPES))
    rid = draw(st.sampled_from(IDS))
    line = b"type=" + rtype + b" msg=audit(" + rid + b"): " + draw(st.sampled_from(BODIES))
    for _ in range(draw(st.integers(0, 3)) if mutate else 0):
        op = draw(st.sampled_from(["insert", "cut", "type", "id", "node", "empty", "lower", "unclosed",
                                   "twice"]))
        pos = draw(st.integers(0, len(line)))
        if op == "insert":
            line = line[:pos] + draw(st.sampled_from(FRAGMENTS)) + line[pos:]
        elif op == "cut":
            line = line[:pos] + line[pos + draw(st.integers(1, 12)):]
        elif op == "type":
            line = line.replace(b"type=" + rtype, b"type=" + draw(st.sampled_from(ODD_TYPES)), 1)
        elif op == "id":
            line = line.replace(b"(" + rid + b")", b"(" + draw(st.sampled_from(ODD_IDS)) + b")", 1)
        elif op == "node":
            line = draw(st.sampled_from([b"node=host1 ", b"host=h ", b" ", b"----", b"time->"])) + line
        elif op == "empty":
            line = b""
        elif op == "lower":
            line = line.lower()
        elif op == "unclosed":
            line = line.replace(b"(" + rid + b")", b"(" + rid, 1)
        elif op == "twice":
            line = line + b" " + line
    return line


@st.composite
def block_lines(draw) -> list[bytes]:
    """Clean raw records, the same with one line mutated, or lines all possibly mutated."""
    mode = draw(st.sampled_from(["clean", "one", "many"]))
    lines = draw(st.lists(record_lines(mutate=mode == "many"), min_size=1, max_size=12))
    if mode == "one":
        lines.insert(draw(st.integers(0, len(lines))), draw(record_lines()))
    return lines


BLOCK_KEYS = IDS + ODD_IDS + [b"node=host1 1.5:9", b"host=h 2:3"]


@st.composite
def wanted_sets(draw) -> object:
    keys = draw(st.lists(st.sampled_from(BLOCK_KEYS), max_size=4))
    kind = draw(st.sampled_from(["set", "dict", "frozenset", "list"]))
    return {"set": set, "dict": dict.fromkeys, "frozenset": frozenset, "list": list}[kind](keys)


def test_scan_block_on_generated_blocks():
    answered: Counter = Counter()

    @SETTINGS
    @given(lines=block_lines(),
           tail=st.sampled_from([b"", b"type=AVC msg=audit(1.5:9): avc: x\n", b"garbage", b"\n\n", b"audit("]),
           first_line=st.integers(1, 2**40), wanted=wanted_sets(), with_marks=st.booleans())
    def run(lines, tail, first_line, wanted, with_marks):
        text = b"\n" + b"\n".join(lines) + b"\n"
        answered[check_block(text + tail, len(text), first_line, wanted, with_marks)] += 1

    run()
    assert answered[True] >= 50, answered  # the C scan answered a good share
    assert answered[False] >= 50, answered


def test_scan_block_on_arbitrary_bytes():
    answered: Counter = Counter()

    @SETTINGS
    @given(data=st.binary(max_size=400), tail=st.binary(max_size=20), first_line=st.integers(0, 2**40),
           wanted=wanted_sets(), with_marks=st.booleans())
    def run(data, tail, first_line, wanted, with_marks):
        text = b"\n" + data + b"\n"
        answered[check_block(text + tail, len(text), first_line, wanted, with_marks)] += 1

    run()
    assert sum(answered.values()) >= 100, answered


# ------------------------------------------------------------------ 2 and 3. event_fields, event_denials

def check_event(raw: scanner.RawEvent, source: str = "x.log",
                memos: tuple[fastpath.Memo, fastpath.Memo] | None = None) -> tuple[bool, bool]:
    """C event_fields / event_denials == their Python twins on ``raw``.

    Returns whether the C answered (not ``None``) each. The denials are
    compared with a fresh memo on each side, a one-entry memo on each side,
    and ``memos`` (warm memos kept across events) when given.
    """
    py_f = outcome(fastpath.event_fields, raw)
    c_f = outcome(cscan.event_fields, raw)
    assert c_f == py_f, raw
    assert typed(c_f) == typed(py_f), raw
    pairs = [(fastpath.Memo(), fastpath.Memo()), (fastpath.Memo(limit=1), fastpath.Memo(limit=1))]
    if memos is not None:
        pairs.append(memos)
    denials_answered = False
    for py_memo, c_memo in pairs:
        fields = fastpath.event_fields(raw) if py_f[0] == "ok" else None
        py_d = ("ok", None) if fields is None else outcome(fastpath.build_denials, fields, source, py_memo)
        c_d = outcome(cscan.event_denials, raw, source, c_memo)
        assert c_d == py_d, (raw, py_memo.limit)
        assert typed(c_d) == typed(py_d), raw
        if c_d[0] == "ok" and c_d[1] is not None:
            assert [d.records for d in c_d[1]] == [d.records for d in py_d[1]] == [()] * len(c_d[1])
            assert all(type(d) is Denial for d in c_d[1])
            denials_answered = True
    return c_f[0] == "ok" and c_f[1] is not None, denials_answered


def check_events(path: Path) -> Counter:
    got: Counter = Counter()
    memos = (fastpath.Memo(), fastpath.Memo())
    for raw in raw_events(path):
        fields, denials = check_event(raw, str(path), memos)
        got["events"] += 1
        got["fields"] += fields
        got["denials"] += denials
    return got


def test_events_of_the_fixture():
    got = check_events(FIXTURE)
    assert got["events"] == got["fields"] == got["denials"] == 7, got


def test_events_of_a_generated_log(gen_log):
    got = check_events(gen_log)
    assert got["events"] > 100 and got["denials"] > 0.8 * got["events"], got


def test_events_of_the_corpus(corpus_dir):
    total: Counter = Counter()
    for path in corpus_files(corpus_dir):
        total += check_events(path)
    assert total["fields"] > 1000 and total["denials"] > 1000, total
    assert total["events"] > total["fields"], total  # and events the fast path declines


#: Handmade events for the shapes the real seeds may lack.
HANDMADE = [
    [(1, b'type=AVC msg=audit(1.5:9): avc:  denied  { ioctl } for  pid=7 comm="x" path="/dev/tty1" dev="devtmpfs" '
         b"ino=5 ioctlcmd=0x5401 scontext=u:r:a_t:s0 tcontext=u:object_r:tty_t:s0 tclass=chr_file permissive=1"),
     (2, b"type=SYSCALL msg=audit(1.5:9): arch=c000003e syscall=16 per=400000 success=no exit=-13 a0=0 a1=5401 "
         b'a2=0 a3=0 items=0 ppid=1 pid=7 auid=0 uid=0 comm="x" exe="/bin/x" key=(null)'),
     (3, b"type=PROCTITLE msg=audit(1.5:9): proctitle=2F62696E2F78002D61")],
    [(10, b'type=AVC msg=audit(2.25:11): avc:  denied  { use } for  pid=8 comm="y" capability=21 '
          b"scontext=u:r:a_t:s0 tcontext=u:r:a_t:s0 tclass=capability permissive=0"),
     (11, b'type=AVC msg=audit(2.25:11): avc:  denied  { name_connect } for  pid=8 comm="y" dest=5432 '
          b"scontext=u:r:a_t:s0 tcontext=u:object_r:port_t:s0 tclass=tcp_socket permissive=0"),
     (12, b"type=SYSCALL msg=audit(2.25:11): arch=40000003 syscall=102 success=no exit=-13 a0=3 a1=ff a2=0 a3=0 "
          b"items=0 ppid=1 pid=8 comm=7920202079 exe=2F7573722F62696E2F79"),
     (13, b"type=SOCKADDR msg=audit(2.25:11): saddr=0200153800000000000000000000000000"),
     (14, b'type=CWD msg=audit(2.25:11): cwd="/srv"')],
    [(20, b'type=AVC msg=audit(3.5:12): avc:  denied  { write } for  pid=9 comm="z" name="f" '
          b"scontext=u:r:a_t:s0 tcontext=u:object_r:b_t:s0 tclass=file permissive=0"),
     (21, b"type=SYSCALL msg=audit(3.5:12): arch=c000003e syscall=257 success=yes exit=3 a0=0 items=3 ppid=1 "
          b'pid=9 comm="z" exe="/z"'),
     (22, b"type=CWD msg=audit(3.5:12): cwd=2F746D702F6120620A"),
     (23, b'type=PATH msg=audit(3.5:12): item=2 name="../f" nametype=CREATE'),
     (24, b"type=PATH msg=audit(3.5:12): item=0 name=(null) nametype=PARENT"),
     (25, b'type=PATH msg=audit(3.5:12): item=1 name="rel/f" nametype=NORMAL'),
     (26, b'type=PROCTITLE msg=audit(3.5:12): proctitle="z"')],
]


def test_handmade_events():
    for raw in HANDMADE:
        assert check_event(raw) == (True, True), raw


@lru_cache(maxsize=1)
def seed_events() -> tuple[scanner.RawEvent, ...]:
    """Real events to mutate: the fixture, the first events of a small generated
    log, a sample of the corpus (when present) and the handmade ones."""
    seeds: list[scanner.RawEvent] = [*HANDMADE, *raw_events(FIXTURE)]
    if GEN.exists():
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "seed.log"
            subprocess.run([sys.executable, str(GEN), "--lines", "3000", "-o", str(out), "--seed", "3"],
                           check=True, capture_output=True)
            seeds += raw_events(out)[:150]
    if CORPUS.is_dir():
        for path in corpus_files(CORPUS):
            if path.stat().st_size < 400_000:
                seeds += raw_events(path)[:15]
    return tuple(seeds)


def digits(n: int) -> bytes:
    return (b"123456789" * (n // 9 + 1))[:n]


#: (a field's pattern, what it may become): giant digit runs, hex, (null), quotes, backslashes, UTF-8 and not.
SUBSTITUTIONS: list[tuple[bytes, list[bytes]]] = [
    (rb"\bpid=\d+", [b"pid=" + digits(100), b"pid=" + digits(5000), b"pid=", b"pid=12a", b"pid=-1", b'pid="1"']),
    (rb"\bsyscall=\d+", [b"syscall=" + digits(100), b"syscall=" + digits(5000), b"syscall=0x10", b"syscall="]),
    (rb"\bitem=\d+", [b"item=" + digits(100), b"item=" + digits(5000), b"item=A", b"item=-1"]),
    (rb"\bexit=-?\d+", [b"exit=-" + digits(100), b"exit=" + digits(64), b"exit=EACCES", b"exit=--1"]),
    (rb"\bsuccess=\w+", [b"success=maybe", b"success=yes", b"success=no"]),
    (rb"\barch=\w+", [b"arch=40000003", b"arch=C000003E", b"arch=", b"arch=c00000b7"]),
    (rb'\bcomm=("[^"]*"|\S+)', [b"comm=414243", b'comm="a\\b"', b'comm=""', b"comm=(null)", b"comm=z",
                                b'comm="\xc3\xa9\xff"', b"comm=E9FF", b'comm="a b"']),
    (rb'\bexe=("[^"]*"|\S+)', [b'exe="/usr/bin/\\x"', b"exe=2F62696E2F78", b'exe=""', b"exe=(null)"]),
    (rb'\bname=("[^"]*"|\S+)', [b"name=(null)", b'name=""', b"name=2F78", b'name="rel/x"', b'name="?"',
                                b'name="(null)"', b'name="/a\\\\b"', b'name="\xf0\x9f\x98\x80"', b"name=ZZ"]),
    (rb'\bcwd=("[^"]*"|\S+)', [b"cwd=2F746D70", b'cwd="(null)"', b"cwd=", b'cwd="\xff/"', b'cwd="rel"']),
    (rb"\{ [^}]* \}", [b"{read}", b"{  read  }", b"{ }", b"{ read write read }", b"{  }", b"{ read\twrite }",
                      b"{ \xc3\xa9 }", b"{ read } { write }"]),
    (rb"\bdenied\b", [b"granted", b"denied ", b"DENIED"]),
    (rb"\btclass=\S+", [b"tclass=", b'tclass="file"', b"tclass=fi\xc3\xa9le", b"tclass=\\x"]),
    (rb"\bscontext=\S+", [b"scontext=", b"scontext=x", b'scontext="a:b:c:d"', b"scontext=u:r:t:s0:c0.c1023\xff",
                          b"scontext=u:r:t"]),
    (rb"\btcontext=\S+", [b"tcontext=", b"tcontext=u:object_r:t_t:s0-s15:c0.c1023", b"tcontext=::::"]),
    (rb"\bpermissive=\d", [b"permissive=1", b"permissive=01", b"permissive=", b"permissive=\xff"]),
    (rb"\bsaddr=\S+", [b"saddr=0A001F90000000000000000000000000000000000000000000000000", b"saddr=zz", b"saddr=",
                       b"saddr=01002F746D702F736F636B00", b"saddr=02"]),
    (rb'\bproctitle=("[^"]*"|\S+)', [b'proctitle="a b"', b"proctitle=(null)", b"proctitle=00", b"proctitle=6100FF",
                                     b'proctitle="\\"']),
    (rb"\b(src|dest|lport|dport|sport)=\d+", [b"src=99999999999999999999", b"dest=" + digits(100), b"sport=x",
                                              b"lport=0"]),
    (rb"audit\(\d+\.", [b"audit(" + digits(100) + b".", b"audit(" + digits(5000) + b".", b"audit(0x1."]),
    (rb":\d+\): ", [b":" + digits(100) + b"): ", b":" + digits(5000) + b"): ", b":1 ): ", b":1):"]),
    (rb"\): ", [b": ", b")) ", b"):  ", b")"]),
]

EXTRA_FIELDS = [b" ioctlcmd=0x5401", b" ioctlcmd=5401", b" ioctlcmd=0xZZ", b" capability=21", b" capability=-1",
                b" capability=" + digits(100), b' path="/p"', b" path=2F70", b' path=""', b" dest=80",
                b" lport=x", b" pid=5", b' comm=""', b" exe=2F62696E", b" permissive=1", b' name="x y"',
                b" tclass=dir", b" scontext=u:r:c_t:s0", b" per=400000", b" sport=" + digits(100)]

INSERTS = [b'"', b"\\", b"\\x", b"\x1d", b"\r", b"(null)", b")", b"(", b"\xc3\xa9", b"\xff\xfe", b"\xf0\x9f\x98\x80",
           b"  ", b" ", b"=", b"{", b"}", b" per=400000 ", b"granted", b"pid=", b"item=", b"-", b"\x00", b"\n",
           digits(100), digits(5000), b"avc:  denied  { x } for  ", b"type=AVC msg=audit(1.5:9): "]

MUTATIONS = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 99)),
    st.tuples(st.just("dup"), st.integers(0, 99)),
    st.tuples(st.just("swap"), st.integers(0, 99), st.integers(0, 99)),
    st.tuples(st.just("insert"), st.integers(0, 99), st.integers(0, 10**4), st.sampled_from(INSERTS)),
    st.tuples(st.just("cut"), st.integers(0, 99), st.integers(0, 10**4), st.integers(1, 40)),
    st.tuples(st.just("sub"), st.integers(0, 99), st.integers(0, len(SUBSTITUTIONS) - 1), st.integers(0, 99)),
    st.tuples(st.just("suball"), st.integers(0, len(SUBSTITUTIONS) - 1), st.integers(0, 99)),
    st.tuples(st.just("extra"), st.integers(0, 99), st.sampled_from(EXTRA_FIELDS)),
    st.tuples(st.just("serial"), st.integers(0, 99)),
    st.tuples(st.just("type"), st.integers(0, 99), st.sampled_from(
        [b"AVC", b"SYSCALL", b"PATH", b"CWD", b"PROCTITLE", b"SOCKADDR", b"USER_AVC", b"SELINUX_ERR", b"AVC_PATH",
         b"EXECVE", b"avc", b"A1"])),
)


def mutate(raw: scanner.RawEvent, ops: list[tuple]) -> scanner.RawEvent:
    recs = list(raw)
    for op in ops:
        if not recs:
            break
        i = op[1] % len(recs) if op[0] != "suball" else 0
        line, rec = recs[i]
        if op[0] == "drop":
            del recs[i]
        elif op[0] == "dup":
            recs.insert(i + 1, recs[i])
        elif op[0] == "swap":
            j = op[2] % len(recs)
            recs[i], recs[j] = recs[j], recs[i]
        elif op[0] == "insert":
            p = op[2] % (len(rec) + 1)
            recs[i] = (line, rec[:p] + op[3] + rec[p:])
        elif op[0] == "cut":
            p = op[2] % (len(rec) + 1)
            recs[i] = (line, rec[:p] + rec[p + op[3]:])
        elif op[0] == "sub":
            pattern, repls = SUBSTITUTIONS[op[2]]
            recs[i] = (line, re.sub(pattern, repls[op[3] % len(repls)].replace(b"\\", b"\\\\"), rec, count=1))
        elif op[0] == "suball":
            pattern, repls = SUBSTITUTIONS[op[1]]
            repl = repls[op[2] % len(repls)].replace(b"\\", b"\\\\")
            recs = [(n, re.sub(pattern, repl, r, count=1)) for n, r in recs]
        elif op[0] == "extra":
            recs[i] = (line, rec + op[2])
        elif op[0] == "serial":  # one record of another event
            recs[i] = (line, re.sub(rb":(\d+)\)", rb":\g<1>0)", rec, count=1))
        elif op[0] == "type":
            recs[i] = (line, re.sub(rb"^type=\S+", b"type=" + op[2], rec, count=1))
    return recs


def test_mutated_events():
    answered: Counter = Counter()

    @SETTINGS
    @given(seed=st.integers(0, 10**6), ops=st.lists(MUTATIONS, max_size=4))
    def run(seed, ops):
        seeds = seed_events()
        raw = mutate(seeds[seed % len(seeds)], ops)
        fields, denials = check_event(raw)
        answered["fields", fields] += 1
        answered["denials", denials] += 1

    run()
    assert answered["denials", True] >= 40 and answered["fields", False] >= 40, answered


# -- malformed records (issue 12): both twins decline, the typed path skips ----

#: Record types whose read fields the fast path checks for repeats.
FAST_TYPES = ("AVC", "SYSCALL", "PATH", "CWD", "PROCTITLE", "SOCKADDR")
_ID = re.compile(rb"audit\((\d+)\.(\d+):(\d+)\)")


def inject(raw: scanner.RawEvent, kind: str, pick: int, n: int) -> tuple[scanner.RawEvent, bytes | None]:
    """``raw`` with one malformation of ``kind`` and the skip reason it must
    give (``None`` when ``raw`` has no place for it)."""
    recs = list(raw)
    if kind in ("seconds", "serial"):  # every record: the event stays one event
        def sub(m: re.Match) -> bytes:
            secs, frac, serial = m.groups()
            if kind == "seconds":
                secs = digits(fields.MAX_SECONDS_DIGITS + 1 + n % 12)
            else:
                serial = digits(fields.MAX_SERIAL_DIGITS + 1 + n % 12)
            return b"audit(" + secs + b"." + frac + b":" + serial + b")"
        out = [(line, _ID.sub(sub, rec, count=1)) for line, rec in recs]
        if out == recs:
            return recs, None
        return out, b"time over" if kind == "seconds" else b"serial over"
    order = sorted(range(len(recs)), key=lambda i: (i - pick) % len(recs))
    for i in order:
        line, rec = recs[i]
        m = re.match(rb"type=([A-Z_]+) msg=audit\(\d+\.\d+:\d+\): ", rec)
        if m is None or b"\x1d" in rec or b"\r" in rec:
            continue
        rtype = m.group(1).decode()
        if kind == "brace" and rtype == "AVC":
            b = re.search(rb"avc:  denied  \{ [^{}]* \}", rec)
            if b is None:
                continue
            perms = b.group()
            bad = (perms[:-1] + b"{ write }", perms + b" }", perms + b" { write }", perms[:17] + b"{ " + perms[17:])
            return recs[:i] + [(line, rec[:b.start()] + bad[n % 4] + rec[b.end():])] + recs[i + 1:], b"brace"
        if kind == "dup" and rtype in FAST_TYPES:
            read = sorted(fields.READ_FIELDS[rtype])
            for k in range(len(read)):
                key = read[(n + k) % len(read)].encode()
                f = re.compile(rb"(?<![A-Za-z0-9_])" + key + rb'=("[^"]*"|[^\s"]*)').search(rec, m.end())
                if f is None:
                    continue
                copy = f.group() if n % 2 else key + b"=0"
                return (recs[:i] + [(line, rec[:f.start()] + copy + b" " + rec[f.start():])] + recs[i + 1:],
                        b"duplicate " + key + b"=")
    return recs, None


def pipeline(raw: scanner.RawEvent) -> dict[str, tuple]:
    """The denials and skips of ``raw`` through the C build, the Python fast
    path and the typed path alone (records left out: only the fast path
    without them is in C)."""
    out = {}
    for name, kw in (("c", dict(records=False)), ("python", dict(records=True)), ("typed", dict(fast=False))):
        stats = ScanStats()
        ds = events_to_denials(raw, "x.log", stats, **kw)
        out[name] = ([dataclasses.replace(d, records=()) for d in ds], stats.skipped_lines, stats.skipped)
    return out


def test_injected_malformations_are_skipped_alike():
    """Braces in the permission list, a read field given twice, over-long
    seconds or serials, put into real events: the C and Python fast paths
    both decline (so neither turns them into permissions or lets a repeat
    win) and the typed path skips the record, with the same counts and reasons
    whichever path the program takes."""
    seen: Counter = Counter()

    @SETTINGS
    @given(seed=st.integers(0, 10**6), kind=st.sampled_from(["brace", "dup", "seconds", "serial"]),
           pick=st.integers(0, 99), n=st.integers(0, 99), ops=st.lists(MUTATIONS, max_size=2))
    def run(seed, kind, pick, n, ops):
        seeds = seed_events()
        raw = seeds[seed % len(seeds)]
        if ops and n % 3 == 0:  # now and then on an already odd event
            raw = mutate(raw, ops)
        bad, reason = inject(raw, kind, pick, n)
        check_event(bad)  # C == Python, value and type
        got = pipeline(bad)
        assert got["c"] == got["python"] == got["typed"], bad
        if reason is not None and fastpath.event_fields(raw) is not None:
            # a clean fast-path event, made malformed: the fast path must now decline
            assert fastpath.event_fields(bad) is None and cscan.event_fields(bad) is None, bad
            assert cscan.event_denials(bad, "x.log", fastpath.Memo()) is None, bad
            reasons = [k.reason.encode() for k in got["typed"][2]]
            assert got["typed"][1] >= 1 and any(reason in r for r in reasons), (bad, reasons)
            assert not any("{" in p or "}" in p for d in got["typed"][0] for p in d.perms)
            seen[kind] += 1

    run()
    assert all(seen[k] >= 10 for k in ("brace", "dup", "seconds", "serial")), seen


def test_why_json_on_malformed_records_with_and_without_the_accelerator(tmp_path, gen_log):
    """A big log with malformed records sprinkled in: ``why --json`` is byte
    for byte the same pure, with C, and with --jobs 2 (each path skips the
    same lines with the same reasons)."""
    lines = gen_log.read_bytes().split(b"\n")
    kinds = ("brace", "dup", "seconds", "serial")
    n = 0
    for i, line in enumerate(lines):
        if b"type=AVC" in line and i % 7 == 0:
            bad, reason = inject([(i, line)], kinds[n % 4], 0, n)
            if reason is not None:
                lines[i] = bad[0][1]
                n += 1
    assert n > 50
    log = tmp_path / "malformed.log"
    log.write_bytes(b"\n".join(lines))
    argv = avcfix_argv() + ["why", "--json"]
    pure = run_child(argv + ["--jobs", "1", str(log)], pure=True)
    assert pure.returncode == 0, pure.stderr.decode(errors="replace")
    assert json.loads(pure.stdout)["stats"]["skipped_lines"] >= n
    for extra, c_on in (([], True), (["--jobs", "2"], True), (["--jobs", "2"], False)):
        got = run_child(argv + extra + [str(log)], pure=not c_on)
        assert got.returncode == pure.returncode, (extra, c_on, got.stderr.decode(errors="replace"))
        assert got.stdout == pure.stdout, (extra, c_on)


# ------------------------------------------------------------------ 4. denial_text

def reference_text(d: Denial) -> str:
    return jsondoc.DENIAL_ENCODER.encode(jsondoc.denial_json(d))


class CountingFallback:
    """Counts what the C ``denial_text`` hands back to :func:`jsondoc.py_denial_text`."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, d: Denial) -> str:
        self.calls += 1
        return jsondoc.py_denial_text(d)


@pytest.fixture
def fallback():
    if not hasattr(cscan, "set_denial_fallback"):
        yield None
        return
    counting = CountingFallback()
    cscan.set_denial_fallback(counting)
    try:
        yield counting
    finally:
        cscan.set_denial_fallback(jsondoc.py_denial_text)


def check_text(d: Denial) -> None:
    c = outcome(jsondoc.denial_text, d)
    assert c == outcome(jsondoc.py_denial_text, d), d
    assert c == outcome(reference_text, d), d


def check_file_texts(path: Path) -> int:
    n = 0
    for records in (False, True):  # records=False: C-built Denials (event_denials)
        for d in scan([str(path)], records=records):
            check_text(d)
            n += 1
    return n


def test_denial_text_of_the_fixture_and_a_generated_log(gen_log, fallback):
    n = check_file_texts(FIXTURE) + check_file_texts(gen_log)
    assert n > 1000
    if fallback is not None:
        assert fallback.calls == 0  # the C encoded every one itself


def test_denial_text_of_the_corpus(corpus_dir, fallback):
    n = sum(check_file_texts(p) for p in corpus_files(corpus_dir))
    assert n > 2000
    if fallback is not None:
        assert fallback.calls < n / 100, (fallback.calls, n)


def test_denial_text_context_cache():
    """Many distinct contexts, created and dropped (their addresses get reused): each encoded anew."""
    for i in range(3000):
        sc = Context("u", "r", f"t{i}_t", None if i % 2 else "s0")
        tc = Context("u", "object_r", f"o{i % 7}\u00e9_t", "s0:c0.c1023")
        d = Denial(kind="AVC", node=None, time=float(i), serial=i, scontext=sc, tcontext=tc, tclass="file",
                   perms=("read",), permissive=False)
        assert jsondoc.denial_text(d) == jsondoc.py_denial_text(d) == reference_text(d)


#: Hostile characters, drawn as often as any other (st.text's alphabet would make them rare).
HOSTILE_CHARS = ['"', "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1d", "\x1f", "\x7f", "\x80", "\u2028",
                 "\uffff", "\udc80", "\ud800", "\U0001F600", "\U0010FFFF", "\u00e9"]
text = st.lists(st.sampled_from(HOSTILE_CHARS) | st.characters(codec="utf-8"), max_size=20).map("".join)
maybe_text = st.none() | text
ints = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(
    [0, -1, 2**31, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, -(10**30),
     10**5000])  # the last: too long for repr(), every encoder raises ValueError
maybe_int = st.none() | ints
#: Values of another type than the field's (the C leaves them to Python).
odd_int = maybe_int | st.booleans() | st.sampled_from([1.5, -0.0])
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [1e16, 0.1, 1.0, 1762000000.081, -0.0, 0.0, 5e-324, 1.7976931348623157e308, 1e-7, 123456789012345678.0])
strs = st.lists(text, max_size=3)
contexts = st.builds(Context, text, text, text, maybe_text)


def test_denial_text_of_generated_denials(fallback):
    seen: Counter = Counter()

    @SETTINGS
    @given(kind=text, node=maybe_text, time=floats | st.sampled_from([5, True]), serial=ints,
           scontext=contexts, same_context=st.booleans(), tcontext=contexts, tclass=text,
           perms=strs.map(tuple) | strs, permissive=st.booleans(), pid=odd_int, comm=maybe_text, exe=maybe_text,
           syscall=maybe_text, syscall_nr=maybe_int, arch=maybe_text, success=st.none() | st.booleans(),
           exit_=maybe_int, name=maybe_text, path=maybe_text, paths=strs.map(tuple) | strs, cwd=maybe_text,
           proctitle=maybe_text, port=odd_int, ioctlcmd=maybe_int, capability=maybe_int, source=text, line=ints)
    def run(kind, node, time, serial, scontext, same_context, tcontext, tclass, perms, permissive, pid, comm, exe,
            syscall, syscall_nr, arch, success, exit_, name, path, paths, cwd, proctitle, port, ioctlcmd,
            capability, source, line):
        d = Denial(kind=kind, node=node, time=time, serial=serial, scontext=scontext,
                   tcontext=scontext if same_context else tcontext, tclass=tclass, perms=perms,
                   permissive=permissive, pid=pid, comm=comm, exe=exe, syscall=syscall, syscall_nr=syscall_nr,
                   arch=arch, success=success, exit=exit_, name=name, path=path, paths=paths, cwd=cwd,
                   proctitle=proctitle, port=port, ioctlcmd=ioctlcmd, capability=capability, source=source,
                   line=line)
        before = fallback.calls if fallback is not None else 0
        check_text(d)
        seen["c" if fallback is None or fallback.calls == before else "python"] += 1

    run()
    if fallback is not None:
        assert seen["c"] >= 50, seen  # the C encoder itself wrote a good share


# ------------------------------------------------------------------ 5. count_newlines

def buffers(data: bytes) -> list[object]:
    out: list[object] = [data, bytearray(data), memoryview(data)]
    if data:
        m = mmap.mmap(-1, len(data))
        m.write(data)
        out.append(m)
    return out


newline_data = (st.binary(max_size=2000) | st.binary(max_size=30).map(lambda b: b * 50)
                | st.lists(st.sampled_from([b"\n", b"a", b"\n\n", b"\x00"]), max_size=60).map(b"".join))


@SETTINGS
@given(data=newline_data, end=st.data())
def test_count_newlines(data, end):
    """``end`` from 0 to beyond the buffer's length."""
    end = end.draw(st.integers(0, len(data) + 5) | st.integers(0, 2**62), label="end")
    for buf in buffers(data):
        assert cscan.count_newlines(buf, end) == bytes(buf[:end]).count(b"\n"), (data, end, type(buf))
        if isinstance(buf, mmap.mmap):
            buf.close()


@SETTINGS
@given(data=newline_data, end=st.data())
def test_count_newlines_negative_end(data, end):
    """A negative ``end`` counts as in ``bytes(buffer[:end])`` (from the end of the buffer)."""
    end = end.draw(st.integers(-len(data) - 5, -1) | st.integers(-(2**62), -1), label="end")
    for buf in buffers(data):
        assert cscan.count_newlines(buf, end) == bytes(buf[:end]).count(b"\n"), (data, end, type(buf))
        if isinstance(buf, mmap.mmap):
            buf.close()


# ------------------------------------------------------------------ 6. end to end

def avcfix_argv() -> list[str]:
    if importlib.util.find_spec("avcfix.__main__") is not None:
        return [sys.executable, "-m", "avcfix"]
    script = Path(sys.executable).parent / "avcfix"
    if script.exists():
        return [str(script)]
    pytest.skip("neither `python -m avcfix` nor the avcfix console script is available")


def run_child(argv: list[str], pure: bool) -> subprocess.CompletedProcess:
    """Run ``argv`` with or without AVCFIX_PURE=1; a run that hangs (a worker
    that died in a pool) is killed with its whole process group."""
    env = {k: v for k, v in os.environ.items() if k != "AVCFIX_PURE"}
    if pure:
        env["AVCFIX_PURE"] = "1"
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"timed out: {argv} (AVCFIX_PURE={int(pure)})")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_children_load_the_accelerator_as_told():
    probe = [sys.executable, "-c", "from avcfix.audit.accel import cscan; print(cscan is not None)"]
    assert run_child(probe, pure=False).stdout.strip() == b"True"
    assert run_child(probe, pure=True).stdout.strip() == b"False"


def test_why_json_with_and_without_the_accelerator(gen_log):
    from avcfix import triage_parallel

    assert triage_parallel.plan([str(gen_log)], 2) is not None  # --jobs 2 really cuts the log
    argv = avcfix_argv() + ["why", "--json"]
    pure = run_child(argv + ["--jobs", "1", str(gen_log)], pure=True)
    assert pure.returncode == 0, pure.stderr.decode(errors="replace")
    assert pure.stdout.count(b'"kind": "AVC"') > 500
    for extra, c_on in (([], True), (["--jobs", "2"], True), (["--jobs", "2"], False)):
        got = run_child(argv + extra + [str(gen_log)], pure=not c_on)
        assert got.returncode == pure.returncode, (extra, c_on, got.stderr.decode(errors="replace"))
        assert got.stdout == pure.stdout, (extra, c_on)


# -- event times: the C writes the repr of "SECS.FRAC" times from the text ------

@SETTINGS
@given(secs=st.text("0123456789", min_size=1, max_size=22), frac=st.text("0123456789", min_size=1, max_size=22))
def test_event_time_text_is_the_float_repr(secs, frac):
    """``event_fields`` remembers the repr of the times it parses (denial_text
    then writes it without formatting the float); it must be float's repr."""
    avc = (f"type=AVC msg=audit({secs}.{frac}:7): avc:  denied  {{ read }} for  pid=1 comm=\"x\" "
           "scontext=system_u:system_r:a_t:s0 tcontext=system_u:object_r:b_t:s0 tclass=file permissive=0")
    got = cscan.event_denials([(1, avc.encode())], "x", fastpath.Memo())
    if len(secs) > fields.MAX_SECONDS_DIGITS:  # the typed path skips it: neither twin answers
        assert got is None and fastpath.event_fields([(1, avc.encode())]) is None
        return
    assert got is not None and len(got) == 1
    d = got[0]
    assert d.time == float(f"{secs}.{frac}")
    assert jsondoc.denial_text(d) == jsondoc.py_denial_text(d)
    assert f'"time": {float(f"{secs}.{frac}")!r}}}' in jsondoc.denial_text(d)
