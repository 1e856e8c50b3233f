"""Syscall numbers to names, as ausearch interprets them (libaudit's tables).

A SYSCALL record gives ``arch=c000003e syscall=257``; ``ausearch -i`` prints
``arch=x86_64 syscall=openat``. The names come from libaudit itself, through
its Python binding (``python3-audit`` on Debian and Fedora), the tables
ausearch uses, offline. These functions accept both forms of the arch (the
raw AUDIT_ARCH_* value in hex or as an int, or the interpreted name) for
x86_64, i386, aarch64, arm, ppc64le, ppc64, ppc, s390x and s390.

Without python3-audit (a pip install on a machine without it) the arch is
still named, but no syscall is: :func:`syscall_name` and
:func:`syscall_number` give ``None`` and the reports show the bare number.
Lookups are cached per (arch, number): the scanner asks once per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, lru_cache
from types import MappingProxyType, ModuleType


def _load_libaudit() -> ModuleType | None:
    try:
        import audit  # python3-audit: libaudit's SWIG binding
    except ImportError:
        return None
    return audit if hasattr(audit, "audit_syscall_to_name") and hasattr(audit, "audit_name_to_machine") else None


_libaudit: ModuleType | None = _load_libaudit()

#: AUDIT_ARCH_* values (linux/audit.h) -> canonical arch name (libaudit's).
_ARCH_CODES: Mapping[int, str] = MappingProxyType({
    0xC000003E: "x86_64",   # AUDIT_ARCH_X86_64
    0xC00000B7: "aarch64",  # AUDIT_ARCH_AARCH64
    0x40000003: "i386",     # AUDIT_ARCH_I386
    0x40000028: "arm",      # AUDIT_ARCH_ARM (little endian)
    0x00000028: "arm",      # AUDIT_ARCH_ARMEB (same syscall table)
    0xC0000015: "ppc64le",  # AUDIT_ARCH_PPC64LE
    0x80000015: "ppc64",    # AUDIT_ARCH_PPC64
    0x00000014: "ppc",      # AUDIT_ARCH_PPC
    0x80000016: "s390x",    # AUDIT_ARCH_S390X
    0x00000016: "s390",     # AUDIT_ARCH_S390
})

#: Interpreted names (what ``ausearch -i`` and ``uname -m`` print) -> canonical.
_ARCH_NAMES: Mapping[str, str] = MappingProxyType({
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "arm": "arm",
    "armeb": "arm",
    "armv5tejl": "arm",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "ppc": "ppc",
    "s390x": "s390x",
    "s390": "s390",
})


#: The spellings seen in real logs, looked up first (the hot path: one dict hit).
_COMMON: Mapping[str, str] = MappingProxyType({
    **{f"{code:x}": name for code, name in _ARCH_CODES.items()},
    **_ARCH_NAMES,
})

#: A syscall number libaudit can be asked about (its argument is a C int).
_MAX_NR = 2**31 - 1


def available() -> bool:
    """Whether syscalls can be named (python3-audit is installed)."""
    return _libaudit is not None


def arch_name(arch: str | int) -> str | None:
    """The canonical arch name (``x86_64``, ``aarch64``, ``i386``, ``arm``,
    ``ppc64le``, ``ppc64``, ``ppc``, ``s390x``, ``s390``).

    ``arch`` is the SYSCALL record's ``arch=`` value: raw hex (``c000003e``,
    with or without ``0x``, any case), the same value as an int, or an
    interpreted name (``x86_64``). ``None`` for another arch.
    """
    if type(arch) is str:
        common = _COMMON.get(arch)
        if common is not None:
            return common
    elif isinstance(arch, bool):
        return None
    if isinstance(arch, int):
        return _ARCH_CODES.get(arch)
    text = arch.strip().lower()
    known = _ARCH_NAMES.get(text)
    if known is not None:
        return known
    if text.startswith("0x"):
        text = text[2:]
    if not text or len(text) > 8:
        return None
    try:
        return _ARCH_CODES.get(int(text, 16))
    except ValueError:
        return None


@cache
def _machine(canonical: str) -> int:
    """libaudit's machine number of a canonical arch name (-1: none)."""
    assert _libaudit is not None
    return int(_libaudit.audit_name_to_machine(canonical))


@lru_cache(maxsize=4096)
def _name(canonical: str, nr: int) -> str | None:
    machine = _machine(canonical)
    if machine < 0 or _libaudit is None:  # (_machine asserts it is loaded)
        return None
    name = _libaudit.audit_syscall_to_name(nr, machine)
    return name if isinstance(name, str) and name else None


@lru_cache(maxsize=1024)
def _number(canonical: str, name: str) -> int | None:
    machine = _machine(canonical)
    if machine < 0 or _libaudit is None:  # (_machine asserts it is loaded)
        return None
    nr = _libaudit.audit_name_to_syscall(name, machine)
    return nr if isinstance(nr, int) and nr >= 0 else None


def syscall_name(arch: str | int, nr: int) -> str | None:
    """The name of syscall ``nr`` on ``arch`` (``openat``), or ``None``.

    ``None`` when the arch is not one of those above, the number is not a
    syscall there, or python3-audit is not installed (then the caller shows
    the number).
    """
    if _libaudit is None or type(nr) is not int or not 0 <= nr <= _MAX_NR:
        return None
    name = arch_name(arch)
    if name is None:
        return None
    return _name(name, nr)


def syscall_number(arch: str | int, name: str) -> int | None:
    """The number of syscall ``name`` on ``arch`` (the reverse lookup), or ``None``.

    Useful for ``ausearch -i`` output, which prints names instead of numbers.
    """
    if _libaudit is None or type(name) is not str or not name or "\0" in name:
        return None
    canonical = arch_name(arch)
    if canonical is None:
        return None
    return _number(canonical, name)


def known_arches() -> tuple[str, ...]:
    """The canonical names of the arches avcfix names syscalls for, sorted
    (empty without python3-audit)."""
    if _libaudit is None:
        return ()
    return tuple(sorted(n for n in set(_ARCH_CODES.values()) if _machine(n) >= 0))
