"""`avcfix why` on logs with many distinct groups: the group records stay
small, the JSON rules are streamed, the report sums up past --max-groups.

Memory is checked structurally (bytes the accumulator keeps per group, counted
by tracemalloc), never as a time or an RSS; the real figures are bench/groups.py's.
"""

from __future__ import annotations

import gc
import importlib.util
import io
import random
import re
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest

from avcfix.audit.api import ScanStats, scan
from avcfix.audit.group import EVIDENCE_CAP, GroupAccumulator, group_denials
from avcfix.audit.model import Context, Denial, DenialGroup
from avcfix.cli import main
from avcfix.explain.engine import explain_groups, iter_findings
from avcfix.report.jsondoc import rules_json, tail_text, write_tail

PROJECT = Path(__file__).resolve().parents[2]


def _load_gen():
    spec = importlib.util.spec_from_file_location("bench_gen_groups", PROJECT / "bench" / "gen.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- the accumulator against the plain sets it replaced -------------------------


def reference_groups(denials: list[Denial]) -> list[DenialGroup]:
    """What grouping gave with one set per evidence kind (the semantics the
    compact records must keep: first EVIDENCE_CAP distinct values, sorted)."""
    accs: dict = {}
    for d in denials:
        key = (d.scontext.type, d.tcontext.type, d.tclass, d.permissive)
        a = accs.setdefault(key, {"ex": d, "perms": set(), "n": 0, "first": float("inf"), "last": float("-inf"),
                                  "contexts": set(), "comms": set(), "exes": set(), "paths": set(),
                                  "ports": set(), "ioctl": set()})
        a["perms"].update(d.perms)
        a["n"] += 1
        a["first"] = min(a["first"], d.time)
        a["last"] = max(a["last"], d.time)
        values = {"contexts": [(str(d.scontext), str(d.tcontext))], "comms": [d.comm], "exes": [d.exe],
                  "paths": list(d.paths or ((d.path or d.name),)), "ports": [d.port], "ioctl": [d.ioctlcmd]}
        for name, vs in values.items():
            for v in vs:
                if v is not None and v != "" and len(a[name]) < EVIDENCE_CAP:
                    a[name].add(v)
    return [DenialGroup(k[0], k[1], k[2], k[3], tuple(sorted(a["perms"])), a["n"], a["first"], a["last"], a["ex"],
                        tuple(sorted(a["contexts"])), tuple(sorted(a["comms"])), tuple(sorted(a["exes"])),
                        tuple(sorted(a["paths"])), tuple(sorted(a["ports"])), tuple(sorted(a["ioctl"])))
            for k, a in sorted(accs.items())]


def random_denials(rng: random.Random, n: int) -> list[Denial]:
    users = ["system_u", "unconfined_u"]
    out = []
    for i in range(n):
        src = rng.choice(["a_t", "b_t", "c_t"])
        tgt = rng.choice(["x_t", "y_t"])
        paths = tuple(rng.sample([f"/p/{k}" for k in range(30)], rng.choice([0, 0, 1, 2, 25])))
        out.append(Denial(
            kind="AVC", node=None, time=1000.0 + rng.choice([i, -i, 0.5 * i]), serial=i,
            scontext=Context(rng.choice(users), "system_r", src, rng.choice(["s0", "s0:c1", None])),
            tcontext=Context("system_u", "object_r", tgt, "s0"),
            tclass=rng.choice(["file", "dir"]), perms=tuple(sorted(rng.sample(["read", "write", "open", "getattr"],
                                                                              rng.randint(1, 3)))),
            permissive=rng.random() < 0.2, comm=rng.choice([None, "", "c1", "c2"] + [f"w{k}" for k in range(25)]),
            exe=rng.choice([None, "/bin/a", "/bin/b"]), name=rng.choice([None, "", "n1", "n2"]),
            path=rng.choice([None, "", "/q/1", "/q/2"]), paths=paths, port=rng.choice([None, None, 80, 443, 8080]),
            ioctlcmd=rng.choice([None, 0x5401, 0x5402]),
        ))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_groups_are_what_plain_sets_give(seed):
    rng = random.Random(seed)
    denials = random_denials(rng, rng.choice([1, 5, 60, 400]))
    assert group_denials(denials) == reference_groups(denials)


@pytest.mark.parametrize("seed", range(8))
def test_merge_of_ranges_is_the_sequential_grouping(seed):
    rng = random.Random(100 + seed)
    denials = random_denials(rng, 300)
    cuts = sorted(rng.sample(range(1, 300), 2))
    parts = [denials[:cuts[0]], denials[cuts[0]:cuts[1]], denials[cuts[1]:]]
    accs = []
    for part in parts:
        acc = GroupAccumulator()
        for d in part:
            acc.add(d)
        accs.append(acc)
    first = accs[0]
    first.merge(accs[1])
    buf = io.BytesIO()  # the way a parallel worker hands its groups over
    accs[2].dump(buf)
    buf.seek(0)
    first.merge_dump(buf)
    assert first.groups() == reference_groups(denials)


@pytest.mark.parametrize("seed", range(6))
def test_spills_fold_back_to_the_sequential_grouping(seed):
    """A worker with many groups spills them (dump + forget) as it goes; the
    spills, merged back in order, are what one accumulator gives."""
    rng = random.Random(200 + seed)
    denials = random_denials(rng, 400)
    acc = GroupAccumulator()
    buf = io.BytesIO()
    spills = 0
    for d in denials:
        acc.add(d)
        if rng.random() < 0.05:
            acc.spill(buf)
            spills += 1
            assert len(acc) == 0
    acc.dump(buf)
    buf.seek(0)
    merged = GroupAccumulator()
    merged.merge_dump(buf)
    assert spills and merged.groups() == reference_groups(denials)


def test_parallel_workers_that_spill_give_the_same_document(tmp_path, capsys, monkeypatch):
    from avcfix import triage_parallel
    from avcfix.cli import main

    log = tmp_path / "groups.log"
    _load_gen().main(["--groups", "3000", "-o", str(log)])
    capsys.readouterr()
    outs = {}
    for jobs, spill_at in ((1, triage_parallel.SPILL_GROUPS), (2, triage_parallel.SPILL_GROUPS), (3, 1)):
        monkeypatch.setattr(triage_parallel, "SPILL_GROUPS", spill_at)  # 1: a spill every 1024 denials
        monkeypatch.setattr(triage_parallel, "AUTO_MIN_SIZE", 0)
        for mode in (["--json"], ["--all"]):
            assert main(["why", *mode, "--jobs", str(jobs), str(log)]) == 0
            outs[jobs, mode[0]] = capsys.readouterr().out
    for mode in ("--json", "--all"):
        assert outs[1, mode] == outs[2, mode] == outs[3, mode]


def test_iter_groups_consume_forgets_each_group_handed_out():
    acc = GroupAccumulator()
    for d in random_denials(random.Random(7), 200):
        acc.add(d)
    want = acc.groups()
    it = acc.iter_groups(consume=True)
    got = [next(it) for _ in range(3)]
    assert len(acc) == len(want) - 3
    got += list(it)
    assert got == want and len(acc) == 0


def test_top_keys_most_denials_ties_in_key_order_and_the_permissive_half():
    acc = GroupAccumulator()
    base = random_denials(random.Random(1), 1)[0]

    def add(src: str, tgt: str, n: int, permissive: bool = False) -> None:
        for _ in range(n):
            acc.add(replace(base, scontext=replace(base.scontext, type=src), tcontext=replace(base.tcontext, type=tgt),
                            tclass="file", permissive=permissive))

    add("a_t", "t1_t", 5)
    add("a_t", "t2_t", 1)
    add("a_t", "t2_t", 1, permissive=True)
    add("b_t", "t3_t", 3)
    add("b_t", "t4_t", 3)
    add("c_t", "t5_t", 2)
    add("c_t", "t2_t", 1, permissive=True)
    assert acc.top_keys(2) == [("a_t", "t1_t", "file", False), ("b_t", "t3_t", "file", False)]
    # t2 (count 1, the first of the ties in key order) comes with its enforcing half
    assert acc.top_keys(5) == sorted([("a_t", "t1_t", "file", False), ("b_t", "t3_t", "file", False),
                                      ("b_t", "t4_t", "file", False), ("c_t", "t5_t", "file", False),
                                      ("a_t", "t2_t", "file", False), ("a_t", "t2_t", "file", True)])


# -- memory: bytes the accumulator keeps per group (tracemalloc) -------------------

#: Bound on what the accumulator keeps per distinct group of the generated log
#: (one full AVC+SYSCALL+PATH+PROCTITLE event per group, a second one for a
#: quarter of them). Measured ~850 B with Python 3.11; the sets and the
#: example's duplicated evidence it replaced kept ~3,000 B.
MAX_KEPT_PER_GROUP = 1400


def test_accumulator_keeps_little_per_distinct_group(tmp_path):
    gen = _load_gen()
    log = tmp_path / "groups.log"
    n_groups = 6000
    with log.open("w") as fh:
        gen.write_groups_log(fh, n_groups, seed=3)
    gc.collect()
    tracemalloc.start()
    try:
        acc = GroupAccumulator()
        for d in scan([str(log)], stats=ScanStats(), records=False):
            acc.add(d)
        del d
        gc.collect()
        with_groups = tracemalloc.get_traced_memory()[0]
        assert len(acc) == n_groups
        del acc
        gc.collect()
        without = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    per_group = (with_groups - without) / n_groups
    assert per_group < MAX_KEPT_PER_GROUP, f"{per_group:.0f} bytes kept per group"


# -- streaming: the same bytes as the whole-list functions --------------------------


def test_write_tail_from_an_iterator_is_tail_text():
    denials = random_denials(random.Random(3), 700)
    groups = group_denials(denials)
    findings = explain_groups(groups, None)
    rules = rules_json(groups, findings) * 60  # past one batch of 512
    stats = ScanStats(lines=9, events=3, denials=700)
    parts: list[str] = []
    write_tail(parts.append, iter(rules), stats)
    assert "".join(parts) == tail_text(rules, stats)
    assert len(parts) > 2  # written a batch at a time
    empty: list[str] = []
    write_tail(empty.append, iter(()), stats)
    assert "".join(empty) == tail_text([], stats)


@pytest.mark.parametrize("batch", [1, 2, 3, 50])
def test_iter_findings_never_splits_an_access_from_its_permissive_half(batch):
    """The narrower-permission advice looks at every permission denied on
    (source, target, class), permissive or not: the two halves must be
    explained in one batch, or a batch boundary would change the advice."""
    base = random_denials(random.Random(2), 1)[0]
    denials = []
    for i, src in enumerate(["a_t", "b_t", "c_t", "d_t"]):
        sc = replace(base.scontext, type=src)
        tc = replace(base.tcontext, type=src)
        denials.append(replace(base, scontext=sc, tcontext=tc, tclass="capability", perms=("dac_override",),
                               permissive=False, time=float(i)))
        denials.append(replace(base, scontext=sc, tcontext=tc, tclass="capability", perms=("dac_read_search",),
                               permissive=True, time=float(i)))
    groups = group_denials(denials)
    want = explain_groups(groups, None)
    assert any(a.kind.value == "narrower_perm" for f in want for a in f.advice)  # the case is exercised
    assert list(iter_findings(iter(groups), None, batch=batch)) == want


# -- the report: summed up past --max-groups ----------------------------------------


def write_log(path: Path, counts: dict[tuple[str, str], int]) -> int:
    """One AVC line per denial; ``counts``: (source type, target type) -> denials."""
    lines = []
    serial = 100
    for (src, tgt), n in counts.items():
        for _ in range(n):
            serial += 1
            lines.append(f"type=AVC msg=audit(1700000000.{serial % 1000:03d}:{serial}): avc:  denied  {{ read }} for  "
                         f"pid=7 comm=\"prog\" name=\"f\" dev=\"dm-0\" ino=1 scontext=system_u:system_r:{src}:s0 "
                         f"tcontext=system_u:object_r:{tgt}:s0 tclass=file permissive=0")
    path.write_text("\n".join(lines) + "\n")
    return sum(counts.values())


def why(capsys, *args: str) -> str:
    code = main(["why", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


SUMMARY = re.compile(r"^(\d+) denials in (\d+) groups;", re.M)


def test_report_past_max_groups_shows_the_busiest_and_sums_up_the_rest(tmp_path, capsys):
    # 12 groups in 3 domains; group k of domain d has a count of its own
    counts = {}
    for d, dom in enumerate(["alpha_t", "beta_t", "gamma_t"]):
        for k in range(4):
            counts[(dom, f"{dom[:-2]}_obj{k}_t")] = 1 + 3 * k + d  # 1..12, all distinct
    log = tmp_path / "a.log"
    total = write_log(log, counts)
    out = why(capsys, str(log), "--max-groups", "5", "--format", "rich")  # the rich report's table and panels
    busiest = sorted(counts, key=lambda k: -counts[k])[:5]
    for src, tgt in counts:
        assert (f"{tgt}:file" in out) == ((src, tgt) in busiest), tgt
    rest = [k for k in counts if k not in busiest]
    rest_denials = sum(counts[k] for k in rest)
    assert re.search(rf"Not shown: {len(rest)} groups \({rest_denials} denials\) in 3 domains", out), out
    for dom in ("alpha_t", "beta_t", "gamma_t"):
        mine = [k for k in rest if k[0] == dom]
        assert re.search(rf"│ {dom} +│ +{len(mine)} │ +{sum(counts[k] for k in mine)} │", out), dom
    m = SUMMARY.search(out)
    assert m and (int(m.group(1)), int(m.group(2))) == (total, 12)
    assert "shown: the 5 groups with the most denials; all 12 are in 'avcfix why --json'" in out
    # a domain's panel says how many of its groups it shows
    assert "gamma_t  (2 of 4 target/class groups shown)" in out


def test_report_at_or_below_max_groups_is_the_full_report(tmp_path, capsys):
    counts = {("alpha_t", f"obj{k}_t"): k + 1 for k in range(6)}
    log = tmp_path / "a.log"
    write_log(log, counts)
    full = why(capsys, str(log), "--all")
    assert "Not shown" not in full and all(f"obj{k}_t:file" in full for k in range(6))
    assert why(capsys, str(log)) == full  # default: 300
    assert why(capsys, str(log), "--max-groups", "6") == full
    assert why(capsys, str(log), "--max-groups", "5", "--all") == full
    assert why(capsys, str(log), "--max-groups", "5") != full


def test_report_default_threshold_is_300_groups(tmp_path, capsys):
    log = tmp_path / "a.log"
    write_log(log, {("alpha_t", f"obj{k:03d}_t"): 1 for k in range(300)})
    assert "Not shown" not in why(capsys, str(log))
    write_log(log, {("alpha_t", f"obj{k:03d}_t"): 1 for k in range(301)})
    out = why(capsys, str(log))
    assert "Not shown: 1 group (1 denial) in 1 domain" in out
    assert "obj300_t:file" not in out and "obj299_t:file" in out  # ties: key order
