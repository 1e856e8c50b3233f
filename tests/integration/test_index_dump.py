"""The policy index's C reader (``avcfix/index/_policydump.c``, libsepol) fills
exactly the database its setools reader (the reference) fills.

Each policy is indexed twice, once per reader (``AVCFIX_INDEX_READER``), and
every table is compared row for row, in insertion order (only the ``built``
timestamp of ``meta`` differs). The expected answer is the setools reader's:
setools is the ground truth of the index (tests/test_index_reasons.py holds the
index's reasons equal to audit2why). The policies: a tiny one compiled by
checkpolicy with every kind of rule the reader handles (typebounds,
permissive, aliases, attributes, allow/auditallow/dontaudit, ioctl xperms by
function and by whole driver, conditionals with an else branch), the host's
reference policy, Fedora's targeted policy, and a store copy with
policies/avcfix_explain.te and tests/data/advice/avcfix_xperm.te installed.

Bad input (truncated, mutated, garbage, a module instead of a kernel policy)
gives ValueError from the reader and PolicyError from open_index, never a crash.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from policy_helpers import install_modules

from avcfix.errors import PolicyError
from avcfix.index import build, cache
from avcfix.index.build import Inputs

PROJECT = Path(__file__).resolve().parents[2]

TINY = """
class process
class file
class dir
sid kernel
common file_common { read write getattr ioctl }
class process { transition signal }
class file inherits file_common { execute }
class dir inherits file_common { search }
attribute domains;
attribute files;
type dom_t, domains;
typealias dom_t alias { olddom_t older_t };
type child_t, domains;
typebounds dom_t child_t;
type data_t, files;
permissive child_t;
bool tiny_write false;
bool b2 true;
allow dom_t data_t : file { read getattr ioctl };
allow domains files : dir { read search };
dontaudit dom_t data_t : file execute;
dontaudit domains data_t : dir { search getattr };
auditallow dom_t data_t : file read;
allowxperm dom_t data_t : file ioctl { 0x541b 0x8900-0x89ff 0x1234 };
dontauditxperm dom_t data_t : file ioctl { 0x5401 };
if (tiny_write && !b2) {
  allow dom_t data_t : file write;
  allow dom_t data_t : dir write;
} else {
  allow dom_t data_t : file execute;
}
if (b2 || tiny_write) { allow child_t data_t : file read; }
role tiny_r;
role tiny_r types { dom_t child_t };
user tiny_u roles { tiny_r };
sid kernel tiny_u:tiny_r:dom_t
"""


def need_tools(*names: str) -> None:
    # (not tests.policy_helpers': make test-asan runs this file with PYTHONSAFEPATH, no `tests` package)
    for name in names:
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed")


def _dumper():
    mod = build.policy_dumper()
    if mod is None:
        pytest.skip("the C reader avcfix.index._policydump is not built (libsepol-dev missing at make setup)")
    return mod


def _tables(db) -> dict[str, list[tuple]]:
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    out = {}
    for name in names:
        where = " WHERE k != 'built'" if name == "meta" else ""
        out[name] = db.execute(f"SELECT * FROM {name}{where}").fetchall()  # insertion (rowid) order
    return out


def _index(policy: Path, reader: str, monkeypatch) -> dict[str, list[tuple]]:
    monkeypatch.setenv("AVCFIX_INDEX_READER", reader)
    monkeypatch.delenv("AVCFIX_PURE", raising=False)
    assert (build.policy_dumper() is None) == (reader == "setools")
    opened = cache.open_index(Inputs(policy, None, None), use_cache=False)
    try:
        return _tables(opened.db)
    finally:
        opened.db.close()


def assert_same_index(policy: Path, monkeypatch) -> dict[str, list[tuple]]:
    _dumper()
    reference = _index(policy, "setools", monkeypatch)
    dumped = _index(policy, "sepol", monkeypatch)
    assert reference.keys() == dumped.keys()
    for table in reference:
        assert dumped[table] == reference[table], f"table {table} differs"
    assert reference["te"] and reference["types"] and reference["classes"]
    return dumped


@pytest.fixture
def tiny(tmp_path) -> Path:
    need_tools("checkpolicy")
    (tmp_path / "policy.conf").write_text(TINY)
    out = tmp_path / "policy.33"
    subprocess.run(["checkpolicy", "-c", "33", "-o", str(out), str(tmp_path / "policy.conf")],
                   check=True, capture_output=True)
    return out


def test_tiny_policy(tiny, monkeypatch):
    tables = assert_same_index(tiny, monkeypatch)
    # The features are there (so the equality above is not about empty tables);
    # checked by hand: `seinfo P --permissive --typebounds -x`, `seinfo P -x --type dom_t`,
    # `sesearch -A --dontaudit --auditallow --allowxperm --dontauditxperm P` print these.
    ids = {name: tid for tid, name, *_ in tables["types"]}
    assert (ids["child_t"], "child_t", 0, 1, ids["dom_t"]) in tables["types"]  # permissive, bounded
    assert ("olddom_t", ids["dom_t"]) in tables["aliases"]
    assert (ids["dom_t"], ids["domains"]) in tables["typeattr"]
    assert {r[0] for r in tables["te"]} == {build.ALLOW, build.AUDITALLOW, build.DONTAUDIT}
    assert {r[5] for r in tables["te"]} == {0, 1, 2} and {r[6] for r in tables["te"]} == {0, 1}
    cmds = sorted(r[5] for r in tables["xperms"])
    assert cmds == ["21505", "21531", "35072-35327", "4660"]  # 0x5401; 0x541b; driver 0x89; 0x1234
    assert sorted(r[2] for r in tables["conds"]) == ["! b2 && tiny_write", "tiny_write || b2"]


def test_host_reference_policy(ref_policy, monkeypatch):
    assert_same_index(ref_policy, monkeypatch)


def test_fedora_targeted_policy(fedora_root, monkeypatch):
    assert_same_index(fedora_root.policy_file, monkeypatch)


@pytest.mark.slow
def test_store_with_bounds_permissive_and_xperm_modules(store_root, fixture_pp, monkeypatch):
    """Both fixture modules installed with the real toolchain in one transaction."""
    install_modules(store_root, fixture_pp("avcfix_explain"), fixture_pp("avcfix_xperm"))
    tables = assert_same_index(store_root.policy_file, monkeypatch)
    ids = {name: tid for tid, name, *_ in tables["types"]}
    rows = {r[1]: r for r in tables["types"]}
    assert rows["avcfix_child_t"][4] == ids["avcfix_parent_t"] and rows["avcfix_trial_t"][3] == 1
    assert ("21531",) in {(r[5],) for r in tables["xperms"]}


# ---------------------------------------------------------------- bad input


def test_garbage_truncated_and_module_raise_value_error(tiny, tmp_path):
    dumper = _dumper()
    data = tiny.read_bytes()
    assert dumper.read(data)["te"]
    for bad in (b"", b"\0" * 64, b"not a policy at all" * 100, data[:8], data[: len(data) // 2], data[:-1]):
        with pytest.raises(ValueError, match="invalid binary policy"):
            dumper.read(bad)
    # every prefix of the policy: cut anywhere, never a crash
    for n in range(len(data)):
        with pytest.raises(ValueError):
            dumper.read(data[:n])
    need_tools("checkmodule")
    (tmp_path / "m.te").write_text("module m 1.0;\nrequire { type dom_t; }\n")
    cp = subprocess.run(["checkmodule", "-M", "-m", "-o", str(tmp_path / "m.mod"), str(tmp_path / "m.te")],
                        capture_output=True, text=True, check=False)
    if cp.returncode == 0:
        with pytest.raises(ValueError):
            dumper.read((tmp_path / "m.mod").read_bytes())


#: Reads mutated copies of a policy (argv: path, seed, first, count), printing each index first.
_MUTATE = """
import random, sys
from avcfix.index import _policydump
data = open(sys.argv[1], "rb").read()
rng = random.Random(int(sys.argv[2]))
for i in range(int(sys.argv[4])):
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    if i < int(sys.argv[3]):
        continue
    print(i, flush=True)
    try:
        out = _policydump.read(bytes(b))
        assert {"types", "te", "classes", "conds"} <= set(out)
    except ValueError:
        pass
