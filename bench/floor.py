#!/usr/bin/env python3
"""The floor: how fast can pure Python pull the denial events out of a raw log?

    .venv/bin/python bench/floor.py [bench/data/1M-seed1.log]

A measurement, not part of avcfix: it reads the log in 1 MiB blocks, finds
``type=AVC`` records with ``bytes.find`` (never touching other lines from
Python) and collects each denial event's records, which follow the AVC in
the kernel's order. It builds no Denial, decodes nothing, handles only raw
one-record-per-line logs, and prints the CPU time of each stage, so the
targets of bench/run.py can be judged against what is reachable at all.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
NEEDLE = b"\ntype=AVC msg=audit("
BLOCK = 1 << 20


def blocks(path: Path):
    """Blocks of whole lines, each starting with the newline that ends the previous one."""
    carry = b"\n"
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(BLOCK)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut <= 0:
                carry = data
                continue
            yield data[: cut + 1]
            carry = data[cut:]
    if len(carry) > 1:
        yield carry + b"\n"


def read_only(path: Path) -> int:
    return sum(b.count(b"\n") - 1 for b in blocks(path))


def denial_events(path: Path) -> tuple[int, int]:
    """(events, records) of the denial events, found with bytes.find only."""
    events = records = 0
    for text in blocks(path):
        last = b""
        pos = text.find(NEEDLE)
        while pos >= 0:
            start = pos + 1
            stamp = text[start + 14 : text.find(b")", start + 19) + 1]  # b"audit(SECS.MS:SERIAL)"
            if stamp == last:
                pos = text.find(NEEDLE, pos + 1)
                continue
            last = stamp
            p = start
            n = 0
            while True:
                end = text.find(b"\n", p)
                if end < 0:
                    break
                n += 1
                nxt = end + 1
                if text.find(stamp, nxt, nxt + 96) < 0:
                    break
                p = nxt
            events += 1
            records += n
            pos = text.find(NEEDLE, p)
    return events, records


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else BENCH / "data" / "1M-seed1.log"
    if not path.is_file():
        print(f"{path}: no such log (run bench/run.py or bench/gen.py first)", file=sys.stderr)
        return 2
    t0 = time.process_time()
    lines = read_only(path)
    t1 = time.process_time()
    events, records = denial_events(path)
    t2 = time.process_time()
    print(f"{path.name}: {lines} lines")
    print(f"  read in 1 MiB blocks, count lines:        {t1 - t0:6.3f} s CPU")
    print(f"  read + find denial events and records:   {t2 - t1:6.3f} s CPU ({events} events, {records} records;"
          " an event whose AVCs straddle two blocks counts twice)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
