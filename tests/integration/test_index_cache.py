"""The policy index cache (:mod:`avcfix.index.cache`): built once, read after,
rebuilt when stale or corrupt, kept in memory when it cannot be written.

The policy is a tiny monolithic one compiled with the real checkpolicy (a few
milliseconds to build its index). Its answers are checked against
:class:`~avcfix.index.setools_facts.PolicyFacts` (libselinux audit2why) for every
way the index was obtained, so a wrong file read from the cache shows as a
wrong answer, not only as a wrong ``source``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from policy_helpers import need_tools

from avcfix.errors import PolicyError
from avcfix.explain.protocol import AccessKey
from avcfix.index import cache
from avcfix.index.build import Inputs
from avcfix.index.facts import IndexFacts
from avcfix.index.setools_facts import PolicyFacts

TINY = """
class process
class file
sid kernel
common file_common {{ read write getattr }}
class process {{ transition signal }}
class file inherits file_common {{ execute }}
type dom_t;
type data_t;
bool tiny_write {default};
allow dom_t data_t : file {{ read getattr }};
dontaudit dom_t data_t : file execute;
if (tiny_write) {{
  allow dom_t data_t : file write;
}}
role tiny_r;
role tiny_r types {{ dom_t }};
user tiny_u roles {{ tiny_r }};
sid kernel tiny_u:tiny_r:dom_t
"""

KEY = AccessKey("tiny_u:tiny_r:dom_t", "tiny_u:object_r:data_t", "file", ("execute", "getattr", "read", "write"))


def compile_tiny(directory: Path, *, write_default: bool = False) -> Path:
    """``policy.33`` from :data:`TINY` by checkpolicy (``tiny_write`` on or off)."""
    need_tools("checkpolicy")
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "policy.conf"
    conf.write_text(TINY.format(default="true" if write_default else "false"))
    out = directory / "policy.33"
    subprocess.run(["checkpolicy", "-c", "33", "-o", str(out), str(conf)], check=True, capture_output=True)
    return out


@pytest.fixture
def tiny(tmp_path) -> Path:
    return compile_tiny(tmp_path / "tiny")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("AVCFIX_CACHE_DIR", str(d))
    monkeypatch.delenv("AVCFIX_INDEX_CACHE", raising=False)
    return d


def _open(policy: Path) -> cache.Opened:
    return cache.open_index(Inputs(policy, None, None))


def _verdicts(facts, key: AccessKey = KEY) -> list[tuple]:
    return [(p, v.reason, v.booleans, v.differs) for p, v in facts.analyze([key])[key].verdicts]


def _assert_right(opened: cache.Opened, policy: Path) -> dict[str, str]:
    """The index's answers equal audit2why's for :data:`KEY`; returns perm -> reason."""
    facts = IndexFacts(opened, Inputs(policy, None, None))
    truth = PolicyFacts(policy, None, None)
    got = _verdicts(facts)
    facts.close()
    assert got == _verdicts(truth)
    return {p: r.value for p, r, _b, _d in got}


def _index_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.sqlite"))


def test_first_open_builds_second_reads(tiny, cache_dir):
    first = _open(tiny)
    assert first.source == "built" and first.notes == []
    assert first.path is not None and first.path.parent == cache_dir
    key = cache.input_key(Inputs(tiny, None, None))
    assert first.path.name == f"{key}-{cache.file_digest(first.path)}.sqlite"
    _assert_right(first, tiny)
    second = _open(tiny)
    assert second.source == "cache" and second.path == first.path and second.notes == []
    _assert_right(second, tiny)
    assert _index_files(cache_dir) == [first.path]


def test_changed_policy_gets_a_new_key_and_is_rebuilt(tmp_path, tiny, cache_dir):
    old = _open(tiny)
    assert _assert_right(old, tiny)["write"] == "boolean"
    # the same path, other bytes (tiny_write now on: write is allowed now, not a boolean fix)
    compile_tiny(tiny.parent, write_default=True)
    new = _open(tiny)
    assert new.source == "built" and new.path != old.path
    assert old.path is not None and new.path is not None
    assert new.path.name.split("-")[0] != old.path.name.split("-")[0]
    assert _assert_right(new, tiny)["write"] == "allowed_now"


@pytest.mark.parametrize("field,value", [("key", "0" * 64), ("schema", "0")])
def test_file_for_other_inputs_or_schema_is_stale(tiny, cache_dir, field, value):
    good = _open(tiny).path
    assert good is not None
    # a whole, checksummed file under this key whose meta says another key or schema
    db = sqlite3.connect(good)
    db.execute("UPDATE meta SET v = ? WHERE k = ?", (value, field))
    db.commit()
    db.close()
    key = good.name.split("-")[0]
    stale = cache_dir / f"{key}-{cache.file_digest(good)}.sqlite"
    good.rename(stale)
    opened = _open(tiny)
    assert opened.source == "built"
    assert any("stale" in n and stale.name in n for n in opened.notes), opened.notes
    assert not stale.exists()
    _assert_right(opened, tiny)


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _garbage(data: bytes) -> bytes:
    return bytes((i * 151 + 7) % 256 for i in range(len(data)))


def _flip(data: bytes) -> bytes:
    mid = len(data) // 2
    return data[:mid] + bytes([data[mid] ^ 0x01]) + data[mid + 1:]


def _empty(data: bytes) -> bytes:
    return b""


@pytest.mark.parametrize("damage", [_truncate, _garbage, _flip, _empty], ids=lambda f: f.__name__[1:])
def test_corrupt_file_is_rebuilt(tiny, cache_dir, damage):
    """A damaged file keeps its name, so its checksum no longer matches. Only
    the checksum catches the flipped byte (SQLite reads that file without
    error: checked by disabling the check); a truncated, garbage or empty
    file would also fail SQLite's own reading (the second check)."""
    good = _open(tiny).path
    assert good is not None
    good.write_bytes(damage(good.read_bytes()))
    opened = _open(tiny)
    assert opened.source == "built"
    assert any("corrupt" in n and good.name in n for n in opened.notes), opened.notes
    assert opened.path is not None and opened.path.name == f"{good.name.split('-')[0]}-" \
        f"{cache.file_digest(opened.path)}.sqlite"
    _assert_right(opened, tiny)
    assert _index_files(cache_dir) == [opened.path]


