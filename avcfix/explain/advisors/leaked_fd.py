"""Leaked descriptor: an open file the new program inherited across ``execve``.

When a process execs a program in another domain, the kernel re-checks every
open descriptor against the new domain and closes the ones it may not use
(``flush_unauthorized_files``): the AVC then carries the syscall ``execve``
and the descriptor's ``path=`` (``/dev/pts/0``, ``pipe:[N]``, a log file),
which is not the program being executed. The program never asked for it: the
parent forgot to close it (or open it with ``O_CLOEXEC``). setroubleshoot's
``leaks`` plugin; the fix is a dontaudit rule (or the parent), not an allow
rule that lets the new domain use whatever its parent had open.
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.audit.model import Denial
from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "leaked_fd"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY})

#: What the kernel checks on an inherited descriptor.
LEAK_PERMS = frozenset({"read", "write", "append", "getattr", "ioctl", "lock"})

#: Classes of objects a descriptor can hold.
LEAK_CLASSES = frozenset({
    "file", "chr_file", "blk_file", "fifo_file", "sock_file", "lnk_file",
    "unix_stream_socket", "unix_dgram_socket", "tcp_socket", "udp_socket", "rawip_socket",
    "netlink_socket", "netlink_route_socket", "netlink_audit_socket", "netlink_kobject_uevent_socket",
    "packet_socket", "key_socket", "socket",
})

EXEC_SYSCALLS = frozenset({"execve", "execveat"})


def leaked(s: Situation) -> str | None:
    """The inherited descriptor's path (``path=``) when the evidence says it leaked."""
    d = s.example
    if s.tclass not in LEAK_CLASSES or not s.perms or not set(s.perms) <= LEAK_PERMS:
        return None
    if d.syscall not in EXEC_SYSCALLS or not d.path:
        return None
    fd = d.path
    if fd == d.exe or fd in _looked_up(d):
        return None  # the program (its interpreter or loader) being executed, not an inherited descriptor
    return fd


def _looked_up(d: Denial) -> frozenset[str]:
    """The names the syscall looked up (PATH items): the program and its loader.

    ``Denial.paths`` is the PATH items, then the AVC's ``path=`` when it is not
    one of them; without ``Denial.items`` a ``path=`` that is the last of
    ``paths`` is taken as the AVC's own."""
    items = getattr(d, "items", None)
    if items:
        return frozenset(i.name for i in items if i.name)
    names = list(d.paths)
    if names and names[-1] == d.path:
        names.pop()
    return frozenset(names)


def dontaudit_perms(tclass: str, perms: Sequence[str]) -> tuple[str, ...]:
    """The logged permissions, plus read and write: the kernel checks the other
    one on the next leaked descriptor of the same kind."""
    return tuple(sorted(set(perms) | {"read", "write"}))


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    fd = leaked(s)
    if fd is None:
        return []
    d = s.example
    out = []
    rule = commands.dontaudit_rule(s.source, s.target, s.tclass, dontaudit_perms(s.tclass, s.perms))
    evidence = (f"log: syscall={d.syscall}: checked while {d.exe or d.comm or 'a program'} was being executed",
                f"log: path={fd} is a descriptor the new program inherited, not the program",
                f"log: {' '.join(s.perms)} only (what the kernel checks on an inherited descriptor)")
    if rule is not None:
        out.append(Advice(
            AdviceKind.DONTAUDIT, rule, 80,
            f"{s.source} did not open {fd}: it inherited it from the process that executed it, and the "
            "kernel closed it because the new domain may not use it. The program works without it; "
            "silence the denial (avcfix build writes this dontaudit rule) rather than letting the domain "
            f"use every {s.target} {s.tclass}.",
            evidence=evidence))
    what = d.exe or d.comm
    prog = commands.note("the process that executes {exe} leaks {fd}: open it with O_CLOEXEC, "
                         "or close it before exec", exe=what, fd=fd)
    if prog is not None:
        out.append(Advice(
            AdviceKind.PROGRAM, prog, 60,
            "the real fix is in the parent: a descriptor opened without O_CLOEXEC (FD_CLOEXEC) survives exec "
            "and reaches every program it starts.",
            evidence=evidence))
    return out
