"""Helpers for the policy-layer tests: compile with the real toolchain, convert
a .pp to CIL with libsepol's converter (the pure ones: tests/policy_data.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from avcfix import proc

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


