"""Permission completion: the rest of a well-known access sequence, proved by one event.

An enforcing service stops at its first denial, so a loop that adds only the
denied permissions restarts once per check the kernel makes. When a denial is
the first of a well-known sequence, :func:`complete` returns the sequence's
other permissions, each justified by a reference-policy permission set
(``obj_perm_sets.spt``) of that one access pattern, and proved by the event
itself: the SYSCALL record (which syscall, its flags argument), the PATH
records (which file), the AVC's ``name=`` (which directory), the SOCKADDR
record (which address and port). An event that does not prove the sequence
gets nothing.

The sequences (the README's "Permission completion" table is this list):

=====================  ==========================================  ===========================================
denial                 proved by                                   completed with (refpolicy set)
=====================  ==========================================  ===========================================
dir add_name on T      any syscall (the kernel checks write and    dir write search (add_entry_dir_perms)
                       search with add_name: may_create/may_link)
dir search/write/      open/openat/creat creating a file: O_CREAT  dir search write add_name on T
add_name on T          in the flags (creat: always), and T is the  (add_entry_dir_perms); file create open
                       new file's parent: for write and add_name   getattr (create_file_perms) + the access
                       the kernel proves it (may_create checks     mode's read/write/append (read_file_perms
                       only the parent; no PATH record needed),    / write_file_perms / append_file_perms) on
                       for search the PATH record and the AVC's    the new file's type (the policy's
                       name= must show it                          type_transition, else T)
dir search on T        open/openat without O_CREAT, T is the       file open getattr lock ioctl + read/write/
                       parent of the opened path, whose            append per the access mode (read_file_perms
                       file_contexts type is T                     / write_file_perms / append_file_perms) on T
file create on N       open/openat/creat with O_CREAT              file open getattr (create_file_perms) + the
                                                                   access mode's read/write/append
file read on N         open/openat/creat (an open for reading)     file open getattr lock ioctl (read_file_perms)
file write on N        open/openat/creat (an open for writing)     file open getattr lock ioctl (write_file_perms)
name_bind (tcp/udp/    bind: SOCKADDR's address (any address when  node_bind on the node's type (nodecon, else
sctp/dccp socket)      the policy has no nodecon)                  the ``node`` initial SID)
connect (tcp/sctp/     connect: SOCKADDR's port                    name_connect on the port's type (portcon,
dccp socket, self)                                                 else the ``port`` initial SID)
=====================  ==========================================  ===========================================

Rules kept by every entry:

- only findings that go into the module (``needs_module``) and that were
  logged enforcing: a permissive run logs every check already;
- the event examined is the group's example (its first denial);
- flags are decoded only where their values are known for sure: x86_64,
  i386 and aarch64 (the generic ``O_*`` values: ``O_ACCMODE`` 3, ``O_CREAT``
  0o100, ``O_APPEND`` 0o2000); ``open``'s flags are ``a1``, ``openat``'s
  ``a2`` (and only with ``a0`` = ``AT_FDCWD``, so the logged relative path is
  relative to the CWD); ``creat`` is ``O_CREAT|O_WRONLY|O_TRUNC``;
  ``openat2`` (flags behind a pointer) gets nothing;
- a permission is added only when the policy's class has it, the policy does
  not grant it already, and the types exist in the policy (all asked through
  :class:`~avcfix.explain.protocol.Facts`); the names still pass the module
  generator's identifier checks (:func:`avcfix.policy.generate.generate_module`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from avcfix.audit.fields import decode_saddr, split_fields
from avcfix.audit.model import Denial

#: The SYSCALL record's arch values whose open flags are the generic ones (asm-generic/fcntl.h).
GENERIC_FLAG_ARCHES = frozenset({"c000003e", "40000003", "c00000b7"})  # x86_64, i386, aarch64
O_ACCMODE = 0o3
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_TRUNC = 0o1000
O_APPEND = 0o2000
#: openat's dirfd for "relative to the CWD", as the SYSCALL record prints it (32- and 64-bit).
AT_FDCWD = frozenset({"ffffff9c", "ffffffffffffff9c"})

#: Syscalls that open a path: (the flags argument, or None for creat's fixed flags).
OPEN_SYSCALLS = {"open": "a1", "openat": "a2", "creat": None}

#: Socket classes with name_bind/node_bind/name_connect (inet families).
INET_SOCKETS = frozenset({"tcp_socket", "udp_socket", "sctp_socket", "dccp_socket"})
CONNECT_SOCKETS = frozenset({"tcp_socket", "sctp_socket", "dccp_socket"})

#: The refpolicy permission sets the entries cite (obj_perm_sets.spt; equal in Debian's and Fedora's).
PERM_SETS = {
    "add_entry_dir_perms": ("getattr", "search", "open", "lock", "ioctl", "write", "add_name"),
    "create_file_perms": ("getattr", "create", "open"),
    "read_file_perms": ("getattr", "open", "read", "lock", "ioctl"),
    "write_file_perms": ("getattr", "open", "write", "append", "lock", "ioctl"),
    "append_file_perms": ("getattr", "open", "append", "lock", "ioctl"),
    # network: refpolicy writes these in corenet_*_bind_*_node / corenet_*_connect_*_port
    "corenet_bind_node": ("node_bind",),
    "corenet_connect_port": ("name_connect",),
}


@dataclass(frozen=True, slots=True, order=True)
class Completion:
    """One permission added to a rule: ``perm`` on ``target``:``tclass`` for
    ``source``, completing the denial ``after`` (``TARGET:CLASS PERM``),
    justified by the refpolicy permission set ``set``."""

    source: str
    target: str
    tclass: str
    perm: str
    after: str
    set: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target, "tclass": self.tclass, "perm": self.perm,
                "after": self.after, "set": self.set}


# ---------------------------------------------------------------- the event's records

#: What a SYSCALL argument and a SOCKADDR address may be (hex digits; the kernel's widths).
_ARG_HEX = re.compile(r"[0-9A-Fa-f]{1,16}")
_SADDR_HEX = re.compile(r"[0-9A-Fa-f]{4,256}")


def _records_of(d: Denial, record_type: str) -> Iterable[dict[str, str]]:
    """The fields of the event's records of ``record_type``, read with the record
    grammar every reader uses (:func:`avcfix.audit.fields.split_fields`)."""
    for text in d.records:
        fields = split_fields(text)
        if fields.get("type") == record_type:
            yield fields


def syscall_args(d: Denial) -> dict[str, str]:
    """``arch``, ``a0``..``a3`` of the event's SYSCALL record (lower-case hex), ``{}`` when absent."""
    for fields in _records_of(d, "SYSCALL"):
        return {k: fields[k].lower() for k in ("arch", "a0", "a1", "a2", "a3")
                if k in fields and _ARG_HEX.fullmatch(fields[k])}
    return {}


