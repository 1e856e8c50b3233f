#!/usr/bin/env python3
"""Benchmark: ``avcfix why --json`` against audit2allow and ausearch on the same log.

    .venv/bin/python bench/run.py            # 100k and 1M lines, 3 repeats (make bench)
    .venv/bin/python bench/run.py --quick    # 10k and 100k lines, 1 repeat (smoke run)
    .venv/bin/python bench/run.py --json bench/data/results.json

Logs are made by ``bench/gen.py`` (seeded) and cached in ``bench/data/``
(gitignored); a cached log is reused only while gen.py, the seed and the size
are unchanged. On the large log, in one run, it times:

- ``avcfix why --json FILE`` (also on the small log, for the memory slope);
- ``audit2allow -p POLICY -i FILE``;
- ``ausearch -if FILE -m AVC --raw``;
- for information (no target), ``avcfix why --json --policy POLICY FILE``,
  which also explains every denial against the policy with setools.

Each child's wall time is measured here (monotonic clock around the child)
and its peak RSS by GNU time (``/usr/bin/time -f %M``), a small C launcher,
so the figure is the child's own (see Memory below). Without GNU time the harness falls back to
``os.wait4`` rusage, which on Linux also counts the harness's RSS at fork
time (the report says so). Children run round-robin, ``--repeats`` times; the
table shows the median wall time and the median peak RSS (min and max are in
the JSON). The page cache is warmed by reading each log once first, and
avcfix's bytecode caches are written (as pip does for an installed package). Child
stdout goes to a file, so every tool pays for its output the same way; the
outputs are checked (avcfix's JSON must parse and count the generated
denials, ausearch must return every denial event).

Memory: GNU time's ``%M`` is the peak RSS of the largest single process; as
``avcfix why`` may fork workers on a big file, a sampler also follows the
summed PSS of the whole process tree (``/proc/PID/smaps_rollup`` every
50 ms). The memory targets use the larger of the two.

Targets (issue 2): avcfix >= 8x faster than audit2allow, <= 1.5x ausearch's
time, peak memory < 80 MB, memory(1M) - memory(100k) < 20 MB. A missed target prints
FAIL but is not an error: the exit status is non-zero only when the harness
itself cannot run (missing tool, a tool that crashed, a log it cannot make).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
DATA = BENCH / "data"
GEN = BENCH / "gen.py"
DEFAULT_POLICY = Path("/etc/selinux/default/policy/policy.33")
GNU_TIME = Path("/usr/bin/time")

#: Targets from issue 2.
SPEEDUP_VS_AUDIT2ALLOW = 8.0
MAX_RATIO_VS_AUSEARCH = 1.5
MAX_RSS_MB = 80.0
MAX_RSS_GROWTH_MB = 20.0


class HarnessError(Exception):
    """The benchmark itself could not run (not a missed target)."""


@dataclass
class Measure:
    """All repeats of one command on one log."""

    tool: str
    size: int
    argv: list[str]
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    tree_kb: list[int] = field(default_factory=list)
    procs: int = 0
    exit_codes: list[int] = field(default_factory=list)
    error: str | None = None
    check: str | None = None
    stderr_tail: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def rss_mb(self) -> float:
        return statistics.median(self.rss_kb) / 1024

    @property
    def tree_mb(self) -> float:
        """Median peak summed PSS of the process tree (0 when not sampled)."""
        return statistics.median(self.tree_kb) / 1024 if self.tree_kb else 0.0

    @property
    def mem_mb(self) -> float:
        """The memory figure the target is checked on: the larger of the two measures."""
        return max(self.rss_mb, self.tree_mb)

    def summary(self) -> dict:
        data = asdict(self)
        if self.walls:
            data.update(
                wall_median=self.wall, wall_min=min(self.walls), wall_max=max(self.walls), cpu_median=self.cpu,
                rss_mb_median=self.rss_mb, rss_mb_min=min(self.rss_kb) / 1024, rss_mb_max=max(self.rss_kb) / 1024,
                tree_pss_mb_median=self.tree_mb, mem_mb=self.mem_mb,
            )
        return data


# -- logs ----------------------------------------------------------------------


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def ensure_log(lines: int, seed: int, data: Path) -> tuple[Path, dict]:
    """The cached log of ``lines`` lines (made by gen.py in a child process) and its stats."""
    data.mkdir(parents=True, exist_ok=True)
    log = data / f"{size_label(lines)}-seed{seed}.log"
    meta = log.with_suffix(".meta.json")
    gen_hash = hashlib.sha256(GEN.read_bytes()).hexdigest()
    if log.exists() and meta.exists():
        try:
            info = json.loads(meta.read_text())
        except ValueError:
            info = {}
        same = info.get("gen_sha256") == gen_hash and info.get("stats", {}).get("lines") == lines
        if same and log.stat().st_size == info.get("bytes"):
            return log, info
    print(f"generating {log.relative_to(PROJECT) if log.is_relative_to(PROJECT) else log} ({lines} lines)...", flush=True)
    stats_file = log.with_suffix(".stats.json")
    cp = subprocess.run(
        [sys.executable, str(GEN), "--lines", str(lines), "--seed", str(seed), "-o", str(log), "--stats", str(stats_file)],
        capture_output=True, text=True,
    )
    if cp.returncode != 0:
        raise HarnessError(f"bench/gen.py failed: {cp.stderr.strip()[-2000:]}")
    info = {"gen_sha256": gen_hash, "seed": seed, "bytes": log.stat().st_size, "stats": json.loads(stats_file.read_text())}
    stats_file.unlink()
    meta.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return log, info


def warm(path: Path) -> None:
    """Read the file once so every tool starts with it in the page cache."""
    with path.open("rb") as fh:
        while fh.read(1 << 20):
            pass


def compile_bytecode() -> None:
    """Write avcfix's bytecode caches, as any installed package has them (pip
    compiles on install), even when PYTHONDONTWRITEBYTECODE is set; otherwise
    every avcfix run would compile its modules from source (0.03 s here)."""
    import compileall

    compileall.compile_dir(str(BENCH.parent / "avcfix"), quiet=1)


# -- running one child -----------------------------------------------------------


class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process and all its descendants (Linux /proc).

    GNU time's ``%M`` is the largest peak of any *one* process of the tree; a
    tool that forks workers uses the sum. PSS splits the pages that forked
    processes share, so the sum is not inflated by copy-on-write sharing.
    """

    def __init__(self, root: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_kb = 0
        self.max_procs = 0
        self._stop_event = threading.Event()

    @staticmethod
    def available() -> bool:
        return Path(f"/proc/{os.getpid()}/smaps_rollup").exists() and Path(
            f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()

    def _tree(self) -> list[int]:
        pids, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as fh:
                        todo.extend(int(c) for c in fh.read().split())
            except OSError:
                continue
        return pids

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            pids = self._tree()
            self.max_procs = max(self.max_procs, len(pids))
            self.peak_kb = max(self.peak_kb, sum(self._pss_kb(p) for p in pids))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass(frozen=True)
class Run:
    """One run of one command."""

    wall: float
    cpu: float
    rss_kb: int  # the largest peak RSS of one process of the tree
    tree_kb: int  # the peak summed PSS of the whole process tree (sampled); 0 when unknown
    procs: int  # the most processes seen at once in the tree (GNU time itself included)
    code: int
    stderr: str


def run_once(argv: list[str], stdout: Path, use_gnu_time: bool) -> Run:
    """Run ``argv`` with its stdout in ``stdout``; measure time and memory."""
    with tempfile.TemporaryDirectory(prefix="avcfix-bench-") as tmp:
        err_path = Path(tmp) / "stderr"
        rss_path = Path(tmp) / "rss"
        full = [str(GNU_TIME), "-q", "-f", "%M %U %S", "-o", str(rss_path), *argv] if use_gnu_time else argv
        with stdout.open("wb") as out, err_path.open("wb") as err:
            start = time.monotonic()
            proc = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            sampler = TreeSampler(proc.pid) if TreeSampler.available() else None
            if sampler is not None:
                sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - start
            if sampler is not None:
                sampler.stop()
            proc.returncode = os.waitstatus_to_exitcode(status)
        if use_gnu_time:
            text = rss_path.read_text().split() if rss_path.exists() else []
            try:
                rss, cpu = int(text[-3]), float(text[-2]) + float(text[-1])
            except (IndexError, ValueError):
                rss, cpu = -1, -1.0
        else:
            rss, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
        tail = err_path.read_text(errors="replace").strip()[-800:]
    return Run(wall, cpu, rss, sampler.peak_kb if sampler else 0, sampler.max_procs if sampler else 0,
               proc.returncode, tail)


# -- output checks -----------------------------------------------------------------


def check_avcfix(out: Path, info: dict) -> str:
    """avcfix's JSON parses and reports as many denials as the generator wrote AVC records."""
    try:
        doc = json.loads(out.read_text())
    except ValueError as exc:
        return f"FAIL: output is not one JSON document ({exc})"
    stats = doc.get("stats", {}) if isinstance(doc, dict) else {}
    want = info["stats"]
    got = stats.get("denials")
    ok = got == want["avc_records"] and stats.get("lines") == want["lines"]
    return (
        f"{'ok' if ok else 'FAIL'}: stats.lines={stats.get('lines')} (log {want['lines']}), "
        f"stats.denials={got} (generated AVC records {want['avc_records']}), skipped_lines={stats.get('skipped_lines')}, "
        f"rules={len(doc.get('rules', []))}"
    )


def check_ausearch(out: Path, info: dict) -> str:
    serials = set()
    with out.open("rb") as fh:
        for line in fh:
            if line.startswith(b"type="):
                start = line.find(b":", line.find(b"audit("))
                end = line.find(b")", start)
                serials.add(line[start + 1:end])
    want = info["stats"]["denial_events"]
    return f"{'ok' if len(serials) == want else 'FAIL'}: {len(serials)} events (generated denial events {want})"


def check_audit2allow(out: Path, info: dict) -> str:
    rules = sum(1 for line in out.read_text(errors="replace").splitlines() if line.startswith("allow "))
    return f"{'ok' if rules else 'FAIL'}: {rules} allow rules"


# -- the run ----------------------------------------------------------------------


def tool_versions() -> dict[str, str]:
    versions = {}
    for pkg in ("auditd", "policycoreutils-python-utils", "selinux-policy-default"):
        cp = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        if cp.returncode == 0:
            versions[pkg] = cp.stdout.strip()
    return versions


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "cpu": cpu, "cpus": os.cpu_count(), "mem_gb": mem_gb, "kernel": platform.release(),
        "os": _os_name(), "python": platform.python_version(), "accelerator": accelerator(),
    }


def accelerator() -> str:
    """Whether the avcfix children run with the C accelerator (same environment)."""
    cp = subprocess.run([sys.executable, "-c", "from avcfix.audit.accel import cscan; print(bool(cscan))"],
                        capture_output=True, text=True)
    if cp.returncode != 0:
        return "unknown (avcfix does not import here)"
    return "C accelerator loaded" if cp.stdout.strip() == "True" else "pure Python (C accelerator not loaded)"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def avcfix_argv() -> list[str]:
    exe = Path(sys.executable).parent / "avcfix"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("avcfix")
    return [found] if found else [sys.executable, "-m", "avcfix"]


def avcfix_available(argv: list[str]) -> str | None:
    """``None`` when ``avcfix why`` runs; otherwise why not."""
    cp = subprocess.run([*argv, "why", "--help"], capture_output=True, text=True)
    if cp.returncode != 0:
        first = (cp.stderr or cp.stdout).strip().splitlines()
        return f"`avcfix why` is not available yet (exit {cp.returncode}: {first[-1] if first else 'no output'})"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10k/100k lines, 1 repeat (a smoke run)")
    ap.add_argument("--sizes", type=int, nargs=2, metavar=("SMALL", "LARGE"), help="line counts (default 100000 1000000)")
    ap.add_argument("--repeats", type=int, help="runs of each command (default 3; 1 with --quick)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="binary policy for audit2allow -p")
    ap.add_argument("--data", type=Path, default=DATA, help="where the generated logs are cached")
    ap.add_argument("--json", type=Path, help="write the results here as JSON")
    ap.add_argument("--no-policy-row", action="store_true", help="skip the informational avcfix run with --policy")
    ap.add_argument("--no-gnu-time", action="store_true", help="measure RSS with os.wait4 even if /usr/bin/time exists")
    args = ap.parse_args(argv)
    try:
        return run(args)
    except HarnessError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace) -> int:
    small, large = args.sizes or ((10_000, 100_000) if args.quick else (100_000, 1_000_000))
    repeats = args.repeats or (1 if args.quick else 3)
    if repeats < 1 or small < 1 or large < small:
        raise HarnessError("need --repeats >= 1 and 1 <= SMALL <= LARGE")
    use_gnu_time = GNU_TIME.exists() and not args.no_gnu_time
    for tool in ("audit2allow", "ausearch"):
        if shutil.which(tool) is None:
            raise HarnessError(f"{tool} is not installed (make setup installs it)")
    if not args.policy.exists():
        raise HarnessError(f"policy {args.policy} not found (selinux-policy-default), or pass --policy")

    logs = {n: ensure_log(n, args.seed, args.data) for n in (small, large)}
    load_before = os.getloadavg()[0]
    for path, _ in logs.values():
        warm(path)
    compile_bytecode()

    avcfix = avcfix_argv()
    avcfix_missing = avcfix_available(avcfix)
    plan: list[Measure] = []
    if avcfix_missing is None:
        plan.append(Measure("avcfix why --json", small, [*avcfix, "why", "--json", str(logs[small][0])]))
        plan.append(Measure("avcfix why --json", large, [*avcfix, "why", "--json", str(logs[large][0])]))
        if not args.no_policy_row:
            # Informational (no target): with the policy, why also explains each denial (setools).
            plan.append(Measure("avcfix why --json --policy", large,
                                [*avcfix, "why", "--json", "--policy", str(args.policy), str(logs[large][0])]))
    plan.append(Measure("audit2allow", large, ["audit2allow", "-p", str(args.policy), "-i", str(logs[large][0])]))
    plan.append(Measure("ausearch -m AVC --raw", large, ["ausearch", "-if", str(logs[large][0]), "-m", "AVC", "--raw"]))
    checks = {"avcfix why --json": check_avcfix, "avcfix why --json --policy": check_avcfix,
              "ausearch -m AVC --raw": check_ausearch, "audit2allow": check_audit2allow}

    print(f"repeats: {repeats} (round-robin; table = median), peak RSS via "
          f"{'GNU time' if use_gnu_time else 'os.wait4 (includes the harness RSS at fork, ~10 MB)'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="avcfix-bench-out-") as tmp:
        for r in range(repeats):
            for i, m in enumerate(plan):
                if m.error:
                    continue
                out = Path(tmp) / f"{i}.out"
                one = run_once(m.argv, out, use_gnu_time)
                wall, cpu, rss, code, err = one.wall, one.cpu, one.rss_kb, one.code, one.stderr
                print(f"  [{r + 1}/{repeats}] {m.tool:<28} {size_label(m.size):>5}: {wall:7.2f} s wall {cpu:7.2f} s CPU "
                      f"{rss / 1024:7.1f} MB RSS {one.tree_kb / 1024:7.1f} MB tree PSS ({one.procs} procs)  exit {code}",
                      flush=True)
                m.exit_codes.append(code)
                if code != 0 and not (m.tool == "ausearch -m AVC --raw" and code == 1 and out.stat().st_size == 0):
                    lines = err.splitlines()
                    m.error = f"exit {code}: {lines[-1] if lines else 'no stderr'}"
                    m.stderr_tail = err
                    continue
                m.walls.append(wall)
                m.cpus.append(cpu)
                m.rss_kb.append(rss)
                if one.tree_kb:
                    m.tree_kb.append(one.tree_kb)
                m.procs = max(m.procs, one.procs)
                if r == 0:
                    m.check = checks[m.tool](out, logs[m.size][1])

    result = report(plan, logs, small, large, repeats, use_gnu_time, avcfix_missing, load_before)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"\nresults written to {args.json}")
    broken = [m for m in plan if m.error and not m.tool.startswith("avcfix")]
    if broken:
        raise HarnessError("; ".join(f"{m.tool} failed: {m.error}" for m in broken))
    return 0


def report(plan: list[Measure], logs: dict, small: int, large: int, repeats: int, gnu_time: bool,
           avcfix_missing: str | None, load_before: float) -> dict:
    """Print the table and the targets; return everything as a JSON-able dict."""
    info = machine()
    print(f"\nmachine: {info['cpu']} ({info['cpus']} CPUs, {info['mem_gb']} GB), {info['os']}, "
          f"kernel {info['kernel']}, Python {info['python']}")
    print(f"avcfix: {info['accelerator']}")
    busy = max(load_before, info["loadavg_1min"]) > 1.0
    print(f"load average: {load_before:.2f} before, {info['loadavg_1min']:.2f} after"
          + (" (a busy machine: wall times are inflated, compare the CPU times)" if busy else ""))
    for n, (path, meta) in sorted(logs.items()):
        s = meta["stats"]
        print(f"log {size_label(n)}: {path.name}, {meta['bytes'] / 1e6:.0f} MB, {s['events']} events, "
              f"{s['denial_events']} denial events, {s['avc_records']} AVC records")
    print()
    header = (f"| {'command':<28} | {'log':>5} | {'wall (median)':>13} | {'CPU user+sys':>12} | {'peak RSS':>9} "
              f"| {'tree PSS':>9} | procs | output check")
    print(header)
    print("|" + "-" * 30 + "|------:|--------------:|-------------:|----------:|----------:|------:|" + "-" * 14)
    for m in plan:
        if m.walls:
            tree = f"{m.tree_mb:6.1f} MB" if m.tree_kb else "-"
            print(f"| {m.tool:<28} | {size_label(m.size):>5} | {m.wall:11.2f} s | {m.cpu:10.2f} s | {m.rss_mb:6.1f} MB "
                  f"| {tree:>9} | {m.procs:>5} | {m.check}")
        else:
            print(f"| {m.tool:<28} | {size_label(m.size):>5} | {'-':>13} | {'-':>12} | {'-':>9} | {'-':>9} | {'-':>5} "
                  f"| error: {m.error}")
    print("(peak RSS: the largest of any one process (GNU time); tree PSS: the peak of the summed PSS of the process\n"
          " and its children, sampled every 50 ms; procs: most processes at once, GNU time's own included)")
    if avcfix_missing:
        print(f"\n{avcfix_missing}: avcfix was not measured.")

    by = {(m.tool, m.size): m for m in plan if m.walls}
    av_l = by.get(("avcfix why --json", large))
    av_s = by.get(("avcfix why --json", small))
    a2a = by.get(("audit2allow", large))
    aus = by.get(("ausearch -m AVC --raw", large))
    targets = []

    def target(name: str, value: float | None, goal: str, ok: bool | None) -> None:
        targets.append({"target": name, "value": value, "goal": goal, "pass": ok})

    if av_l and a2a:
        speedup = a2a.wall / av_l.wall
        target("speed-up vs audit2allow", speedup, f">= {SPEEDUP_VS_AUDIT2ALLOW:g}x", speedup >= SPEEDUP_VS_AUDIT2ALLOW)
    else:
        target("speed-up vs audit2allow", None, f">= {SPEEDUP_VS_AUDIT2ALLOW:g}x", None)
    if av_l and aus:
        ratio = av_l.wall / aus.wall
        target("time vs ausearch", ratio, f"<= {MAX_RATIO_VS_AUSEARCH:g}x", ratio <= MAX_RATIO_VS_AUSEARCH)
    else:
        target("time vs ausearch", None, f"<= {MAX_RATIO_VS_AUSEARCH:g}x", None)
    if av_l and a2a and aus:
        print(f"\n(CPU-time ratios, less sensitive to a busy machine: audit2allow/avcfix {a2a.cpu / av_l.cpu:.2f}x, "
              f"avcfix/ausearch {av_l.cpu / aus.cpu:.2f}x)")
    peak = max((m.mem_mb for m in (av_s, av_l) if m), default=None)
    target("avcfix peak memory (MB)", peak, f"< {MAX_RSS_MB:g} MB", None if peak is None else peak < MAX_RSS_MB)
    growth = av_l.mem_mb - av_s.mem_mb if av_l and av_s else None
    target(f"memory {size_label(large)} - memory {size_label(small)} (MB)", growth, f"< {MAX_RSS_GROWTH_MB:g} MB",
           None if growth is None else growth < MAX_RSS_GROWTH_MB)
    if av_l and av_l.check and av_l.check.startswith("FAIL"):
        print("\nwarning: avcfix's output does not match the generated log (see the output check)")

    print("\n| target | measured | goal | result |\n|---|---:|---|---|")
    for t in targets:
        value = "-" if t["value"] is None else (f"{t['value']:.2f}x" if "x" in t["goal"] else f"{t['value']:.1f} MB")
        verdict = "n/a" if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")
        print(f"| {t['target']} | {value} | {t['goal']} | {verdict} |")
    return {
        "machine": info,
        "tools": tool_versions(),
        "repeats": repeats,
        "statistic": "median",
        "rss_method": "GNU time %M" if gnu_time else "os.wait4 ru_maxrss",
        "logs": {size_label(n): {"path": str(p), **meta} for n, (p, meta) in logs.items()},
        "measures": [m.summary() for m in plan],
        "avcfix_missing": avcfix_missing,
        "loadavg_before": round(load_before, 2),
        "targets": targets,
    }


if __name__ == "__main__":
    raise SystemExit(main())
