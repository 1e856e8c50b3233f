#!/usr/bin/env python3
"""Benchmark: the policy index (issue 14) against audit2why and the old setools path, in one run.

    .venv/bin/python bench/index.py                 # everything, 3 repeats (make bench-index)
    .venv/bin/python bench/index.py --quick         # 1 repeat, Debian only, no loop
    .venv/bin/python bench/index.py --only corpus one loop --repeats 5 --json bench/data/index.json

It measures, side by side, each command as ``bench/run.py`` does (wall time
around the child, CPU time and peak RSS from GNU time ``%M``, round-robin,
median of ``--repeats``):

1. **The corpus.** Every log of ``../shared/corpus`` (recursively, sorted;
   not ``*.SOURCE.txt``, ``*.ausearch.txt``, ``*.audit2allow-noanalysis.txt``
   or ``README.md``) concatenated into ``bench/data/corpus.log``. For both
   policies -- Debian's reference policy (``--policy policy.33``) and
   Fedora's targeted policy built by ``../shared/fedora-policy/build.sh``
   (``--root R``, as tests/integration/conftest.py's ``fedora_root``) -- it times
   ``audit2why -p POLICY -i LOG``; ``avcfix why --json`` with a cold index
   cache (a new, empty ``AVCFIX_CACHE_DIR`` for every run), with a warm
   cache, and the old path (``AVCFIX_FACTS=setools``). The reasons of the
   warm run are compared with the old path's (``rules`` of the JSON).
2. **One denial with a policy** (``--one LOG``, default the one-event
   ``selinux_sepolgen_test_audit_py/audit2.log`` of the corpus: vpnc_t, a
   type both policies know): ``avcfix why`` (the report, stdout to a file)
   and ``avcfix why --json``, with ``--policy`` and with ``--root``, warm
   cache, and the old path.
3. **One loop iteration in the lab** (``avcfix loop --lab eucanetd --yes
   --json`` in a new lab dir and an empty index cache): the loop runs in a
   child of this script (``--loop-child``) that wraps ``avcfix.proc.run``
   (every external command goes through it) and ``Loop._finish`` (which
   closes each iteration), so each iteration's time is split into semodule,
   the other commands (checkmodule, semodule_package, make) and the rest
   (Python: explain, generate, verify, the index or setools); setools policy
   opens are counted too. The figure compared is the median over the
   iterations of (iteration time - semodule time), index against
   ``AVCFIX_FACTS=setools``. ``--loop-runs`` (default 1) whole loops each.

Targets (issue 14), printed PASS/FAIL, never asserted: warm corpus run at
least 5x faster than audit2why with both policies; cold no slower than
audit2why; peak RSS of the corpus runs at most 100 MB; one denial, warm, at
most 0.4 s; the lab iteration outside semodule halved by the index. The
exit status is non-zero only when the harness itself cannot run.

``--profile`` adds cProfile runs (in a child, warm cache) of the corpus
(Debian) and of the one denial, and prints the top cumulative costs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402  (bench/run.py: the measuring harness)
from run import HarnessError  # noqa: E402

PROJECT = BENCH.parent
DATA = BENCH / "data"
SHARED = PROJECT.parent / "shared"
CORPUS = SHARED / "corpus"
FEDORA_BUILD = SHARED / "fedora-policy" / "build.sh"
DEBIAN_POLICY = Path("/etc/selinux/default/policy/policy.33")
ONE_DENIAL = CORPUS / "selinux_sepolgen_test_audit_py" / "audit2.log"
EXCLUDE_SUFFIXES = (".SOURCE.txt", ".ausearch.txt", ".audit2allow-noanalysis.txt")

#: Targets from issue 14.
SPEEDUP_WARM = 5.0
MAX_RSS_MB = 100.0
MAX_ONE_DENIAL_S = 0.4
LOOP_FACTOR = 2.0

#: The variables that choose avcfix's facts and cache: cleared for every child, then set per row.
AVCFIX_VARS = ("AVCFIX_FACTS", "AVCFIX_CACHE_DIR", "AVCFIX_INDEX_CACHE")


@dataclass
class Row:
    """All repeats of one command."""

    part: str
    policy: str
    label: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cold: bool = False  # a new empty cache dir for every run
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    error: str | None = None
    check: str = ""
    out: str = ""  # the first run's stdout, kept for the checks

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def rss_mb(self) -> float:
        return statistics.median(self.rss_kb) / 1024

    def summary(self) -> dict:
        d = {k: getattr(self, k) for k in ("part", "policy", "label", "argv", "env", "walls", "cpus", "rss_kb",
                                            "error", "check")}
        if self.walls:
            d.update(wall_median=self.wall, cpu_median=self.cpu, rss_mb_median=self.rss_mb)
        return d


@contextlib.contextmanager
def environ(env: dict[str, str]):
    """os.environ with avcfix's own variables cleared and ``env`` set (children inherit it)."""
    saved = dict(os.environ)
    for k in AVCFIX_VARS:
        os.environ.pop(k, None)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# -- inputs ---------------------------------------------------------------------


