"""Syscall numbers to names, as ausearch interprets them (pure data).

A SYSCALL record gives ``arch=c000003e syscall=257``; ``ausearch -i`` prints
``arch=x86_64 syscall=openat``. These functions accept both forms of the arch
(the raw AUDIT_ARCH_* value in hex or as an int, or the interpreted name) for
x86_64, aarch64, i386 and arm. The tables live in the generated module
``_syscall_data`` (regenerate with ``bench/gen_syscalls.py``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from avcfix.audit._syscall_data import TABLES

#: AUDIT_ARCH_* values (linux/audit.h) -> canonical arch name.
_ARCH_CODES: Mapping[int, str] = MappingProxyType({
    0xC000003E: "x86_64",   # AUDIT_ARCH_X86_64
    0xC00000B7: "aarch64",  # AUDIT_ARCH_AARCH64
    0x40000003: "i386",     # AUDIT_ARCH_I386
    0x40000028: "arm",      # AUDIT_ARCH_ARM (little endian)
    0x00000028: "arm",      # AUDIT_ARCH_ARMEB (same syscall table)
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
})


#: The spellings seen in real logs, looked up first (the hot path: one dict hit).
_COMMON: Mapping[str, str] = MappingProxyType({
    **{f"{code:x}": name for code, name in _ARCH_CODES.items()},
    **_ARCH_NAMES,
})


def arch_name(arch: str | int) -> str | None:
    """The canonical arch name (``x86_64``, ``aarch64``, ``i386``, ``arm``).

    ``arch`` is the SYSCALL record's ``arch=`` value: raw hex (``c000003e``,
    with or without ``0x``, any case), the same value as an int, or an
    interpreted name (``x86_64``). ``None`` for an arch without a table.
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


def syscall_name(arch: str | int, nr: int) -> str | None:
    """The name of syscall ``nr`` on ``arch`` (``openat``), or ``None``.

    ``None`` when the arch has no table or the number is not a syscall there.
    """
    name = arch_name(arch)
    if name is None or type(nr) is not int:
        return None
    return TABLES[name].get(nr)


def syscall_number(arch: str | int, name: str) -> int | None:
    """The number of syscall ``name`` on ``arch`` (the reverse lookup), or ``None``.

    Useful for ``ausearch -i`` output, which prints names instead of numbers.
    """
    canonical = arch_name(arch)
    if canonical is None:
        return None
    for nr, known in TABLES[canonical].items():
        if known == name:
            return nr
    return None


def known_arches() -> tuple[str, ...]:
    """The canonical names of the arches that have a table, sorted."""
    return tuple(sorted(TABLES))