print("end", flush=True)
"""


def test_mutated_policy_never_crashes(tiny):
    """Bytes of a valid policy overwritten here and there (fixed seed): a dict
    or ValueError, in a child process so that a crash is seen as one. About 1
    in 200 such policies makes libsepol's own policydb_read (setools' too) run
    for minutes on a huge count: that child is stopped and the next sample
    read (a hang is not the reader's; a crash or a failed assertion is)."""
    _dumper()
    count, first, hangs = 400, 0, []
    while True:
        try:
            r = subprocess.run([sys.executable, "-c", _MUTATE, str(tiny), "14", str(first), str(count)],
                               capture_output=True, text=True, timeout=10, check=False)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            last = int(out.split()[-1]) if out.split() else first
            hangs.append(last)
            assert len(hangs) < 10, f"too many slow samples: {hangs}"
            first = last + 1
            continue
        assert r.returncode == 0, f"sample {r.stdout.split()[-1:]} : rc {r.returncode}\n{r.stderr[-3000:]}"
        assert r.stdout.split()[-1] == "end"
        break


def test_open_index_turns_it_into_policy_error(tmp_path, monkeypatch):
    _dumper()
    bad = tmp_path / "policy.33"
    bad.write_bytes(b"\x8c\xff\x7c\xf9" + b"garbage" * 50)  # SELinux magic, then junk
    monkeypatch.setenv("AVCFIX_INDEX_READER", "sepol")
    with pytest.raises(PolicyError, match="cannot read binary policy"):
        cache.open_index(Inputs(bad, None, None), use_cache=False)