def sockaddr(d: Denial) -> tuple[str | None, str | None, int | None]:
    """``(family, address, port)`` of the event's SOCKADDR record."""
    for fields in _records_of(d, "SOCKADDR"):
        saddr = fields.get("saddr", "")
        if _SADDR_HEX.fullmatch(saddr):
            return decode_saddr(saddr.upper())
    return None, None, None


def open_flags(d: Denial) -> int | None:
    """The open flags of an open/openat/creat event, ``None`` when not sure (see the module doc)."""
    if d.syscall not in OPEN_SYSCALLS:
        return None
    args = syscall_args(d)
    if args.get("arch") not in GENERIC_FLAG_ARCHES:
        return None
    which = OPEN_SYSCALLS[d.syscall]
    if which is None:
        return O_CREAT | O_WRONLY | O_TRUNC
    if d.syscall == "openat" and args.get("a0") not in AT_FDCWD:
        return None  # a path relative to another directory fd: the logged path cannot be trusted
    value = args.get(which)
    return int(value, 16) if value is not None else None


def opened_path(d: Denial) -> str | None:
    """The path the syscall opened: the last PATH item that is not the parent directory."""
    names = [it.name for it in sorted(d.items, key=lambda it: it.item)
             if it.name and it.nametype != "PARENT" and it.name.startswith("/")]
    return posixpath.normpath(names[-1]) if names else None


def _item_type(d: Denial, path: str) -> str | None:
    for it in d.items:
        if it.name and posixpath.normpath(it.name) == path and it.nametype != "PARENT":
            return it.otype
    return None


def _mode_perms(flags: int) -> list[tuple[str, str]]:
    """(perm, set) the access mode of ``flags`` proves on the opened file."""
    acc = flags & O_ACCMODE
    out = []
    if acc in (0, O_RDWR):
        out.append(("read", "read_file_perms"))
    if acc in (O_WRONLY, O_RDWR):
        out.append(("append", "append_file_perms") if flags & O_APPEND else ("write", "write_file_perms"))
    return out


# ---------------------------------------------------------------- the sequences


class _Collector:
    def __init__(self, facts: Any, d: Denial, denied: frozenset[str]) -> None:
        self.facts = facts
        self.source = d.stype
        #: The denial's own (target, class, perm)s: denied, so in the rule already, not completed.
        self.own = {(d.ttype, d.tclass, p) for p in denied}
        self.out: list[Completion] = []

    def add(self, target: str, tclass: str, perms: Iterable[tuple[str, str]], after: str) -> None:
        f = self.facts
        if not f.has_type(target):
            return
        known = f.class_permissions(tclass)
        if not known:
            return
        for perm, pset in perms:
            if (target, tclass, perm) in self.own or perm not in known or f.allows(self.source, target, tclass, [perm]):
                continue
            self.out.append(Completion(self.source, target, tclass, perm, after, pset))