def test_unreadable_database_with_a_matching_checksum_is_corrupt(tiny, cache_dir):
    """A file whose name matches its bytes but is no index (the second check: SQLite and meta)."""
    good = _open(tiny).path
    assert good is not None
    key = good.name.split("-")[0]
    good.unlink()
    fake = cache_dir / "fake"
    fake.write_bytes(b"SQLite format 3\0" + b"\xff" * 4080)
    named = cache_dir / f"{key}-{cache.file_digest(fake)}.sqlite"
    fake.rename(named)
    opened = _open(tiny)
    assert opened.source == "built"
    assert any("corrupt" in n and named.name in n for n in opened.notes), opened.notes
    assert not named.exists()
    _assert_right(opened, tiny)


def test_incomplete_file_is_corrupt(tiny, cache_dir):
    """A checksummed file for this key whose build did not finish (no ``complete`` mark)."""
    good = _open(tiny).path
    assert good is not None
    db = sqlite3.connect(good)
    db.execute("DELETE FROM meta WHERE k = 'complete'")
    db.commit()
    db.close()
    named = cache_dir / f"{good.name.split('-')[0]}-{cache.file_digest(good)}.sqlite"
    good.rename(named)
    opened = _open(tiny)
    assert opened.source == "built"
    assert any("incomplete" in n for n in opened.notes), opened.notes
    _assert_right(opened, tiny)


def test_leftover_temporary_files_are_ignored(tiny, cache_dir):
    """What a killed build leaves (its ``.tmp`` file) is never read as an index."""
    key = cache.input_key(Inputs(tiny, None, None))
    cache_dir.mkdir(parents=True)
    leftovers = [cache_dir / f".{key[:16]}-abcd1234.tmp", cache_dir / f"{key}-0123.sqlite.tmp"]
    for path in leftovers:
        path.write_bytes(b"half an index")
    opened = _open(tiny)
    assert opened.source == "built" and opened.notes == []
    _assert_right(opened, tiny)
    assert _open(tiny).source == "cache"


