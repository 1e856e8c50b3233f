"""Syscall names from libaudit (python3-audit) against the installed ausyscall's
tables (the pure tests: tests/unit/test_syscalls.py).

The expected numbers were checked with ``ausyscall ARCH NAME`` (auditd
3.0.9, the tables ausearch uses) and agree with the kernel's syscall tables
(arch/*/entry/syscalls, include/uapi/asm-generic/unistd.h);
``test_names_match_ausyscall`` asks the installed ausyscall again.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from syscall_arches import ARCHES, needs_libaudit

from avcfix.audit.syscalls import syscall_name

# ------------------------------------------------------------------ against ausyscall

AUSYSCALL = shutil.which("ausyscall")


def _dump(arch: str) -> dict[int, str]:
    out = subprocess.run([AUSYSCALL, arch, "--dump"], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        nr, sep, name = line.partition("\t")
        if sep and nr.isdigit():
            table[int(nr)] = name
    return table


@needs_libaudit
@pytest.mark.skipif(AUSYSCALL is None, reason="ausyscall (auditd) not installed")
@pytest.mark.parametrize(("raw", "arch"), [(a[0], a[1]) for a in ARCHES])
def test_names_match_ausyscall(raw, arch):
    """Every name of the installed ausyscall's table, by raw arch value."""
    table = _dump(arch)
    assert len(table) > 250
    mismatches = {nr: (name, syscall_name(raw, nr)) for nr, name in table.items() if syscall_name(raw, nr) != name}
    assert not mismatches