def _parent_named(d: Denial, path: str, *, entry_too: bool) -> bool:
    """The directory of the AVC (its ``name=``) is ``path``'s parent (with ``entry_too``:
    or names the new entry itself, as may_create's add_name check does)."""
    parent = posixpath.dirname(path)
    if parent in ("", "/") or not d.name:
        return False
    return d.name == posixpath.basename(parent) or (entry_too and d.name == posixpath.basename(path))


def _event_completions(d: Denial, perms: Sequence[str], facts: Any) -> list[Completion]:
    target, tclass, denied = d.ttype, d.tclass, frozenset(perms)
    c = _Collector(facts, d, denied)

    def after(perm: str) -> str:
        return f"{target}:{tclass} {perm}"

    if tclass == "dir" and "add_name" in denied:
        c.add(target, "dir", [("write", "add_entry_dir_perms"), ("search", "add_entry_dir_perms")], after("add_name"))

    flags = open_flags(d)
    if flags is not None:
        creating = bool(flags & O_CREAT)
        path = opened_path(d)
        parent_proved = path is not None and _parent_named(d, path, entry_too="add_name" in denied)
        # write or add_name on a directory in an open that creates: only may_create checks them,
        # and only on the new file's parent (no PATH record needed: most systems log none)
        creates_here = tclass == "dir" and creating and (bool(denied & {"write", "add_name"})
                                                         or ("search" in denied and parent_proved))
        if creates_here:
            trigger = next(p for p in ("search", "write", "add_name") if p in denied)
            c.add(target, "dir", [(p, "add_entry_dir_perms") for p in ("search", "write", "add_name")],
                  after(trigger))
            name = d.name if "add_name" in denied else (posixpath.basename(path) if parent_proved and path else None)
            new_type = facts.type_transition(d.stype, target, "file", name) or target
            seen = _item_type(d, path) if parent_proved and path else None
            if seen is None or seen == new_type:
                c.add(new_type, "file", [(p, "create_file_perms") for p in ("create", "open", "getattr")]
                      + _mode_perms(flags), after(trigger))
        elif (tclass == "dir" and not creating and "search" in denied and path is not None
              and _parent_named(d, path, entry_too=False)):
            seen = _item_type(d, path)
            if facts.expected_file_type(path, "file") == target and seen in (None, target):
                modes = _mode_perms(flags)
                sets = sorted({s for _p, s in modes})
                c.add(target, "file", [(p, s) for s in sets for p in ("open", "getattr", "lock", "ioctl")] + modes,
                      after("search"))
        elif tclass == "file":
            if "create" in denied and creating:
                c.add(target, "file", [("open", "create_file_perms"), ("getattr", "create_file_perms")]
                      + _mode_perms(flags), after("create"))
            for perm, pset in (("read", "read_file_perms"), ("write", "write_file_perms")):
                if perm in denied:
                    c.add(target, "file", [(p, pset) for p in ("open", "getattr", "lock", "ioctl")], after(perm))

    if tclass in INET_SOCKETS and "name_bind" in denied and d.syscall == "bind":
        family, address, _port = sockaddr(d)
        node = facts.node_type(family, address)
        if node:
            c.add(node, tclass, [("node_bind", "corenet_bind_node")], after("name_bind"))
    if tclass in CONNECT_SOCKETS and "connect" in denied and d.syscall == "connect" and target == d.stype:
        family, _address, port = sockaddr(d)
        if family in ("inet", "inet6") and port:
            port_type = facts.port_type(tclass.split("_", 1)[0], port)
            if port_type:
                c.add(port_type, tclass, [("name_connect", "corenet_connect_port")], after("connect"))
    return c.out


def complete(findings: Sequence[Any], facts: Any) -> tuple[Completion, ...]:
    """The completions the findings' events prove (sorted, unique per source, target, class, perm).

    ``findings``: :class:`~avcfix.explain.model.Finding` objects; only those
    that go into the module (``needs_module``) and were logged enforcing count.
    ``facts``: a :class:`~avcfix.explain.protocol.Facts` of the target policy.
    """
    found: dict[tuple[str, str, str, str], Completion] = {}
    for f in findings:
        g = f.group
        if not getattr(f, "needs_module", False) or g.permissive:
            continue
        ex = g.example
        for comp in _event_completions(ex, tuple(f.perms) or g.perms, facts):
            key = (comp.source, comp.target, comp.tclass, comp.perm)
            if key not in found or comp < found[key]:
                found[key] = comp
    return tuple(sorted(found.values()))