def corpus_files(corpus: Path) -> list[Path]:
    files = [p for p in corpus.rglob("*") if p.is_file()]
    keep = [p for p in files if p.name != "README.md" and not p.name.endswith(EXCLUDE_SUFFIXES)]
    return sorted(keep, key=lambda p: str(p.relative_to(corpus)))


def build_corpus(corpus: Path, dest: Path) -> tuple[Path, int, int]:
    """Concatenate the corpus logs into ``dest`` (a newline between files); (path, files, lines)."""
    files = corpus_files(corpus)
    if not files:
        raise HarnessError(f"no logs in {corpus}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for p in files:
            data = p.read_bytes()
            out.write(data)
            if data and not data.endswith(b"\n"):
                out.write(b"\n")
    tmp.replace(dest)
    lines = dest.read_bytes().count(b"\n")
    return dest, len(files), lines


def fedora_root() -> Path | None:
    """Fedora's targeted root, built (once, cached) by ../shared/fedora-policy/build.sh; None without it."""
    if not FEDORA_BUILD.is_file():
        return None
    cp = subprocess.run(["bash", str(FEDORA_BUILD)], capture_output=True, text=True, check=False, timeout=1800)
    if cp.returncode != 0:
        raise HarnessError(f"{FEDORA_BUILD} failed: {(cp.stdout + cp.stderr)[-1500:]}")
    return Path(os.environ.get("FEDPOL_ROOT") or Path.home() / ".cache" / "fedora-policy" / "root")


# -- running --------------------------------------------------------------------


def run_row(row: Row, tmp: Path, gnu_time: bool, first: bool) -> None:
    if row.error:
        return
    env = dict(row.env)
    cold_dir = None
    if row.cold:
        cold_dir = Path(tempfile.mkdtemp(prefix="cold-", dir=tmp))
        env["AVCFIX_CACHE_DIR"] = str(cold_dir)
    out = tmp / "out"
    with environ(env):
        one = bench.run_once(row.argv, out, gnu_time)
    if cold_dir is not None:
        shutil.rmtree(cold_dir, ignore_errors=True)
    print(f"  {row.part:<6} {row.policy:<7} {row.label:<34} {one.wall:7.2f} s wall {one.cpu:7.2f} s CPU "
          f"{one.rss_kb / 1024:6.1f} MB  exit {one.code}", flush=True)
    if one.code not in (0,):
        lines = one.stderr.splitlines()
        row.error = f"exit {one.code}: {lines[-1] if lines else 'no stderr'}"
        return
    row.walls.append(one.wall)
    row.cpus.append(one.cpu)
    row.rss_kb.append(one.rss_kb)
    if first:
        row.out = out.read_text(errors="replace")


def json_rules(text: str) -> tuple[dict | None, str]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    return doc, ""


def compare_rules(a: Row, b: Row) -> str:
    """How many of ``a``'s rules (reason, detail, advice...) equal ``b``'s."""
    da, _ = json_rules(a.out)
    db, _ = json_rules(b.out)
    if not da or not db:
        return "-"
    ka = [json.dumps(r, sort_keys=True) for r in da.get("rules", [])]
    kb = [json.dumps(r, sort_keys=True) for r in db.get("rules", [])]
    same = sum(1 for x, y in zip(ka, kb, strict=False) if x == y)
    ra = [r.get("reason") for r in da.get("rules", [])]
    rb = [r.get("reason") for r in db.get("rules", [])]
    same_reason = sum(1 for x, y in zip(ra, rb, strict=False) if x == y)
    return (f"{same}/{len(ka)} rules identical to the setools path ({same_reason} same reason)"
            + ("" if len(ka) == len(kb) else f"; {len(kb)} rules there"))


def check_json(row: Row) -> str:
    doc, err = json_rules(row.out)
    if doc is None:
        return "FAIL: " + err
    s = doc.get("stats", {})
    return f"ok: {s.get('denials')} denials, {len(doc.get('rules', []))} groups"


# -- the loop child -------------------------------------------------------------


def loop_child(out: Path, args: list[str]) -> int:
    """Run ``avcfix ARGS`` here, recording every proc.run and each iteration's span, into ``out``."""
    sys.path.insert(0, os.environ.get("AVCFIX_BENCH_TREE") or str(PROJECT))
    from avcfix import proc
    from avcfix.loop import engine

    calls: list[list] = []
    spans: list[list] = []
    opens = [0]
    original_run = proc.run

    def timed_run(argv, *a, **k):
        t = time.monotonic()
        try:
            return original_run(argv, *a, **k)
        finally:
            calls.append([t, time.monotonic(), os.path.basename(str(argv[0])), [str(x) for x in argv[1:3]]])

    proc.run = timed_run
    original_finish = engine.Loop._finish

    def finish(self, base, t0, **more):
        original_finish(self, base, t0, **more)
        spans.append([self.iterations[-1].number, t0, time.monotonic(), opens[0]])

    engine.Loop._finish = finish
    builds: list[list[float]] = []
    try:
        from avcfix.index import build as index_build

        original_build = index_build.build

        def timed_build(*a, **k):  # one index built (cache.py calls builder.build)
            t = time.monotonic()
            try:
                return original_build(*a, **k)
            finally:
                builds.append([t, time.monotonic()])

        index_build.build = timed_build
    except ImportError:
        pass
    try:
        import setools

        original_policy = setools.SELinuxPolicy  # a compiled type: its __init__ cannot be wrapped

        def counted_policy(*a, **k):
            opens[0] += 1
            return original_policy(*a, **k)

        setools.SELinuxPolicy = counted_policy  # avcfix calls setools.SELinuxPolicy(...) at run time
    except ImportError:
        pass
    from avcfix.cli import main

    code = main(args)
    out.write_text(json.dumps({"code": code, "calls": calls, "spans": spans, "opens": opens[0], "builds": builds}))
    return 0


def split_iterations(data: dict) -> list[dict]:
    """Per iteration: total, semodule, other commands, in-process time, setools opens."""
    rows = []
    prev_opens = 0
    for number, t0, t1, opens in data["spans"]:
        inside = [c for c in data["calls"] if c[0] >= t0 and c[1] <= t1]
        semo = sum(c[1] - c[0] for c in inside if c[2] == "semodule")
        built = [b for b in data.get("builds", []) if b[0] >= t0 and b[1] <= t1]
        names: dict[str, int] = {}
        for c in inside:
            names[c[2]] = names.get(c[2], 0) + 1
        other = sum(c[1] - c[0] for c in inside if c[2] != "semodule")
        rows.append({"iteration": number, "total": t1 - t0, "semodule": semo, "commands": other,
                     "python": t1 - t0 - semo - other, "outside_semodule": t1 - t0 - semo,
                     "semodule_calls": sum(1 for c in inside if c[2] == "semodule"),
                     "setools_opens": opens - prev_opens, "index_builds": len(built),
                     "index_build_s": sum(b[1] - b[0] for b in built), "commands_run": names})
        prev_opens = opens
    return rows


def run_loop(scenario: str, facts: str, tmp: Path, baseline: tuple[str, str] | None = None) -> dict:
    """One whole lab loop in a child; its iterations split. ``facts`` "today":
    ``baseline`` = (python, source tree) of the code before the index."""
    lab = Path(tempfile.mkdtemp(prefix="lab-", dir=tmp))
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))
    rec = tmp / "loop.json"
    env = {"AVCFIX_CACHE_DIR": str(cache)}
    python = sys.executable
    if facts == "setools":
        env["AVCFIX_FACTS"] = "setools"
    if facts == "today" and baseline is not None:
        python, env["AVCFIX_BENCH_TREE"] = baseline
    argv = [python, str(Path(__file__).resolve()), "--loop-child", str(rec), "--",
            "loop", "--lab", scenario, "--lab-dir", str(lab / "d"), "--yes", "--json"]
    start = time.monotonic()
    with environ(env):
        cp = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    shutil.rmtree(lab, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    if cp.returncode != 0 or not rec.exists():
        raise HarnessError(f"the lab loop failed: {cp.stderr[-1500:]}")
    data = json.loads(rec.read_text())
    try:
        report = json.loads(cp.stdout)
    except ValueError:
        report = {}
    its = split_iterations(data)
    return {"facts": facts, "wall": wall, "exit": data["code"], "outcome": report.get("outcome"),
            "iterations": its, "setools_opens": data["opens"]}


# -- profile --------------------------------------------------------------------


def profile(argv: list[str], env: dict[str, str], top: int) -> str:
    """cProfile of ``avcfix ARGV`` in a child; the top functions by cumulative and by own time."""
    with tempfile.TemporaryDirectory(prefix="avcfix-prof-") as d:
        stats = Path(d) / "prof"
        code = (
            "import sys, cProfile; sys.argv = ['avcfix'] + sys.argv[1:]\n"
            "from avcfix.cli import main\n"
            "import avcfix.cli as c; c.hard_exit = lambda code: None\n"
            f"cProfile.run('main(sys.argv[1:])', {str(stats)!r})\n"
        )
        with environ(env), open(os.devnull, "wb") as null:
            subprocess.run([sys.executable, "-c", code, *argv], stdout=null, stderr=subprocess.PIPE, check=False)
        if not stats.exists():
            return "(no profile written)"
        import pstats

        st = pstats.Stats(str(stats)).stats  # (file, line, func) -> (cc, nc, tt, ct, callers)
        total = max(ct for _, _, _, ct, _ in st.values())

        def name(key: tuple) -> str:
            path, line, func = key
            for marker in ("/avcfix/", "/site-packages/", "/dist-packages/", "/lib/python3"):
                if marker in path:
                    path = path.split(marker, 1)[1]
                    break
            return f"{path}:{line}({func})" if line else func

        mine = [(v[3], v[2], v[1], k) for k, v in st.items()
                if ("/avcfix/" in k[0] and "/cli/__init__" not in k[0]) or "setools" in k[0]
                or "sqlite3" in k[0] or k[0].endswith(("json/__init__.py", "json/encoder.py"))]
        lines = [f"total {total:.3f} s (under cProfile, which slows Python calls); "
                 f"by cumulative time (avcfix, setools, sqlite3, json):",
                 f"{'cum s':>7} {'own s':>7} {'calls':>8}  function"]
        lines += [f"{c:7.3f} {t:7.3f} {n:8d}  {name(k)}" for c, t, n, k in sorted(mine, key=lambda x: -x[0])[:top]]
        lines.append("by own time (everything):")
        own = sorted(((v[2], v[3], v[1], k) for k, v in st.items()), key=lambda x: -x[0])[:top]
        lines += [f"{c:7.3f} {t:7.3f} {n:8d}  {name(k)}" for t, c, n, k in own]
        return "\n".join(lines)


# -- the run ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--loop-child"]:
        return loop_child(Path(argv[1]), argv[3:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs of each command; the median is shown (default 3)")
    ap.add_argument("--quick", action="store_true", help="1 repeat, Debian only, no loop")
    ap.add_argument("--only", nargs="+", choices=("corpus", "one", "loop"), default=["corpus", "one", "loop"])
    ap.add_argument("--policies", nargs="+", choices=("debian", "fedora"), default=["debian", "fedora"])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--one", type=Path, default=ONE_DENIAL, help="the one-denial log")
    ap.add_argument("--lab", default="eucanetd", help="the lab scenario (avcfix/lab/scenarios)")
    ap.add_argument("--baseline", metavar="TREE",
                    help="also run the lab loop with the avcfix source tree TREE (its .venv), the code before "
                         "the index (for example a worktree of the commit before issue 14): the loop target "
                         "is then measured against it")
    ap.add_argument("--loop-runs", type=int, default=1, help="whole lab loops per facts path (default 1)")
    ap.add_argument("--profile", action="store_true", help="also cProfile the warm corpus and one-denial runs")
    ap.add_argument("--top", type=int, default=25, help="functions shown per profile")
    ap.add_argument("--json", type=Path, help="write every figure here")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.policies = 1, ["debian"]
        args.only = [p for p in args.only if p != "loop"]
    try:
        return run(args)
    except HarnessError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace) -> int:
    gnu_time = bench.GNU_TIME.exists()
    avcfix = bench.avcfix_argv()
    if "corpus" in args.only and shutil.which("audit2why") is None:
        raise HarnessError("audit2why is not installed (policycoreutils-python-utils)")
    policies: dict[str, tuple[list[str], Path]] = {}  # name -> (avcfix flags, binary policy)
    if "debian" in args.policies:
        if not DEBIAN_POLICY.exists():
            raise HarnessError(f"no {DEBIAN_POLICY} (selinux-policy-default)")
        policies["debian"] = (["--policy", str(DEBIAN_POLICY)], DEBIAN_POLICY)
    if "fedora" in args.policies:
        root = fedora_root()
        if root is None:
            print(f"(no {FEDORA_BUILD}: Fedora skipped)")
        else:
            policies["fedora"] = (["--root", str(root)], root / "etc/selinux/targeted/policy/policy.33")
    bench.compile_bytecode()
    load_before = os.getloadavg()[0]
    result: dict = {"machine": None, "repeats": args.repeats, "rows": [], "loop": [], "targets": [], "profiles": {}}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="avcfix-bench-index-") as tmp_s:
        tmp = Path(tmp_s)
        warm_cache = tmp / "warm-cache"
        warm_cache.mkdir()
        warm_env = {"AVCFIX_CACHE_DIR": str(warm_cache)}
        old_env = {"AVCFIX_FACTS": "setools"}
        log = None
        if "corpus" in args.only:
            log, nfiles, nlines = build_corpus(args.corpus, DATA / "corpus.log")
            bench.warm(log)
            print(f"corpus: {nfiles} files, {nlines} lines -> {log}")
            for name, (flags, pol) in policies.items():
                why = [*avcfix, "why", "--json", *flags, str(log)]
                rows += [
                    Row("corpus", name, "audit2why -p P -i LOG", ["audit2why", "-p", str(pol), "-i", str(log)]),
                    Row("corpus", name, "avcfix why --json (cold cache)", why, cold=True),
                    Row("corpus", name, "avcfix why --json (warm cache)", why, env=warm_env),
                    Row("corpus", name, "avcfix why --json (AVCFIX_FACTS=setools)", why, env=old_env),
                ]
        if "one" in args.only:
            if not args.one.is_file():
                raise HarnessError(f"no one-denial log {args.one}")
            for name, (flags, _) in policies.items():
                rows += [
                    Row("one", name, "avcfix why (report, warm)", [*avcfix, "why", *flags, str(args.one)], env=warm_env),
                    Row("one", name, "avcfix why --json (warm)", [*avcfix, "why", "--json", *flags, str(args.one)],
                        env=warm_env),
                    Row("one", name, "avcfix why (report, setools)", [*avcfix, "why", *flags, str(args.one)],
                        env=old_env),
                ]
        # warm the index cache once per policy (not measured)
        for name, (flags, _) in policies.items():
            with environ(warm_env):
                cp = subprocess.run([*avcfix, "why", "--json", *flags, str(args.one)], capture_output=True, check=False)
            if cp.returncode != 0:
                print(f"warning: warming the index of {name} failed: {cp.stderr.decode(errors='replace')[-300:]}")
        if rows:
            print(f"repeats: {args.repeats} (round-robin; tables = median), peak RSS via "
                  f"{'GNU time %M' if gnu_time else 'os.wait4 (includes the harness RSS)'}", flush=True)
        for r in range(args.repeats):
            for row in rows:
                run_row(row, tmp, gnu_time, first=(r == 0))
        for row in rows:
            if row.part == "corpus" and row.label.startswith("avcfix"):
                row.check = check_json(row)
        by = {(r.part, r.policy, r.label): r for r in rows}
        for name in policies:
            warm_row = by.get(("corpus", name, "avcfix why --json (warm cache)"))
            old_row = by.get(("corpus", name, "avcfix why --json (AVCFIX_FACTS=setools)"))
            if warm_row and old_row and warm_row.out and old_row.out:
                warm_row.check += "; " + compare_rules(warm_row, old_row)
            one_json = by.get(("one", name, "avcfix why --json (warm)"))
            if one_json and one_json.out:
                one_json.check = check_json(one_json)

        loops: list[dict] = []
        baseline = None
        if args.baseline:
            tree = Path(args.baseline).resolve()
            baseline = (str(tree / ".venv" / "bin" / "python"), str(tree))
        if "loop" in args.only:
            print(f"lab loop: avcfix loop --lab {args.lab} --yes --json, {args.loop_runs} run(s) per path", flush=True)
            for _ in range(args.loop_runs):
                for facts in ("index", "setools") + (("today",) if args.baseline else ()):
                    try:
                        res = run_loop(args.lab, facts, tmp, baseline)
                    except HarnessError as exc:  # reported, the other figures still printed
                        print(f"  {facts:<8} error: {exc}", flush=True)
                        result["loop_errors"] = result.get("loop_errors", []) + [f"{facts}: {exc}"]
                        continue
                    print(f"  {facts:<8} {res['outcome']}: {len(res['iterations'])} iterations, {res['wall']:.1f} s "
                          f"in all, {res['setools_opens']} setools policy opens", flush=True)
                    loops.append(res)

        profiles = {}
        if args.profile:
            if log is not None and "debian" in policies:
                profiles["corpus (Debian, warm)"] = profile(
                    ["why", "--json", *policies["debian"][0], str(log)], warm_env, args.top)
            for name in policies:
                profiles[f"one denial ({name}, warm)"] = profile(
                    ["why", *policies[name][0], str(args.one)], warm_env, args.top)

    info = bench.machine()
    result.update(machine=info, rows=[r.summary() for r in rows], loop=loops, profiles=profiles,
                  loadavg_before=round(load_before, 2))
    result["targets"] = report(rows, loops, policies, info, load_before)
    for title, text in profiles.items():
        print(f"\n### cProfile: {title}\n{text}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"\nresults written to {args.json}")
    broken = [r for r in rows if r.error and not r.label.startswith("avcfix")]
    if broken:
        raise HarnessError("; ".join(f"{r.label} ({r.policy}) failed: {r.error}" for r in broken))
    return 0


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def report(rows: list[Row], loops: list[dict], policies: dict, info: dict, load_before: float) -> list[dict]:
    print(f"\nmachine: {info['cpu']} ({info['cpus']} CPUs, {info['mem_gb']} GB), {info['os']}, "
          f"kernel {info['kernel']}, Python {info['python']}; avcfix: {info['accelerator']}")
    busy = max(load_before, info["loadavg_1min"]) > 1.0
    print(f"load average: {load_before:.2f} before, {info['loadavg_1min']:.2f} after"
          + (" (busy: wall times are inflated, compare CPU times)" if busy else ""))
    if rows:
        print("\n| part | policy | command | wall (median) | CPU | peak RSS | check |")
        print("|---|---|---|---:|---:|---:|---|")
        for r in rows:
            if r.walls:
                print(f"| {r.part} | {r.policy} | {r.label} | {r.wall:.2f} s | {r.cpu:.2f} s | {r.rss_mb:.1f} MB "
                      f"| {r.check} |")
            else:
                print(f"| {r.part} | {r.policy} | {r.label} | - | - | - | error: {r.error} |")
    by = {(r.part, r.policy, r.label): r for r in rows if r.walls}
    targets: list[dict] = []

    def target(name: str, value: float | None, unit: str, goal: str, ok: bool | None, note: str = "") -> None:
        targets.append({"target": name, "value": value, "unit": unit, "goal": goal, "pass": ok, "note": note})

    for name in policies:
        a2w = by.get(("corpus", name, "audit2why -p P -i LOG"))
        cold = by.get(("corpus", name, "avcfix why --json (cold cache)"))
        hot = by.get(("corpus", name, "avcfix why --json (warm cache)"))
        old = by.get(("corpus", name, "avcfix why --json (AVCFIX_FACTS=setools)"))
        if a2w and hot:
            target(f"corpus {name}: audit2why / avcfix warm", a2w.wall / hot.wall, "x", f">= {SPEEDUP_WARM:g}x",
                   a2w.wall / hot.wall >= SPEEDUP_WARM, f"CPU {a2w.cpu / hot.cpu:.2f}x")
        if a2w and cold:
            target(f"corpus {name}: avcfix cold / audit2why", cold.wall / a2w.wall, "x", "<= 1x",
                   cold.wall <= a2w.wall, f"CPU {cold.cpu / a2w.cpu:.2f}x")
        if old and hot:
            target(f"corpus {name}: setools path / avcfix warm", old.wall / hot.wall, "x", "(information)", None)
        for r in (cold, hot):
            if r:
                target(f"corpus {name}: peak RSS, {r.label.split('(')[1].rstrip(')')}", r.rss_mb, "MB",
                       f"<= {MAX_RSS_MB:g} MB", r.rss_mb <= MAX_RSS_MB)
        for label in ("avcfix why (report, warm)", "avcfix why --json (warm)"):
            one = by.get(("one", name, label))
            if one:
                target(f"one denial {name} ({policies[name][0][0]}): {label.split(' (')[0].replace('avcfix ', '').replace(' --json', '')}"
                       f"{' --json' if 'json' in label else ' (report)'}", one.wall, "s", f"<= {MAX_ONE_DENIAL_S:g} s",
                       one.wall <= MAX_ONE_DENIAL_S, f"CPU {one.cpu:.2f} s")
        old_one = by.get(("one", name, "avcfix why (report, setools)"))
        one = by.get(("one", name, "avcfix why (report, warm)"))
        if old_one and one:
            target(f"one denial {name}: setools path / index", old_one.wall / one.wall, "x", "(information)", None,
                   f"{old_one.wall:.2f} s -> {one.wall:.2f} s")

    if loops:
        print("\n| lab loop | iteration | total | semodule | other commands | in Python | outside semodule "
              "| index builds | setools opens | commands run |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for res in loops:
            for it in res["iterations"]:
                print(f"| {res['facts']} | {it['iteration']} | {it['total']:.2f} s | {it['semodule']:.2f} s "
                      f"({it['semodule_calls']}) | {it['commands']:.2f} s | {it['python']:.2f} s "
                      f"| {it['outside_semodule']:.2f} s | {it['index_builds']} ({it['index_build_s']:.2f} s) "
                      f"| {it['setools_opens']} | {', '.join(f'{k} {v}' for k, v in sorted(it['commands_run'].items()))} |")
        med = {}
        for facts in sorted({res["facts"] for res in loops}, key=("index", "setools", "today").index):
            its = [it for res in loops if res["facts"] == facts for it in res["iterations"]]
            # iterations that installed a module (semodule ran): the loop's usual iteration
            working = [it for it in its if it["semodule_calls"]] or its
            med[facts] = {k: median([it[k] for it in working]) for k in
                          ("total", "semodule", "commands", "python", "outside_semodule", "index_build_s",
                           "setools_opens")}
            print(f"median of {len(working)} {facts} iterations that installed: " +
                  ", ".join(f"{k} {v:.2f}" + (" s" if k != "setools_opens" else "") for k, v in med[facts].items()))
        for old in ("today", "setools"):
            if old in med and med.get("index", {}).get("outside_semodule", 0) > 0:
                ratio = med[old]["outside_semodule"] / med["index"]["outside_semodule"]
                goal = old == "today" or "today" not in med
                target(f"lab iteration outside semodule: {old} / index", ratio, "x",
                       f">= {LOOP_FACTOR:g}x" if goal else "(information)", (ratio >= LOOP_FACTOR) if goal else None,
                       f"{med[old]['outside_semodule']:.2f} s -> "
                       f"{med['index']['outside_semodule']:.2f} s (median of the iterations that installed)")

    print("\n| target (issue 14) | measured | goal | result | note |\n|---|---:|---|---|---|")
    for t in targets:
        v = "-" if t["value"] is None else (f"{t['value']:.2f}x" if t["unit"] == "x" else
                                            f"{t['value']:.1f} MB" if t["unit"] == "MB" else f"{t['value']:.2f} s")
        verdict = "" if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")
        print(f"| {t['target']} | {v} | {t['goal']} | {verdict} | {t['note']} |")
    return targets


if __name__ == "__main__":
    raise SystemExit(main())
