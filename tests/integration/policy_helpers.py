"""Helpers for the policy-layer tests: compile with the real toolchain, convert
a .pp to CIL with libsepol's converter, build findings from real log lines."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from avcfix import proc
from avcfix.audit.model import Context, Denial, DenialGroup
from avcfix.explain.model import Finding, Reason

PROJECT = Path(__file__).resolve().parents[2]
GOLDEN = PROJECT / "tests" / "golden"
TE_DATA = PROJECT / "tests" / "data" / "te"
PP_TO_CIL = Path("/usr/libexec/selinux/hll/pp")
DEVEL_MAKEFILE = Path("/usr/share/selinux/devel/Makefile")


def need_tools(*names: str) -> None:
    for name in names:
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed")


def compile_te(text: str, name: str, workdir: Path, mls: bool = True) -> Path:
    """checkmodule [-M] -m + semodule_package on ``text``; returns the .pp (asserts success)."""
    need_tools("checkmodule", "semodule_package")
    workdir.mkdir(parents=True, exist_ok=True)
    te = workdir / f"{name}.te"
    te.write_text(text)
    mod, pp = workdir / f"{name}.mod", workdir / f"{name}.pp"
    argv = ["checkmodule"] + (["-M"] if mls else []) + ["-m", "-o", str(mod), str(te)]
    res = proc.run(argv, timeout=120)
    assert res.ok, f"checkmodule rejected {te}:\n{res.stderr}\n{text}"
    res = proc.run(["semodule_package", "-o", str(pp), "-m", str(mod)], timeout=120)
    assert res.ok, res.stderr
    return pp


def compile_refpolicy(text: str, name: str, workdir: Path) -> Path:
    """Build a refpolicy-style module (interface calls) with the devel Makefile."""
    if not DEVEL_MAKEFILE.is_file():
        pytest.skip("selinux-policy-dev's Makefile is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.te").write_text(text)
    res = proc.run(["make", "-f", str(DEVEL_MAKEFILE), f"{name}.pp"], cwd=workdir, timeout=300)
    assert res.ok, res.stdout + res.stderr
    return workdir / f"{name}.pp"


def install_modules(root, *pps: Path) -> None:
    """``semodule -p ROOT -i PP...`` (one transaction) into a private store (a
    :class:`avcfix.toolchain.store.PolicyRoot`, never the host's)."""
    argv = root.semodule_argv(*(a for pp in pps for a in ("-i", str(pp))))
    res = proc.run(argv, timeout=900)
    assert res.ok, (argv, res.stderr)


def pp_to_cil(pp: Path) -> str:
    """libsepol's own translation of a compiled module to CIL."""
    if not PP_TO_CIL.exists():
        pytest.skip("the pp-to-CIL converter is not installed")
    out = pp.with_suffix(".conv.cil")
    res = proc.run([str(PP_TO_CIL), str(pp), str(out)], timeout=120)
    assert res.ok, res.stderr
    return out.read_text()


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
