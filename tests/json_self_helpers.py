"""The own-domain (``self``) log and the JSON walker of the issue 2 tests, for both tiers
(tests/unit/test_json_no_self.py, tests/integration/test_json_no_self_tools.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from avcfix.cli import main

PROJECT = Path(__file__).resolve().parents[1]
EUCA = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")

_SYSCALL = ("type=SYSCALL msg=audit({ts}:{serial}): arch=c000003e syscall={nr} success=no exit=-13 a0=3 a1=0 "
            "a2=0 a3=0 items=0 ppid=1 pid={pid} auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 "
            "sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"{comm}\" exe=\"/usr/bin/{comm}\" "
            "subj=system_u:system_r:{t}:s0 key=(null)")
_AVC = ("type=AVC msg=audit({ts}:{serial}): avc:  denied  {{ {perms} }} for  pid={pid} comm=\"{comm}\" {extra}"
        "scontext=system_u:system_r:{t}:s0 tcontext=system_u:system_r:{t}:s0 tclass={tclass} "
        "permissive={permissive}")

#: Self-target denials the reference policy explains in every way that gives a
#: rule: a narrower permission (dac_override -> dac_read_search), a plain missing
#: rule, a risky capability, an ioctl (allowxperm with --xperms), a boolean
#: (httpd_execmem) and a permissive-mode denial.
SELF_DENIALS = [
    ("dmesg_t", "dmesg", "capability", "dac_override", "capability=1 ", 0, 257),
    ("dmesg_t", "dmesg", "capability", "dac_read_search", "capability=2 ", 0, 257),
    ("dmesg_t", "dmesg", "udp_socket", "ioctl", 'path="socket:[1234]" ioctlcmd=0x8933 ', 0, 16),
    ("sshd_t", "sshd", "capability", "sys_rawio", "capability=17 ", 0, 175),
    ("httpd_t", "httpd", "process", "execmem", "", 0, 9),
    ("named_t", "named", "capability", "sys_admin", "capability=21 ", 1, 165),
]


def self_log(path: Path) -> Path:
    lines = []
    for i, (t, comm, tclass, perms, extra, permissive, nr) in enumerate(SELF_DENIALS):
        ts, serial, pid = f"{1700001000 + i}.100", 5001 + i, 100 + i
        lines.append(_AVC.format(ts=ts, serial=serial, perms=perms, pid=pid, comm=comm, extra=extra, t=t,
                                 tclass=tclass, permissive=permissive))
        lines.append(_SYSCALL.format(ts=ts, serial=serial, nr=nr, pid=pid, comm=comm, t=t))
    path.write_text("\n".join(lines) + "\n")
    return path


_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]+")


def self_tokens(doc: object, where: str = "$") -> list[str]:
    """Where the token ``self`` occurs in ``doc`` (keys and string values)."""
    out: list[str] = []
    if isinstance(doc, str):
        if "self" in _TOKEN_RE.findall(doc):
            out.append(f"{where}: {doc}")
    elif isinstance(doc, dict):
        for k, v in doc.items():
            out += self_tokens(k, f"{where} key")
            out += self_tokens(v, f"{where}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += self_tokens(v, f"{where}[{i}]")
    return out


def _json(capsys, *argv: str) -> dict:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)
