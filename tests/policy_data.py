"""The pure helpers of the policy-layer tests, for both tiers: the data paths,
golden files, the .te data parsed, denial groups and findings built by hand, the
statement lines of a .te or CIL text (no tool; the ones that compile or convert
are in tests/integration/policy_helpers.py)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from avcfix.audit.model import Context, Denial, DenialGroup
from avcfix.explain.model import Finding, Reason
from avcfix.policy.te_parse import parse_te

PROJECT = Path(__file__).resolve().parents[1]
GOLDEN = PROJECT / "tests" / "golden"
TE_DATA = PROJECT / "tests" / "data" / "te"


def cil_rule_lines(text: str) -> set[str]:
    """The statements of a CIL text, without comments and requires, whitespace normalised."""
    out = set()
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if not line or "cil_gen_require" in line:
            continue
        out.add(re.sub(r"\s+", " ", line))
    return out


def te_statement_lines(text: str) -> list[str]:
    """Non-comment, non-blank lines of a .te text."""
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def no_policy_findings(groups: list[DenialGroup]) -> list[Finding]:
    """What the explain engine gives without a policy: every group needs a module."""
    return [Finding(g, g.perms, Reason.NO_POLICY) for g in groups]


def groups_from_log(path: Path) -> list[DenialGroup]:
    """Real log lines -> the audit layer's scan -> groups."""
    from avcfix.audit.api import ScanStats, scan
    from avcfix.audit.group import group_denials

    return group_denials(scan([str(path)], stats=ScanStats()))


def check_golden(path: Path, text: str) -> None:
    """Compare ``text`` to a golden file (``AVCFIX_UPDATE_GOLDEN=1`` rewrites it)."""
    import os

    if os.environ.get("AVCFIX_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"missing golden file {path} (run with AVCFIX_UPDATE_GOLDEN=1)"
    assert text == path.read_text(), f"output differs from {path}"


def group(source: str, target: str, tclass: str, perms, *, permissive: bool = False, count: int = 1,
          comm: str = "eucanetd", exe: str = "/usr/sbin/eucanetd", paths=(), ioctlcmds=(), t0: float = 1.0):
    perms = tuple(sorted(perms))
    d = Denial("AVC", None, t0, 1, Context("system_u", "system_r", source, "s0"),
               Context("system_u", "object_r", target, "s0"), tclass, perms, permissive,
               comm=comm, exe=exe, paths=tuple(paths), source="audit.log", line=7)
    return DenialGroup(source, target, tclass, permissive, perms, count, t0, t0 + 1, d,
                       comms=(comm,), exes=(exe,), paths=tuple(paths), ioctlcmds=tuple(ioctlcmds))


def finding(g: DenialGroup, perms=None, reason=Reason.TE_RULE, advice=()) -> Finding:
    return Finding(g, tuple(perms if perms is not None else g.perms), reason, tuple(advice))


def load(name: str):
    path = TE_DATA / name
    return parse_te(path.read_text(), str(path))


def perms_by_key(modules) -> dict[tuple, set[str]]:
    out: dict[tuple, set[str]] = defaultdict(set)
    for m in modules:
        for r in m.av_rules:
            out[(r.kind, r.sources.single, r.targets.single, r.classes.single)].update(r.perms.names)
    return dict(out)