@pytest.mark.parametrize("where", ["below_a_file", "a_file"])
def test_unwritable_cache_works_from_memory(tmp_path, tiny, monkeypatch, where):
    """Tests run as root, so chmod cannot forbid writing: the cache "directory"
    is a regular file, or lies below one (mkdir fails with ENOTDIR/EEXIST)."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file\n")
    target = blocker / "cache" if where == "below_a_file" else blocker
    monkeypatch.setenv("AVCFIX_CACHE_DIR", str(target))
    opened = _open(tiny)
    assert opened.source == "memory" and opened.path is None
    assert any("cache not writable" in n and "in memory" in n for n in opened.notes), opened.notes
    _assert_right(opened, tiny)
    assert blocker.read_text() == "a file\n"


def test_cache_off_builds_in_memory(tiny, cache_dir, monkeypatch):
    monkeypatch.setenv("AVCFIX_INDEX_CACHE", "off")
    opened = _open(tiny)
    assert opened.source == "memory" and opened.path is None
    _assert_right(opened, tiny)
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_cache_dir_from_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("AVCFIX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "avcfix" / "policy-index"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored (XDG spec)
    assert cache.cache_dir() == Path.home() / ".cache" / "avcfix" / "policy-index"


def test_no_temporary_file_is_left_behind(tmp_path, tiny, cache_dir):
    opened = _open(tiny)
    assert sorted(p.name for p in cache_dir.iterdir()) == [opened.path.name]
    # nor when the build fails (a policy file that is not a policy)
    bad = tmp_path / "bad.33"
    bad.write_bytes(b"not a policy\n" * 10)
    with pytest.raises(PolicyError):
        _open(bad)
    assert sorted(p.name for p in cache_dir.iterdir()) == [opened.path.name]


def test_pruning_keeps_the_most_recently_used(tiny, cache_dir):
    cache_dir.mkdir(parents=True)
    old = []
    for i in range(cache.KEEP_FILES + 3):
        p = cache_dir / f"{i:064x}-{i:032x}.sqlite"
        p.write_bytes(b"old index")
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
        old.append(p)
    opened = _open(tiny)
    files = _index_files(cache_dir)
    assert len(files) == cache.KEEP_FILES and opened.path in files
    # the newest of the old ones stay, the oldest go
    assert set(files) - {opened.path} == set(old[-(cache.KEEP_FILES - 1):])


LOG_LINE = ("type=AVC msg=audit(1700000000.000:1): avc:  denied  { write } for  pid=1 comm=\"x\" "
            "scontext=tiny_u:tiny_r:dom_t tcontext=tiny_u:object_r:data_t tclass=file permissive=0\n")


@pytest.mark.parametrize("kind", ["not_a_policy", "source_policy", "empty", "missing", "directory", "unreadable"])
def test_why_with_a_bad_policy_is_exit_5_without_traceback(tmp_path, tiny, kind):
    """Bad input that reaches the index: a clear message on stderr and exit 5
    (ExitCode.POLICY, README's exit-code table), no traceback, nothing on stdout,
    and no index file (nor temporary file) left in the cache."""
    import sys

    from avcfix.errors import ExitCode

    log = tmp_path / "audit.log"
    log.write_text(LOG_LINE)
    bad = {
        "not_a_policy": tmp_path / "garbage.33",
        "source_policy": tiny.parent / "policy.conf",
        "empty": tmp_path / "empty.33",
        "missing": tmp_path / "missing.33",
        "directory": tmp_path,
        # a regular file whose read fails (EIO): as root, chmod cannot make one
        "unreadable": Path("/proc/self/mem"),
    }[kind]
    if kind == "not_a_policy":
        bad.write_bytes(b"\x8c\xff\x7c\xf9 not a policy\n" * 64)
    elif kind == "empty":
        bad.write_bytes(b"")
    cache_home = tmp_path / "cache"
    env = dict(os.environ, AVCFIX_CACHE_DIR=str(cache_home))
    env.pop("AVCFIX_INDEX_CACHE", None)
    cp = subprocess.run([sys.executable, "-m", "avcfix", "why", "--policy", str(bad), str(log)],
                        capture_output=True, text=True, env=env, timeout=120)
    assert cp.returncode == ExitCode.POLICY == 5, cp.stderr
    assert "Traceback" not in cp.stderr and cp.stdout == ""
    assert cp.stderr.startswith("avcfix: ") and str(bad) in cp.stderr
    assert any(w in cp.stderr for w in ("cannot read binary policy", "not found or not a file")), cp.stderr
    assert not cache_home.exists() or list(cache_home.iterdir()) == []
    # the same log with the good policy is explained (the failure above is the policy's)
    cp = subprocess.run([sys.executable, "-m", "avcfix", "why", "--policy", str(tiny), str(log)],
                        capture_output=True, text=True, env=env, timeout=120)
    assert cp.returncode == 0 and "tiny_write" in cp.stdout, cp.stdout + cp.stderr


XML = b"""<policy><layer name="x"><module name="tiny">
<bool name="tiny_write" dftval="false"><desc><p>Allow dom_t to   write data_t.</p></desc></bool>
</module></layer></policy>"""


def test_descriptions_are_parsed_once_per_policy_xml(tmp_path, cache_dir, monkeypatch):
    # two policies (tiny_write off, then on: what setsebool -P makes), one policy.xml: parsed once, its
    # descriptions kept as booldesc-SHA256.json and read back for the second index; a damaged file is
    # parsed again. The text is policy.xml's <desc>, blanks collapsed (as booldesc.parse_descriptions).
    import hashlib

    from avcfix.explain import booldesc

    xml = tmp_path / "policy.xml"
    xml.write_bytes(XML)
    calls: list[int] = []
    real = booldesc.parse_descriptions
    monkeypatch.setattr(booldesc, "parse_descriptions", lambda data: calls.append(1) or real(data))
    monkeypatch.setattr(cache, "_DESCRIPTIONS", {})
    saved = cache_dir / f"booldesc-{hashlib.sha256(XML).hexdigest()}.json"
    for n, write in enumerate((False, True)):
        policy = compile_tiny(tmp_path / f"p{n}", write_default=write)
        cache._DESCRIPTIONS.clear()  # as a new process: only the file is left
        facts = IndexFacts(cache.open_index(Inputs(policy, None, xml)), Inputs(policy, None, xml))
        assert facts.boolean_description("tiny_write") == "Allow dom_t to write data_t."
        assert facts.boolean_state("tiny_write") is write
        facts.close()
        assert saved.is_file() and len(calls) == 1
    saved.write_text("[1, 2")  # damaged: parsed again and replaced
    cache._DESCRIPTIONS.clear()
    assert cache.descriptions(XML) == {"tiny_write": "Allow dom_t to write data_t."}
    assert len(calls) == 2 and cache._read_descriptions(saved) == cache.descriptions(XML)
