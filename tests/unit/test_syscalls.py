"""Syscall names from libaudit (python3-audit), by raw and interpreted arch, and
the bare number when python3-audit is missing.

The expected numbers were checked with ``ausyscall ARCH NAME`` (auditd
3.0.9, the tables ausearch uses) and agree with the kernel's syscall tables
(arch/*/entry/syscalls, include/uapi/asm-generic/unistd.h);
``test_names_match_ausyscall`` (tests/integration/test_syscalls_tools.py)
asks the installed ausyscall again.
"""

from __future__ import annotations

import sys

import pytest
from syscall_arches import ARCHES, needs_libaudit

from avcfix.audit import fastpath, syscalls
from avcfix.audit.syscalls import arch_name, known_arches, syscall_name, syscall_number


@needs_libaudit
@pytest.mark.parametrize(("raw", "arch", "names"), ARCHES, ids=[a[1] for a in ARCHES])
def test_names_per_arch(raw, arch, names):
    for name, nr in names.items():
        for spelling in (raw, raw.upper(), "0x" + raw, int(raw, 16), arch):
            assert syscall_name(spelling, nr) == name, (spelling, nr)
        assert syscall_number(arch, name) == nr
        assert syscall_number(raw, name) == nr
    assert arch_name(raw) == arch_name(arch) == arch


@needs_libaudit
def test_aarch64_has_no_legacy_open():
    # aarch64 only has openat; 2 is io_submit there, not open as on x86_64.
    assert syscall_name("c00000b7", 2) == "io_submit"
    assert syscall_number("aarch64", "open") is None
    assert syscall_number("x86_64", "open") == 2
    assert syscall_name("armeb", 322) == syscall_name("28", 322) == "openat"  # ARMEB: arm's table


@pytest.mark.parametrize("arch", ["", "ffffffff", "c0000002", "sparc", "zz", "c000003e00", "-1", True])
def test_unknown_arch_gives_none(arch):
    assert arch_name(arch) is None
    assert syscall_name(arch, 0) is None


@pytest.mark.parametrize("nr", [-1, 100000, 335, 2**31, 2**70])
def test_unknown_number_gives_none(nr):
    # 335..423 is a hole in the x86_64 table; 2**31 and more is no C int.
    assert syscall_name("c000003e", nr) is None


def test_bad_arguments_give_none():
    assert syscall_name("x86_64", "257") is None  # type: ignore[arg-type]
    assert syscall_name("x86_64", True) is None
    assert syscall_number("x86_64", "") is None
    assert syscall_number("x86_64", "open\0at") is None
    assert syscall_number("x86_64", "no_such_call") is None


def test_arch_aliases():
    assert arch_name("X86_64") == "x86_64"
    assert arch_name(" c00000b7 ") == "aarch64"
    assert arch_name("28") == "arm"
    assert arch_name(0x40000003) == "i386"
    assert arch_name("14") == "ppc"  # the corpus's arch=14 (AUDIT_ARCH_PPC)


@needs_libaudit
def test_known_arches():
    assert known_arches() == ("aarch64", "arm", "i386", "ppc", "ppc64", "ppc64le", "s390", "s390x", "x86_64")


# ------------------------------------------------------------------ without python3-audit

@pytest.fixture
def no_libaudit(monkeypatch):
    """python3-audit made unimportable (as on a machine without it), and the
    module's handle to it reloaded from that."""
    monkeypatch.setitem(sys.modules, "audit", None)  # "import audit" raises ImportError
    monkeypatch.setattr(syscalls, "_libaudit", syscalls._load_libaudit())
    yield
    syscalls._name.cache_clear()
    syscalls._number.cache_clear()


def test_without_libaudit_the_number_stays(no_libaudit):
    assert syscalls._libaudit is None and not syscalls.available()
    assert syscall_name("c000003e", 257) is None
    assert syscall_number("x86_64", "openat") is None
    assert known_arches() == ()
    assert arch_name("c000003e") == "x86_64"  # the arch is still named
    # The fast path (and the C build, which asks the memo) gives the bare number.
    assert fastpath.Memo().syscall(b"c000003e", 257) == (None, "x86_64")


def test_without_libaudit_denials_keep_the_number(no_libaudit):
    from avcfix.audit.api import ScanStats, events_to_denials

    raw = [(1, b'type=AVC msg=audit(1.5:9): avc:  denied  { read } for  pid=7 comm="x" name="f" '
               b"scontext=u:r:a_t:s0 tcontext=u:object_r:b_t:s0 tclass=file permissive=0"),
           (2, b"type=SYSCALL msg=audit(1.5:9): arch=c000003e syscall=257 success=no exit=-13 a0=1 items=0 "
               b'ppid=1 pid=7 comm="x" exe="/x"')]
    for fast in (True, False):
        (d,) = events_to_denials(raw, "x.log", ScanStats(), fast=fast, memo=fastpath.Memo())
        assert (d.syscall, d.syscall_nr, d.arch) == (None, 257, "x86_64"), fast


@needs_libaudit
def test_with_libaudit_denials_name_the_syscall():
    from avcfix.audit.api import ScanStats, events_to_denials

    raw = [(1, b'type=AVC msg=audit(1.5:9): avc:  denied  { read } for  pid=7 comm="x" name="f" '
               b"scontext=u:r:a_t:s0 tcontext=u:object_r:b_t:s0 tclass=file permissive=0"),
           (2, b"type=SYSCALL msg=audit(1.5:9): arch=c0000015 syscall=286 success=no exit=-13 a0=1 items=0 "
               b'ppid=1 pid=7 comm="x" exe="/x"')]
    for fast in (True, False):
        (d,) = events_to_denials(raw, "x.log", ScanStats(), fast=fast, memo=fastpath.Memo())
        assert (d.syscall, d.syscall_nr, d.arch) == ("openat", 286, "ppc64le"), fast
