"""The arches of the syscall tests of both tiers (tests/unit/test_syscalls.py,
tests/integration/test_syscalls_tools.py) and their python3-audit skip mark."""

from __future__ import annotations

import pytest
from libaudit_names import HAVE_LIBAUDIT

needs_libaudit = pytest.mark.skipif(not HAVE_LIBAUDIT, reason="python3-audit not installed")

#: (raw AUDIT_ARCH_* value, interpreted name, {syscall: number}), per ``ausyscall ARCH NAME``.
ARCHES = [
    ("c000003e", "x86_64", {"openat": 257, "bind": 49, "connect": 42, "execve": 59}),
    ("40000003", "i386", {"openat": 295, "bind": 361, "connect": 362, "execve": 11}),
    ("c00000b7", "aarch64", {"openat": 56, "bind": 200, "connect": 203, "execve": 221}),
    ("c0000015", "ppc64le", {"openat": 286, "bind": 327, "connect": 328, "execve": 11}),
    ("80000016", "s390x", {"openat": 288, "bind": 361, "connect": 362, "execve": 11}),
    ("40000028", "arm", {"openat": 322, "bind": 282, "connect": 283, "execve": 11}),
]
