"""What a test may expect of syscall names: libaudit's, or none without it.

avcfix names syscalls with libaudit's tables (python3-audit); without the
binding it keeps the bare number (``syscall`` None, ``syscall_nr`` set) and
cannot turn an interpreted name back into a number. The unit tier runs
anywhere, so its expectations go through these two functions; the
integration tier (tests/integration/test_syscalls_tools.py) checks the
names themselves against libaudit and ausyscall; a test that needs libaudit
itself takes ``syscall_arches.needs_libaudit``, the skip mark built on
:data:`HAVE_LIBAUDIT`.
"""

from __future__ import annotations

from avcfix.audit import syscalls

#: Whether libaudit's binding is importable here.
HAVE_LIBAUDIT = syscalls.available()


def named(name: str) -> str | None:
    """The syscall name avcfix gives a number libaudit calls ``name``."""
    return name if HAVE_LIBAUDIT else None


def numbered(nr: int) -> int | None:
    """The number avcfix gives an interpreted (``ausearch -i``) syscall name."""
    return nr if HAVE_LIBAUDIT else None
