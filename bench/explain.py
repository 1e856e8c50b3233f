#!/usr/bin/env python3
"""Benchmark: avcfix's explanation engine against ``audit2allow -w`` (audit2why).

    .venv/bin/python bench/explain.py [LOG ...] [--policy FILE]

For each log (default: the corpus logs with the most denials), it times

- avcfix: scan + group + ``explain_groups`` against the policy (one process,
  policy opened once; lookups counted by PolicyFacts);
- ``audit2allow -w -p POLICY -i LOG`` (sepolgen's audit2why), as a child.

and prints groups, findings, lookups, seconds, and the split of reasons.
audit2why answers per denial and tries one boolean at a time; avcfix answers
per distinct access and per permission, and adds advice, so the comparison is
about cost, not equal output. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avcfix import proc  # noqa: E402
from avcfix.audit.api import scan  # noqa: E402
from avcfix.audit.group import group_denials  # noqa: E402
from avcfix.explain.engine import explain_groups  # noqa: E402
from avcfix.facts import open_facts  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_LOGS = ["selinux_sepolgen_test_data_httpd.log", "selinux_sepolgen_test_data_audit.log",
                "avcparser_tpm-enforcing.log"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="*", type=Path)
    ap.add_argument("--policy", type=Path, default=Path("/etc/selinux/default/policy/policy.33"))
    args = ap.parse_args()
    logs = args.logs or [CORPUS / n for n in DEFAULT_LOGS if (CORPUS / n).is_file()]
    if not logs:
        print("no logs given and the corpus is absent", file=sys.stderr)
        return 2
    print(f"policy {args.policy}")
    print(f"{'log':44} {'groups':>6} {'finds':>6} {'lookups':>7} {'avcfix s':>9} {'audit2why s':>11}")
    for log in logs:
        start = time.monotonic()
        facts = open_facts(args.policy, None)
        groups = group_denials(scan([str(log)]))
        findings = explain_groups(groups, facts)
        ours = time.monotonic() - start
        res = proc.run(["audit2allow", "-w", "-p", str(args.policy), "-i", str(log)], timeout=900)
        theirs = f"{res.seconds:11.2f}" if res.ok else f"{'exit ' + str(res.returncode):>11}"
        lookups = facts.lookups if facts is not None else 0
        print(f"{log.name[:44]:44} {len(groups):6d} {len(findings):6d} {lookups:7d} {ours:9.2f} {theirs}")
        reasons = collections.Counter(f.reason.value for f in findings)
        print("    " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
