"""Text -> typed records (pure, tolerant, no I/O).

One physical line may hold several records (aggregated logs), be prefixed by
syslog/dmesg/logcat text, or use ``ausearch -i``'s interpreted form. This
module finds each record header (``[node=N] type=T msg=audit(ID):``), splits
the body and builds the typed value from :mod:`avcfix.audit.records`. The
patterns are :mod:`avcfix.audit.grammar`'s.
Anything it cannot understand becomes a :class:`~avcfix.audit.model.Skipped`.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Literal, TypedDict

from avcfix.audit import fields as F
from avcfix.audit.grammar import AVC as _AVC
from avcfix.audit.grammar import AVC_BRACE_AFTER as _BRACE_AFTER
from avcfix.audit.grammar import AVC_VERDICT as _AVC_RESULT
from avcfix.audit.grammar import ENRICHED_SEP_TEXT as _GS
from avcfix.audit.grammar import INTERP_SADDR_FIELD as _SADDR_I
from avcfix.audit.grammar import INVALID_CONTEXT as _INVALID_CTX
from avcfix.audit.grammar import NODE_PREFIXES_TEXT as _NODE_PREFIXES
from avcfix.audit.model import Context, Skipped
from avcfix.audit.records import (
    NUMERIC_TYPES,
    AvcPathRecord,
    AvcRecord,
    CwdRecord,
    GenericRecord,
    MacStatusRecord,
    PathRecord,
    PolicyLoadRecord,
    ProctitleRecord,
    Record,
    SelinuxErrRecord,
    SockaddrRecord,
    SyscallRecord,
)
from avcfix.audit.syscalls import syscall_name as _syscall_name
from avcfix.audit.syscalls import syscall_number as _syscall_number

Parsed = Record | Skipped


class _Head(TypedDict):
    """The fields every :class:`Record` has, as :func:`parse_piece` passes them to a builder."""

    type: str
    node: str | None
    time: float
    serial: int
    text: str
    source: str
    line: int


#: What may stand right before a ``type=`` that starts a record.
_TYPE_PRECEDERS = " \t:'" + _GS


def split_line(line: str) -> list[tuple[str | None, str | None, str, str, str]]:
    """Find the records of one physical line.

    Returns ``(node, type, event_id_text, body, record_text)`` per record, in
    line order; an empty list when the line holds no ``audit(...)`` header.
    Text before the first header (syslog, dmesg or logcat prefixes) is
    dropped; a later ``audit(`` only starts a record when ``type=`` precedes it.
    """
    if line.startswith("type="):  # the common raw form: one record, nothing around it
        sp = line.find(" ", 5)
        if line.startswith("msg=audit(", sp + 1):
            close = line.find(")", sp + 11)
            if close > 0 and line.find("audit(", close) < 0:
                hend = close + 2 if line.startswith(":", close + 1) else close + 1
                return [(None, line[5:sp], line[sp + 11:close], line[hend:].strip(), line.rstrip())]
    heads: list[tuple[int, int, str | None, str | None, str]] = []
    p = line.find("audit(")
    while p >= 0:
        close = line.find(")", p + 6)
        if close < 0:
            break
        k = p - 4 if p >= 4 and line.startswith("msg=", p - 4) else p
        k2 = k
        while k2 > 0 and line[k2 - 1] in " \t":
            k2 -= 1
        t = line.rfind("type=", max(0, k2 - 60), k2)
        rtype = None
        start = k
        if t >= 0 and (t == 0 or line[t - 1] in _TYPE_PRECEDERS) and " " not in line[t + 5:k2] and "\t" not in line[t + 5:k2]:
            rtype = line[t + 5:k2]
            start = t
        elif heads:
            p = line.find("audit(", close)
            continue
        node = None
        n2 = start
        while n2 > 0 and line[n2 - 1] in " \t":
            n2 -= 1
        if n2 < start:
            ts = max(line.rfind(" ", 0, n2), line.rfind("\t", 0, n2)) + 1
            if line.startswith(_NODE_PREFIXES, ts):
                node = line[ts + 5:n2]
                start = ts
        hend = close + 1
        while hend < len(line) and line[hend] in " \t":
            hend += 1
        if hend < len(line) and line[hend] == ":":
            hend += 1
        heads.append((start, hend, node, rtype, line[p + 6:close]))
        p = line.find("audit(", close)
    out = []
    line_node = None
    for n, (start, hend, node, rtype, id_text) in enumerate(heads):
        # Later records of a line without node= belong to the same node as the first.
        line_node = node = node or line_node
        end = heads[n + 1][0] if n + 1 < len(heads) else len(line)
        out.append((node, rtype, id_text, line[hend:end].strip(), line[start:end].rstrip()))
    return out


def parse_line(line: str, source: str = "", lineno: int = 0, *, generic_fields: bool = True,
               ids: dict[str, tuple[float, int] | None] | None = None) -> list[Parsed]:
    """Every record of ``line`` as a typed value, or a :class:`Skipped` each.

    ``generic_fields=False`` leaves :class:`GenericRecord` fields empty (the
    scan does not need them). ``ids`` is an optional cache of parsed event ids.
    """
    pieces = split_line(line)
    if not pieces:
        return [Skipped(source, lineno, "no audit record header", line[:80])]
    return [parse_piece(p, source, lineno, generic_fields=generic_fields, ids=ids) for p in pieces]


def parse_piece(piece: tuple[str | None, str | None, str, str, str], source: str = "", lineno: int = 0,
                *, generic_fields: bool = True,
                ids: dict[str, tuple[float, int] | None] | None = None) -> Parsed:
    """Build one typed record from a :func:`split_line` piece."""
    node, rtype, id_text, body, text = piece
    if ids is None:
        eid = F.parse_event_id(id_text)
    else:
        cached: tuple[float, int] | None | Literal[False] = ids.get(id_text, False)
        if cached is False:
            eid = ids[id_text] = F.parse_event_id(id_text)
        else:
            eid = cached
    if eid is None:
        why = F.event_id_problem(id_text) or "unreadable"
        return Skipped(source, lineno, f"bad event id audit({id_text[:40]}): {why}", text[:80])
    if rtype is None:
        if "avc:" in body:
            rtype = "AVC"
        else:
            return Skipped(source, lineno, "record without type=", text[:80])
    if not rtype:
        return Skipped(source, lineno, "empty record type", text[:80])
    rtype = NUMERIC_TYPES.get(rtype, rtype)
    interpreted = "/" in id_text
    enriched = body.find(_GS)
    if enriched >= 0:
        body = body[:enriched]
    head = _Head(type=rtype, node=node, time=eid[0], serial=eid[1], text=text, source=source, line=lineno)
    builder = _BUILDERS.get(rtype)
    if builder is None:
        if not generic_fields:
            return GenericRecord(**head)
        return GenericRecord(**head, fields=tuple(F.split_fields(body).items()))
    try:
        return builder(head, body, interpreted, source, lineno)
    except (ValueError, IndexError, OverflowError) as exc:  # malformed values
        return Skipped(source, lineno, f"malformed {rtype} record: {exc}", text[:80])


def _unq(value: str | None) -> str | None:
    """A field value without its quotes."""
    if value and value[0] in "\"'":
        return value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:]
    return value


def _untrusted(raw: dict[str, str], key: str, interpreted: bool) -> str | None:
    """An untrusted string field: unquoted, or hex-decoded when not quoted."""
    value = raw.get(key)
    if value is None:
        return None
    if value[:1] == '"':
        return _unq(value)
    if interpreted:
        return value
    return F.decode_untrusted(value, False)


_READ = F.READ_FIELDS
_NO_FIELDS: frozenset[str] = frozenset()


def _fields(body: str, read: frozenset[str] = _NO_FIELDS) -> dict[str, str]:
    """``{key: raw value}`` (quotes kept; see :func:`_unq`). A key of ``read``
    given twice raises ValueError (the record is malformed); another one's
    last value wins."""
    return F.fields_read(body, read)


def _no_duplicate(body: str, key: str) -> None:
    """Raise ValueError when the one field a record is read for is given twice."""
    F.fields_read(body, _READ[key] if key in _READ else frozenset((key,)))


def _avc(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    rtype = head["type"]
    m = _AVC.search(body)
    if m is None:
        if not _AVC_RESULT.search(body):
            # AppArmor's type=AVC records and non-avc USER_AVC text are not denials.
            return GenericRecord(**head, fields=tuple(F.split_fields(body).items()))
        return Skipped(source, lineno, f"malformed {rtype}: no '{{ perms }}'", head["text"][:80])
    if "{" in m.group("perms") or (body[m.end("perms"):m.end("perms") + 1] == "}"
                                   and _BRACE_AFTER.match(body, m.end("perms") + 1)):
        return Skipped(source, lineno, f"malformed {rtype}: a brace inside the permission list",
                       head["text"][:80])
    rest = m.group("rest")
    if rtype == "USER_AVC" or rtype.startswith("USER"):
        # USER_AVC: the avc text sits inside msg='...'; cut at its closing quote.
        q = rest.rfind("'")
        if q >= 0:
            rest = rest[:q]
    f = _fields(rest, _READ["AVC"])
    perms = tuple(sorted(set(m.group("perms").split())))
    scon = Context.parse(_unq(f.get("scontext", "")) or "")
    tcon = Context.parse(_unq(f.get("tcontext", "")) or "")
    tclass = _unq(f.get("tclass", "")) or ""
    missing = [n for n, v in (("perms", perms), ("scontext", scon), ("tcontext", tcon), ("tclass", tclass)) if not v]
    if missing or scon is None or tcon is None:  # (a Context is never falsy: None is in missing)
        return Skipped(source, lineno, f"truncated {rtype}: missing {', '.join(missing)}", head["text"][:80])
    perm_flag = f.get("permissive")
    port = None
    for key in ("src", "dest", "lport", "dport", "sport"):
        port = F.to_int(f.get(key))
        if port is not None:
            break
    ioctl = f.get("ioctlcmd")
    return AvcRecord(
        **head,
        kind="USER_AVC" if rtype == "USER_AVC" else "AVC",
        granted=m.group("result") == "granted",
        perms=perms,
        scontext=scon,
        tcontext=tcon,
        tclass=tclass,
        permissive=None if perm_flag is None else perm_flag == "1",
        pid=F.to_int(f.get("pid")),
        comm=_untrusted(f, "comm", interpreted),
        exe=_untrusted(f, "exe", interpreted),
        name=_untrusted(f, "name", interpreted),
        path=_untrusted(f, "path", interpreted),
        dev=_unq(f.get("dev")) or None,
        ino=F.decimal(f.get("ino")),
        port=port,
        ioctlcmd=F.to_int(ioctl[2:] if ioctl and ioctl[:2].lower() == "0x" else ioctl, 16),
        capability=F.to_int(f.get("capability")),
        fields=tuple((k, _unq(v) or "") for k, v in f.items()),
    )


def _selinux_err(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    text = body
    if head["type"].startswith("USER"):
        i = body.find("msg='")
        if i >= 0:
            text = body[i + 5:].rstrip("'")
    f = {k: _unq(v) or "" for k, v in _fields(text, _READ["SELINUX_ERR"]).items()}
    inv = _INVALID_CTX.search(text)
    perms = tuple(sorted(set(p for p in f.get("perms", "").split(",") if p)))
    return SelinuxErrRecord(
        **head,
        kind=head["type"],
        message=text.strip(),
        op=f.get("op") or (text.split(":", 1)[0].strip() if ":" in text.split(" ", 1)[0] else None),
        reason=f.get("reason"),
        scontext=Context.parse(f.get("scontext", "")),
        tcontext=Context.parse(f.get("tcontext", "")),
        tclass=f.get("tclass"),
        perms=perms,
        invalid_context=inv.group(1) if inv else None,
    )


def _exit_value(value: str | None) -> int | None:
    if value is None:
        return None
    n = F.leading_int(value)
    if n is not None:
        return n
    name = value.split("(", 1)[0]
    code = getattr(errno, name, None)
    return -code if isinstance(code, int) else None


def _syscall(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    f = _fields(body, _READ["SYSCALL"])
    arch = f.get("arch")
    sc = f.get("syscall")
    nr = F.to_int(sc)
    name = None
    if nr is None and sc:
        name = sc
        if arch:
            nr = _syscall_number(arch, sc)
    elif nr is not None and arch:
        name = _syscall_name(arch, nr)
    success = f.get("success")
    return SyscallRecord(
        **head,
        arch=arch,
        syscall_nr=nr,
        syscall=name,
        success=None if success is None else success == "yes",
        exit=_exit_value(f.get("exit")),
        pid=F.to_int(f.get("pid")),
        ppid=F.to_int(f.get("ppid")),
        uid=f.get("uid"),
        comm=_untrusted(f, "comm", interpreted),
        exe=_untrusted(f, "exe", interpreted),
        subj=Context.parse(_unq(f.get("subj", "")) or ""),
        key_=_unq(f.get("key")),
        items=F.to_int(f.get("items")),
    )


def _path(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    f = _fields(body, _READ["PATH"])
    return PathRecord(
        **head,
        item=F.to_int(f.get("item")),
        name=_untrusted(f, "name", interpreted),
        nametype=_unq(f.get("nametype")) or None,
        obj=Context.parse(_unq(f.get("obj", "")) or ""),
        inode=F.decimal(f.get("inode")),
        dev=_unq(f.get("dev")) or None,
        mode=f.get("mode"),
    )


def _cwd(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    _no_duplicate(body, "CWD")
    if interpreted:
        i = body.find("cwd=")
        return CwdRecord(**head, cwd=body[i + 4:].strip() if i >= 0 else None)
    f = _fields(body)
    return CwdRecord(**head, cwd=_untrusted(f, "cwd", interpreted))


def _proctitle(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    _no_duplicate(body, "PROCTITLE")
    i = body.find("proctitle=")
    if i < 0:
        return ProctitleRecord(**head)
    value = body[i + 10:].strip()
    if interpreted:
        return ProctitleRecord(**head, argv=tuple(value.split(" ")) if value else ())
    if value[:1] == '"':
        return ProctitleRecord(**head, argv=F.decode_proctitle(value[1:].split('"', 1)[0], True))
    return ProctitleRecord(**head, argv=F.decode_proctitle(value.split(" ", 1)[0], False))


def _sockaddr(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    _no_duplicate(body, "SOCKADDR")
    i = body.find("saddr=")
    value = body[i + 6:].strip() if i >= 0 else ""
    if value.startswith("{"):
        f = dict(_SADDR_I.findall(value))
        fam = f.get("saddr_fam") or f.get("fam")
        addr = f.get("laddr") or f.get("path")
        return SockaddrRecord(**head, family=fam, addr=addr, port=F.to_int(f.get("lport")))
    family, addr, port = F.decode_saddr(value.split(" ", 1)[0])
    return SockaddrRecord(**head, family=family, addr=addr, port=port)


def _avc_path(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    f = _fields(body, _READ["AVC_PATH"])
    return AvcPathRecord(**head, path=_untrusted(f, "path", interpreted))


def _policy_load(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    f = _fields(body)
    return PolicyLoadRecord(**head, auid=f.get("auid"), ses=f.get("ses"))


def _mac_status(head: _Head, body: str, interpreted: bool, source: str, lineno: int) -> Parsed:
    f = _fields(body)

    def flag(k: str) -> bool | None:
        v = f.get(k)
        return None if v is None else v == "1"

    return MacStatusRecord(**head, enforcing=flag("enforcing"), old_enforcing=flag("old_enforcing"))


_BUILDERS: Mapping[str, Callable[[_Head, str, bool, str, int], Parsed]] = MappingProxyType({
    "AVC": _avc,
    "USER_AVC": _avc,
    "SELINUX_ERR": _selinux_err,
    "USER_SELINUX_ERR": _selinux_err,
    "SYSCALL": _syscall,
    "PATH": _path,
    "CWD": _cwd,
    "PROCTITLE": _proctitle,
    "SOCKADDR": _sockaddr,
    "AVC_PATH": _avc_path,
    "MAC_POLICY_LOAD": _policy_load,
    "MAC_STATUS": _mac_status,
})
