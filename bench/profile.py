#!/usr/bin/env python3
"""Profile ``avcfix why --json`` on a generated log with py-spy; print the hot spots.

    .venv/bin/pip install py-spy          # once (a dev tool, not a dependency)
    .venv/bin/python bench/profile.py [--lines 1000000] [--rate 200] [--top 25]

Uses the cached log of bench/run.py (``bench/data/``), samples the whole run
(startup included) with ``py-spy record --format raw`` and prints three
tables: inclusive time per function, self time per function, and self time
per source line. Percentages are of all samples.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as bench_run  # noqa: E402

_FRAME = re.compile(r"(.*) \((.*?):(\d+)\)$")


def _short(path: str) -> str:
    for marker in ("/site-packages/", str(bench_run.PROJECT) + "/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail if marker != "/lib/python3." else "stdlib:" + tail.split("/", 1)[-1]
    return path


def aggregate(raw: str) -> tuple[int, Counter, Counter, Counter]:
    """(total samples, inclusive per function, self per function, self per line) from py-spy raw output."""
    total = 0
    inclusive: Counter = Counter()
    own: Counter = Counter()
    lines: Counter = Counter()
    for row in raw.splitlines():
        stack, _, count = row.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        seen = set()
        frames = stack.split(";")
        for frame in frames:
            m = _FRAME.match(frame)
            key = f"{m.group(1)} ({_short(m.group(2))})" if m else frame
            if key not in seen:
                inclusive[key] += n
                seen.add(key)
        m = _FRAME.match(frames[-1])
        if m:
            own[f"{m.group(1)} ({_short(m.group(2))})"] += n
            lines[f"{_short(m.group(2))}:{m.group(3)} {m.group(1)}"] += n
        else:
            own[frames[-1]] += n
    return total, inclusive, own, lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=int, default=200, help="samples per second")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    log, _ = bench_run.ensure_log(args.lines, args.seed, bench_run.DATA)
    avcfix = bench_run.avcfix_argv()
    if avcfix[0].endswith("avcfix"):
        avcfix = [sys.executable, avcfix[0]]
    with tempfile.TemporaryDirectory(prefix="avcfix-profile-") as tmp:
        raw = Path(tmp) / "raw.txt"
        cp = subprocess.run(
            [spy, "record", "--subprocesses", "-r", str(args.rate), "-f", "raw", "-o", str(raw),
             "--", *avcfix, "why", "--json", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        if cp.returncode != 0 or not raw.exists():
            print(f"py-spy failed (exit {cp.returncode}): {cp.stderr.strip()[-800:]}", file=sys.stderr)
            return 2
        total, inclusive, own, lines = aggregate(raw.read_text())
    print(f"{total} samples at {args.rate}/s on {log.name}\n")
    for title, table in (("inclusive, per function", inclusive), ("self, per function", own), ("self, per line", lines)):
        print(f"-- {title}")
        for key, n in table.most_common(args.top):
            print(f"{100 * n / total:5.1f}%  {key}")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
