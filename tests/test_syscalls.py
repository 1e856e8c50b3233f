"""Syscall tables: lookups by raw and interpreted arch, cross-checked with ausyscall."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from avcfix.audit.syscalls import arch_name, known_arches, syscall_name, syscall_number


@pytest.mark.parametrize(
    ("arch", "nr", "name"),
    [
        ("c000003e", 257, "openat"),
        ("C000003E", 49, "bind"),
        ("0xc000003e", 0, "read"),
        (0xC000003E, 2, "open"),
        ("x86_64", 59, "execve"),
        ("c00000b7", 56, "openat"),
        ("aarch64", 200, "bind"),
        ("40000003", 5, "open"),
        ("i386", 295, "openat"),
        ("40000028", 322, "openat"),
        ("armeb", 322, "openat"),
    ],
)
def test_known_numbers(arch, nr, name):
    assert syscall_name(arch, nr) == name


def test_aarch64_has_no_legacy_open():
    # aarch64 only has openat; 2 is io_submit there, not open as on x86_64.
    assert syscall_name("c00000b7", 2) == "io_submit"
    assert syscall_number("aarch64", "open") is None
    assert syscall_number("x86_64", "open") == 2


@pytest.mark.parametrize("arch", ["", "ffffffff", "c0000015", "sparc", "zz", "c000003e00", "-1", True])
def test_unknown_arch_gives_none(arch):
    assert arch_name(arch) is None
    assert syscall_name(arch, 0) is None


@pytest.mark.parametrize("nr", [-1, 100000, 335])
def test_unknown_number_gives_none(nr):
    # 335..423 is a hole in the x86_64 table.
    assert syscall_name("c000003e", nr) is None


def test_number_must_be_an_int():
    assert syscall_name("x86_64", "257") is None  # type: ignore[arg-type]
    assert syscall_name("x86_64", True) is None


def test_arch_aliases():
    assert arch_name("X86_64") == "x86_64"
    assert arch_name(" c00000b7 ") == "aarch64"
    assert arch_name("28") == "arm"
    assert arch_name(0x40000003) == "i386"
    assert known_arches() == ("aarch64", "arm", "i386", "x86_64")


def test_reverse_lookup_round_trips():
    for arch in known_arches():
        for name in ("openat", "bind", "connect", "execve"):
            nr = syscall_number(arch, name)
            if nr is not None:
                assert syscall_name(arch, nr) == name


AUSYSCALL = shutil.which("ausyscall")


def _dump(arch: str) -> dict[int, str]:
    out = subprocess.run([AUSYSCALL, arch, "--dump"], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        nr, sep, name = line.partition("\t")
        if sep and nr.isdigit():
            table[int(nr)] = name
    return table


@pytest.mark.skipif(AUSYSCALL is None, reason="ausyscall (auditd) not installed")
@pytest.mark.parametrize(
    ("arch", "raw"), [("x86_64", "c000003e"), ("aarch64", "c00000b7"), ("i386", "40000003"), ("arm", "40000028")]
)
def test_tables_match_ausyscall(arch, raw):
    """The whole table agrees with the installed ausyscall, plus single lookups."""
    table = _dump(arch)
    assert len(table) > 250
    mismatches = {nr: (name, syscall_name(raw, nr)) for nr, name in table.items() if syscall_name(raw, nr) != name}
    assert not mismatches, "tables are stale: rerun bench/gen_syscalls.py"
    for nr in sorted(table)[:: max(1, len(table) // 8)]:
        one = subprocess.run([AUSYSCALL, arch, str(nr)], capture_output=True, text=True).stdout.strip()
        assert syscall_name(arch, nr) == one
