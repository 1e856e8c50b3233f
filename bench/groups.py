#!/usr/bin/env python3
"""Benchmark: memory of ``avcfix why`` per distinct denial group.

    .venv/bin/python bench/groups.py             # 0, 10k, 50k, 100k groups (make bench-groups)
    .venv/bin/python bench/groups.py --quick     # 0, 2k, 10k groups
    .venv/bin/python bench/groups.py --full      # also 300k groups
    .venv/bin/python bench/groups.py --sizes 0 20000 --json bench/data/groups.json

A log with N distinct (source type, target type, class) groups is made by
``bench/gen.py --groups N --policy POLICY`` (real type names, so audit2allow
keeps every denial; a quarter of the groups have two denials), cached in
``bench/data/``. For each N it measures, as ``bench/run.py`` does (GNU time's
peak RSS of the largest process and the sampled peak PSS of the whole
process tree; the larger of the two counts):

- ``avcfix why --json LOG`` (denials streamed, then one rule per group);
- ``avcfix why LOG``, the rich report (stdout to a file: not a terminal);
- ``audit2allow -p POLICY -i LOG``, on the sizes up to ``--a2a-max`` (about
  10 ms per group here: 50k groups would take ten minutes).

N = 0 (an empty log) is the flat base. It prints, per avcfix command and N,
the bytes per group above that base, ``(memory(N) - memory(0)) / N``, and
PASS/FAIL against the target of issue 12 (about 1 KB per group), and the
ratios to audit2allow where both ran. The outputs are checked: the JSON
counts every denial and has one rule per group, the report's last line
names N groups, audit2allow writes N allow rules. Nothing here is a test: a
missed target prints FAIL; the exit status is non-zero only when the harness
cannot run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402  (bench/run.py: the measuring harness)
from run import HarnessError, Measure  # noqa: E402

PROJECT = BENCH.parent
GEN = BENCH / "gen.py"

#: Target of issue 12: memory per distinct group above the flat base.
MAX_BYTES_PER_GROUP = 1024
DEFAULT_SIZES = (0, 10_000, 50_000, 100_000)
QUICK_SIZES = (0, 2_000, 10_000)
FULL_EXTRA = (300_000,)
#: audit2allow only up to this many groups by default (it takes ~10 ms per group).
A2A_MAX = 10_000

JSON_CMD = "avcfix why --json"
REPORT_CMD = "avcfix why (report)"
A2A_CMD = "audit2allow -p"


def size_label(n: int) -> str:
    return bench.size_label(n) if n else "0"


def ensure_groups_log(groups: int, seed: int, policy: Path, data: Path) -> tuple[Path, dict]:
    """The cached log of ``groups`` distinct groups (made by gen.py) and its stats."""
    data.mkdir(parents=True, exist_ok=True)
    log = data / f"groups-{size_label(groups)}-seed{seed}.log"
    meta = log.with_suffix(".meta.json")
    digest = hashlib.sha256(GEN.read_bytes())
    digest.update(hashlib.sha256(policy.read_bytes()).digest())
    gen_hash = digest.hexdigest()
    if log.exists() and meta.exists():
        try:
            info = json.loads(meta.read_text())
        except ValueError:
            info = {}
        if info.get("gen_sha256") == gen_hash and info.get("groups") == groups and \
                log.stat().st_size == info.get("bytes"):
            return log, info
    print(f"generating {log.name} ({groups} groups)...", flush=True)
    stats_file = log.with_suffix(".stats.json")
    cp = subprocess.run([sys.executable, str(GEN), "--groups", str(groups), "--policy", str(policy),
                         "--seed", str(seed), "-o", str(log), "--stats", str(stats_file)],
                        capture_output=True, text=True)
    if cp.returncode != 0:
        raise HarnessError(f"bench/gen.py failed: {cp.stderr.strip()[-2000:]}")
    info = {"gen_sha256": gen_hash, "seed": seed, "groups": groups, "bytes": log.stat().st_size,
            "stats": json.loads(stats_file.read_text())}
    stats_file.unlink()
    meta.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return log, info


# -- output checks ---------------------------------------------------------------


def check_json(out: Path, info: dict) -> str:
    try:
        doc = json.loads(out.read_text())
    except ValueError as exc:
        return f"FAIL: not one JSON document ({exc})"
    stats = doc.get("stats", {})
    rules = len(doc.get("rules", []))
    ok = stats.get("denials") == info["stats"]["avc_records"] and rules == info["groups"]
    return f"{'ok' if ok else 'FAIL'}: {stats.get('denials')} denials, {rules} rules"


_SUMMARY = re.compile(r"^(\d+) denials? in (\d+) groups?;", re.M)


def check_report(out: Path, info: dict) -> str:
    text = out.read_text(errors="replace")
    if info["groups"] == 0:
        ok = "No SELinux denials found" in text
        return f"{'ok' if ok else 'FAIL'}: {'no denials' if ok else 'unexpected output'}"
    m = _SUMMARY.search(text)
    ok = bool(m) and int(m.group(2)) == info["groups"] and int(m.group(1)) == info["stats"]["avc_records"]
    return f"{'ok' if ok else 'FAIL'}: " + (m.group(0).rstrip(";") if m else "no summary line")


def check_a2a(out: Path, info: dict) -> str:
    rules = sum(1 for line in out.read_text(errors="replace").splitlines() if line.startswith("allow "))
    return f"{'ok' if rules == info['groups'] else 'FAIL'}: {rules} allow rules"


CHECKS = {JSON_CMD: check_json, REPORT_CMD: check_report, A2A_CMD: check_a2a}


# -- the run ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    ap.add_argument("--full", action="store_true", help=f"also {FULL_EXTRA} groups")
    ap.add_argument("--sizes", type=int, nargs="+", metavar="N", help="group counts (0, the flat base, is added)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each command (median; default 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--policy", type=Path, default=bench.DEFAULT_POLICY,
                    help="binary policy: the type names of the logs, and audit2allow -p")
    ap.add_argument("--a2a-max", type=int, default=A2A_MAX,
                    help=f"run audit2allow on the logs of at most this many groups (default {A2A_MAX}; 0: never)")
    ap.add_argument("--data", type=Path, default=bench.DATA, help="where the generated logs are cached")
    ap.add_argument("--json", type=Path, help="write the results here as JSON")
    args = ap.parse_args(argv)
    try:
        return run(args)
    except HarnessError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace) -> int:
    sizes = set(args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES))
    if args.full:
        sizes |= set(FULL_EXTRA)
    sizes = sorted(sizes | {0})
    if sizes[0] < 0 or args.repeats < 1:
        raise HarnessError("sizes must be >= 0 and --repeats >= 1")
    if not args.policy.exists():
        raise HarnessError(f"policy {args.policy} not found (selinux-policy-default), or pass --policy")
    use_gnu_time = bench.GNU_TIME.exists()
    logs = {n: ensure_groups_log(n, args.seed, args.policy, args.data) for n in sizes}
    for path, _ in logs.values():
        bench.warm(path)
    bench.compile_bytecode()
    avcfix = bench.avcfix_argv()
    missing = bench.avcfix_available(avcfix)
    if missing:
        raise HarnessError(missing)
    a2a = shutil.which("audit2allow")
    plan: list[Measure] = []
    for n in sizes:
        log = str(logs[n][0])
        plan.append(Measure(JSON_CMD, n, [*avcfix, "why", "--json", log]))
        plan.append(Measure(REPORT_CMD, n, [*avcfix, "why", log]))
        if a2a and 0 < n <= args.a2a_max:
            plan.append(Measure(A2A_CMD, n, [a2a, "-p", str(args.policy), "-i", log]))
    print(f"repeats: {args.repeats}; peak RSS via {'GNU time' if use_gnu_time else 'os.wait4'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="avcfix-bench-groups-") as tmp:
        for r in range(args.repeats):
            for i, m in enumerate(plan):
                if m.error:
                    continue
                out = Path(tmp) / f"{i}.out"
                one = bench.run_once(m.argv, out, use_gnu_time)
                print(f"  [{r + 1}/{args.repeats}] {m.tool:<20} {size_label(m.size):>5} groups: {one.wall:7.2f} s wall "
                      f"{one.cpu:7.2f} s CPU {one.rss_kb / 1024:7.1f} MB RSS {one.tree_kb / 1024:7.1f} MB tree PSS "
                      f"exit {one.code}", flush=True)
                m.exit_codes.append(one.code)
                if one.code != 0:
                    lines = one.stderr.splitlines()
                    m.error = f"exit {one.code}: {lines[-1] if lines else 'no stderr'}"
                    m.stderr_tail = one.stderr
                    continue
                m.walls.append(one.wall)
                m.cpus.append(one.cpu)
                m.rss_kb.append(one.rss_kb)
                if one.tree_kb:
                    m.tree_kb.append(one.tree_kb)
                m.procs = max(m.procs, one.procs)
                if r == 0:
                    m.check = CHECKS[m.tool](out, logs[m.size][1])
    result = report(plan, logs, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"\nresults written to {args.json}")
    broken = [m for m in plan if m.error and not m.tool.startswith("avcfix")]
    if broken:
        raise HarnessError("; ".join(f"{m.tool} failed: {m.error}" for m in broken))
    return 0


def report(plan: list[Measure], logs: dict, args: argparse.Namespace) -> dict:
    info = bench.machine()
    print(f"\nmachine: {info['cpu']} ({info['cpus']} CPUs, {info['mem_gb']} GB), {info['os']}, "
          f"kernel {info['kernel']}, Python {info['python']}; avcfix: {info['accelerator']}; "
          f"load average {info['loadavg_1min']}")
    for n, (path, meta) in sorted(logs.items()):
        s = meta["stats"]
        print(f"log {size_label(n):>5} groups: {path.name}, {meta['bytes'] / 1e6:.1f} MB, {s['lines']} lines, "
              f"{s['avc_records']} denials")
    print(f"\n| {'command':<20} | {'groups':>6} | {'wall':>9} | {'CPU':>9} | {'peak RSS':>9} | {'tree PSS':>9} "
          f"| {'memory':>9} | output check")
    print("|" + "-" * 22 + "|-------:|----------:|----------:|----------:|----------:|----------:|" + "-" * 14)
    for m in plan:
        if m.walls:
            tree = f"{m.tree_mb:6.1f} MB" if m.tree_kb else "-"
            print(f"| {m.tool:<20} | {size_label(m.size):>6} | {m.wall:7.2f} s | {m.cpu:7.2f} s | {m.rss_mb:6.1f} MB "
                  f"| {tree:>9} | {m.mem_mb:6.1f} MB | {m.check}")
        else:
            print(f"| {m.tool:<20} | {size_label(m.size):>6} | {'-':>9} | {'-':>9} | {'-':>9} | {'-':>9} | {'-':>9} "
                  f"| error: {m.error}")
    print("(memory: the larger of peak RSS (GNU time, largest process) and tree PSS (summed, sampled every 50 ms))")

    by = {(m.tool, m.size): m for m in plan if m.walls}
    targets = []
    print("\n| command | groups | memory - base | bytes per group | marginal | goal | result |"
          "\n|---|---:|---:|---:|---:|---|---|")
    for tool in (JSON_CMD, REPORT_CMD):
        base = by.get((tool, 0))
        prev = base
        for n in sorted(logs):
            m = by.get((tool, n))
            if n == 0 or m is None or base is None:
                continue
            per = (m.mem_mb - base.mem_mb) * 1024 * 1024 / n
            # From the previous size: the cost of one more group, without what
            # a bigger log costs once (a second process past 48 MB, full memo tables).
            marginal = (m.mem_mb - prev.mem_mb) * 1024 * 1024 / (n - prev.size) if prev.size else per
            prev = m
            ok = per <= MAX_BYTES_PER_GROUP
            targets.append({"command": tool, "groups": n, "mem_mb": m.mem_mb, "base_mb": base.mem_mb,
                            "bytes_per_group": per, "marginal_bytes_per_group": marginal,
                            "goal": MAX_BYTES_PER_GROUP, "pass": ok})
            print(f"| {tool} | {size_label(n)} | {m.mem_mb - base.mem_mb:.1f} MB | {per:.0f} B | {marginal:.0f} B "
                  f"| <= {MAX_BYTES_PER_GROUP} B | {'PASS' if ok else 'FAIL'} |")
    print("(bytes per group: (memory(N) - memory(0)) / N, the target; marginal: from the previous N)")
    ratios = []
    for n in sorted(logs):
        a = by.get((A2A_CMD, n))
        if a is None:
            continue
        for tool in (JSON_CMD, REPORT_CMD):
            m = by.get((tool, n))
            if m is not None:
                ratios.append({"command": tool, "groups": n, "speedup_wall": a.wall / m.wall,
                               "speedup_cpu": a.cpu / m.cpu if m.cpu > 0 else None,
                               "memory_ratio": m.mem_mb / a.mem_mb if a.mem_mb else None})
    if ratios:
        print("\n| vs audit2allow | groups | audit2allow wall / avcfix wall | CPU ratio | avcfix memory / audit2allow memory |"
              "\n|---|---:|---:|---:|---:|")
        for r in ratios:
            cpu = f"{r['speedup_cpu']:.1f}x" if r["speedup_cpu"] else "-"
            mem = f"{r['memory_ratio']:.2f}" if r["memory_ratio"] else "-"
            print(f"| {r['command']} | {size_label(r['groups'])} | {r['speedup_wall']:.1f}x | {cpu} | {mem} |")
    return {
        "machine": info,
        "tools": bench.tool_versions(),
        "repeats": args.repeats,
        "logs": {size_label(n): {"path": str(p), **meta} for n, (p, meta) in logs.items()},
        "measures": [m.summary() for m in plan],
        "targets": targets,
        "vs_audit2allow": ratios,
    }


if __name__ == "__main__":
    raise SystemExit(main())
