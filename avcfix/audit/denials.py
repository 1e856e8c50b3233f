"""Events -> :class:`~avcfix.audit.model.Denial` values (pure).

Every ``avc: denied`` (AVC, USER_AVC, kernel lines) and every SELINUX_ERR
that names a class and permissions becomes one Denial, carrying its event's
context: pid, comm, exe, syscall, success/exit, PATH items made absolute with
the CWD, the proctitle and the port. ``avc: granted`` and AppArmor records
are not denials.
"""

from __future__ import annotations

from avcfix.audit.correlate import Event
from avcfix.audit.fields import octal, path_item_order, resolve_path
from avcfix.audit.model import Denial, PathItem
from avcfix.audit.records import (
    AvcPathRecord,
    AvcRecord,
    CwdRecord,
    PathRecord,
    ProctitleRecord,
    SelinuxErrRecord,
    SockaddrRecord,
    SyscallRecord,
)
from avcfix.audit.syscalls import arch_name as _arch_name


def event_denials(event: Event) -> list[Denial]:
    """The denials of one event, in canonical order."""
    syscall: SyscallRecord | None = None
    cwd: str | None = None
    paths: list[tuple[int, str]] = []
    path_recs: list[PathRecord] = []
    proctitle: str | None = None
    port: int | None = None
    avc_path: str | None = None
    wanted: list[AvcRecord | SelinuxErrRecord] = []
    for rec in event.records:
        if isinstance(rec, AvcRecord):
            if not rec.granted:
                wanted.append(rec)
        elif isinstance(rec, SelinuxErrRecord):
            if rec.perms and rec.tclass and rec.scontext and rec.tcontext:
                wanted.append(rec)
        elif isinstance(rec, SyscallRecord):
            syscall = syscall or rec
        elif isinstance(rec, CwdRecord):
            cwd = cwd or rec.cwd
        elif isinstance(rec, PathRecord):
            if rec.item is not None:
                path_recs.append(rec)
            if rec.name and rec.name not in ("(null)", "?"):
                paths.append((rec.item if rec.item is not None else len(paths), rec.name))
        elif isinstance(rec, ProctitleRecord):
            proctitle = proctitle or (rec.title or None)
        elif isinstance(rec, SockaddrRecord):
            port = port if port is not None else rec.port
        elif isinstance(rec, AvcPathRecord):
            avc_path = avc_path or rec.path
    if not wanted:
        return []
    texts = tuple(r.text for r in event.records)
    resolved: list[str] = []
    for _, name in sorted(paths):
        full = resolve_path(name, cwd)
        if full not in resolved:
            resolved.append(full)
    items = tuple(sorted((_path_item(r, cwd) for r in path_recs), key=path_item_order))
    arch = None
    if syscall is not None and syscall.arch:
        arch = _arch_name(syscall.arch) or syscall.arch
    out: list[Denial] = []
    for rec in wanted:
        if isinstance(rec, AvcRecord):
            extra = [p for p in (rec.path, avc_path) if p and p not in resolved]
            out.append(Denial(
                kind=rec.kind,
                node=event.node,
                time=event.time,
                serial=event.serial,
                scontext=rec.scontext,
                tcontext=rec.tcontext,
                tclass=rec.tclass,
                perms=rec.perms,
                permissive=bool(rec.permissive),
                pid=rec.pid if rec.pid is not None else (syscall.pid if syscall else None),
                comm=rec.comm or (syscall.comm if syscall else None),
                exe=rec.exe or (syscall.exe if syscall else None),
                syscall=syscall.syscall if syscall else None,
                syscall_nr=syscall.syscall_nr if syscall else None,
                arch=arch,
                success=syscall.success if syscall else None,
                exit=syscall.exit if syscall else None,
                name=rec.name,
                path=rec.path or avc_path,
                paths=tuple(resolved + list(dict.fromkeys(extra))),
                cwd=cwd,
                proctitle=proctitle,
                port=rec.port if rec.port is not None else port,
                ioctlcmd=rec.ioctlcmd,
                capability=rec.capability,
                items=items,
                ino=rec.ino,
                dev=rec.dev,
                source=rec.source,
                line=rec.line,
                records=texts,
            ))
        else:
            assert rec.scontext is not None and rec.tcontext is not None and rec.tclass
            out.append(Denial(
                kind=rec.kind,
                node=event.node,
                time=event.time,
                serial=event.serial,
                scontext=rec.scontext,
                tcontext=rec.tcontext,
                tclass=rec.tclass,
                perms=rec.perms,
                permissive=False,
                pid=syscall.pid if syscall else None,
                comm=syscall.comm if syscall else None,
                exe=syscall.exe if syscall else None,
                syscall=syscall.syscall if syscall else None,
                syscall_nr=syscall.syscall_nr if syscall else None,
                arch=arch,
                success=syscall.success if syscall else None,
                exit=syscall.exit if syscall else None,
                paths=tuple(resolved),
                cwd=cwd,
                proctitle=proctitle,
                port=port,
                items=items,
                source=rec.source,
                line=rec.line,
                records=texts,
            ))
    return out


def _path_item(rec: PathRecord, cwd: str | None) -> PathItem:
    """A PATH record as the Denial's :class:`PathItem` (``rec.item`` is set)."""
    name = rec.name
    if name in ("(null)", "?", ""):
        name = None
    elif name is not None and name[:1] != "/":
        name = resolve_path(name, cwd)
    assert rec.item is not None
    return PathItem(rec.item, name, rec.nametype, rec.inode, rec.dev, octal(rec.mode),
                    rec.obj.type if rec.obj is not None else None)
