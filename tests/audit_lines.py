"""Audit records as the kernel writes them, for the scan tests of both tiers
(tests/unit/test_audit_scan.py, tests/integration/test_audit_scan_tools.py)."""

from __future__ import annotations

from pathlib import Path


def avc(serial: int, perm: str = "read", stype: str = "a_t", ttype: str = "b_t", tclass: str = "file",
        extra: str = "", t: str = "1700000000.000", node: str = "") -> str:
    return (f"{node}type=AVC msg=audit({t}:{serial}): avc:  denied  {{ {perm} }} for  pid={serial} "
            f'comm="c{serial}" {extra}scontext=system_u:system_r:{stype}:s0 '
            f"tcontext=system_u:object_r:{ttype}:s0 tclass={tclass} permissive=0")


def syscall(serial: int, nr: int = 257, t: str = "1700000000.000", node: str = "") -> str:
    return (f"{node}type=SYSCALL msg=audit({t}:{serial}): arch=c000003e syscall={nr} success=no exit=-13 "
            f'a0=3 items=1 ppid=1 pid={serial} auid=0 uid=0 comm="c{serial}" exe="/bin/e{serial}" '
            f"subj=system_u:system_r:a_t:s0 key=(null)")


def path(serial: int, name: str, item: int = 0, t: str = "1700000000.000") -> str:
    return f'type=PATH msg=audit({t}:{serial}): item={item} name="{name}" inode=1 nametype=NORMAL'


def cwd(serial: int, d: str, t: str = "1700000000.000") -> str:
    return f'type=CWD msg=audit({t}:{serial}): cwd="{d}"'


def write(tmp_path: Path, lines: list[str], name: str = "audit.log") -> str:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return str(p)

