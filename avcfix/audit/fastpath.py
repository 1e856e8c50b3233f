"""Fast denial building for the common case: a raw kernel AVC event.

Most denial events in a big log look the same: ``type=AVC`` records plus
SYSCALL, CWD, PATH, PROCTITLE (or SOCKADDR) records, each line starting with
``type=X msg=audit(SECS.MS:SERIAL):``. For those, :func:`fast_event_denials`
pulls the few fields a :class:`~avcfix.audit.model.Denial` needs straight
from the bytes, without building typed records. For anything else (node
prefixes, ausearch -i, ENRICHED, USER_AVC, SELINUX_ERR, AVC_PATH, a
truncated or unusual record...) it returns ``None`` and the caller uses the
typed path (:mod:`avcfix.audit.parse` -> :mod:`avcfix.audit.denials`).

Both paths give equal Denials; ``tests/integration/test_audit_fastpath.py`` checks that
on every corpus file and on generated logs. The patterns (the kernel's own
form of each record) are :mod:`avcfix.audit.grammar`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from types import EllipsisType
from typing import Literal, TypeVar

from avcfix.audit import fields as F
from avcfix.audit.accel import cscan as _cscan  # the C accelerator: None when it is not built
from avcfix.audit.fields import path_item_order, resolve_path
from avcfix.audit.grammar import COMM_EXE as _COMM_EXE
from avcfix.audit.grammar import CWD as _CWD
from avcfix.audit.grammar import ENRICHED_SEP as _GS
from avcfix.audit.grammar import FAST_AVC as _AVC
from avcfix.audit.grammar import FAST_HEADER as _HDR
from avcfix.audit.grammar import FAST_KV as _KV
from avcfix.audit.grammar import PATH_BODY as _PATH_BODY
from avcfix.audit.grammar import PATH_FIELD as _PATH_FIELD
from avcfix.audit.grammar import PATH_NAME as _PATH
from avcfix.audit.grammar import PROCTITLE as _PROCTITLE
from avcfix.audit.grammar import SADDR as _SADDR
from avcfix.audit.grammar import SYSCALL_HEAD as _SYSCALL_HEAD
from avcfix.audit.model import Context, Denial, PathItem
from avcfix.audit.scanner import RawEvent

_OCTAL_DIGITS = frozenset(b"01234567")

#: The fields the typed path reads (``b"key="``), per record type the fast
#: path takes: an event where one of them may appear twice in a record goes
#: to the typed path (which skips that record as malformed).
_REPEATS = {t.encode(): tuple(k.encode() + b"=" for k in sorted(F.READ_FIELDS[t]))
            for t in ("AVC", "SYSCALL", "PATH", "CWD", "PROCTITLE", "SOCKADDR")}
#: ASCII word characters (``\w`` of a bytes regex).
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
#: Seconds and serial digits of an event id the typed path accepts.
_MAX_SECONDS = F.MAX_SECONDS_DIGITS
_MAX_SERIAL = F.MAX_SERIAL_DIGITS

#: Record types that could change a Denial and that only the typed path reads.
_TYPED_ONLY = frozenset((b"USER_AVC", b"SELINUX_ERR", b"USER_SELINUX_ERR", b"AVC_PATH"))

#: A number with more digits than this makes the event go to the typed path
#: (``int()`` refuses thousands of digits).
MAX_DIGITS = 64

_PORT_KEYS = (b"src", b"dest", b"lport", b"dport", b"sport")

_K = TypeVar("_K")
_V = TypeVar("_V")

_c_event_denials: Callable[[RawEvent, str, Memo], list[Denial] | None] | None = None

#: The order of Denial's fields that the C build passes them in.
_DENIAL_FIELDS = ("kind", "node", "time", "serial", "scontext", "tcontext", "tclass", "perms", "permissive",
                  "pid", "comm", "exe", "syscall", "syscall_nr", "arch", "success", "exit", "name", "path",
                  "paths", "cwd", "proctitle", "port", "ioctlcmd", "capability", "items", "ino", "dev", "source",
                  "line", "records")
#: The order of PathItem's fields that the C build passes them in.
_PATH_ITEM_FIELDS = ("item", "name", "nametype", "inode", "dev", "mode", "otype")


def repeats_a_field(piece: bytes, needles: tuple[bytes, ...]) -> bool:
    """Whether a read field may appear twice in ``piece``: its ``key=``
    twice at a word start (``rb"(?<![A-Za-z0-9_])key="`` found twice),
    anywhere, inside quoted values too: a superset of what the typed
    grammar finds."""
    for needle in needles:
        if piece.count(needle) < 2:  # the common case, at C speed
            continue
        found = 0
        i = piece.find(needle)
        while i >= 0:
            if i == 0 or piece[i - 1] not in _WORD:
                found += 1
                if found > 1:
                    return True
            i = piece.find(needle, i + 1)
    return False


def decimal_value(raw: bytes | None) -> int | None:
    """:func:`avcfix.audit.fields.decimal` of raw bytes (``inode=``, ``ino=``)."""
    if raw is None or not 0 < len(raw) <= F.MAX_INODE_DIGITS or not raw.isdigit():
        return None
    return int(raw)


def octal_value(raw: bytes | None) -> int | None:
    """:func:`avcfix.audit.fields.octal` of raw bytes (``mode=``)."""
    if raw is None or not 0 < len(raw) <= F.MAX_MODE_DIGITS or not _OCTAL_DIGITS.issuperset(raw):
        return None
    return int(raw, 8)


def _text(value: bytes) -> str:
    """An untrusted value: quoted text, or hex to decode."""
    s = value.decode("utf-8", "backslashreplace")
    if s[:1] == '"':
        return s[1:-1]
    return F.decode_untrusted(s, False)


class Memo:
    """Per-scan memo of values that repeat across events (contexts, names).

    Owned by one scan (never module state) and bounded: each table is
    emptied when it reaches ``limit`` entries. One table per kind of value,
    keyed by the raw bytes, so that the C accelerator can read them too (it
    calls these methods for what it does not find).
    """

    __slots__ = ("contexts", "texts", "words", "syscalls", "proctitles", "perm_sets", "ranks", "sports", "values",
                 "otypes", "path_items", "limit")

    def __init__(self, limit: int = 4096) -> None:
        self.contexts: dict[bytes | None, Context | None] = {}
        self.texts: dict[bytes, str] = {}
        #: comm, exe and class: few distinct values, kept apart from the
        #: paths and names (many) so that those do not flush them: every
        #: group of a domain then shares one string.
        self.words: dict[bytes, str] = {}
        self.syscalls: dict[tuple[bytes, int], tuple[str | None, str]] = {}
        self.proctitles: dict[bytes, str | None] = {}
        self.perm_sets: dict[bytes, tuple[str, ...]] = {}
        self.ranks: dict[bytes, int] = {}
        self.sports: dict[bytes, int | None] = {}
        #: ``nametype=`` and ``dev=`` values (as logged, unquoted); ``obj=`` types.
        self.values: dict[bytes, str | None] = {}
        self.otypes: dict[bytes, str | None] = {}
        #: PATH record bodies -> PathItem (``None``: the typed path decides).
        #: A body whose name is relative maps to ``...`` and its item is
        #: under ``(body, cwd)``: the same body gives the same object.
        self.path_items: dict[bytes | tuple[bytes, str | None], PathItem | EllipsisType | None] = {}
        self.limit = limit

    def _put(self, d: dict[_K, _V], key: _K, value: _V) -> None:
        if len(d) >= self.limit:
            d.clear()
        d[key] = value

    def context(self, raw: bytes | None) -> Context | None:
        got: Context | None | Literal[False] = self.contexts.get(raw, False)
        if got is False:
            got = Context.parse(raw.decode("utf-8", "backslashreplace")) if raw else None
            self._put(self.contexts, raw, got)
        return got

    def text(self, raw: bytes) -> str:
        got = self.texts.get(raw)
        if got is None:
            got = _text(raw)
            self._put(self.texts, raw, got)
        return got

    def word(self, raw: bytes) -> str:
        """:meth:`text`, memoised in :attr:`words` (comm, exe, class)."""
        got = self.words.get(raw)
        if got is None:
            got = _text(raw)
            self._put(self.words, raw, got)
        return got

    def value(self, raw: bytes) -> str | None:
        """A short field value as logged (``nametype=``, ``dev=``): quotes
        removed as the typed path's ``_unq`` does, never hex-decoded;
        ``None`` when empty."""
        got: str | None | Literal[False] = self.values.get(raw, False)
        if got is False:
            s = raw.decode("utf-8", "backslashreplace")
            if s[:1] in ('"', "'"):
                s = s[1:-1] if len(s) > 1 and s[-1] == s[0] else s[1:]
            got = s or None
            self._put(self.values, raw, got)
        return got

    def otype(self, raw: bytes) -> str | None:
        """The type of an ``obj=`` context (``None`` when it is not one)."""
        got: str | None | Literal[False] = self.otypes.get(raw, False)
        if got is False:
            ctx = Context.parse(self.value(raw) or "")
            got = ctx.type if ctx is not None else None
            self._put(self.otypes, raw, got)
        return got

    def path_item(self, body: bytes, cwd: str | None) -> PathItem | None:
        """The PathItem of a PATH record's body (after its header), its name
        made absolute with ``cwd``; ``None`` when the body is not a plain one."""
        table = self.path_items
        got: PathItem | EllipsisType | None | Literal[False] = table.get(body, False)
        if got is ...:
            key = (body, cwd)
            got = table.get(key, False)
            if got is not False and got is not ...:  # a (body, cwd) key holds a PathItem or None
                return got
        elif got is not False:
            return got
        got, relative = path_item_of(body, cwd, self)
        if relative:
            self._put(table, body, ...)
            self._put(table, (body, cwd), got)
        else:
            self._put(table, body, got)
        return got

    def syscall(self, arch: bytes, nr: int) -> tuple[str | None, str]:
        key = (arch, nr)
        got = self.syscalls.get(key)
        if got is None:
            from avcfix.audit.syscalls import arch_name, syscall_name  # libaudit: only when needed

            a = arch.decode("utf-8", "backslashreplace")
            got = (syscall_name(a, nr), arch_name(a) or a)
            self._put(self.syscalls, key, got)
        return got

    def proctitle(self, raw: bytes) -> str | None:
        """The decoded command line of a ``proctitle=`` value (quoted or hex argv)."""
        got: str | None | Literal[False] = self.proctitles.get(raw, False)
        if got is False:
            v = raw.decode("utf-8", "backslashreplace")
            argv = F.decode_proctitle(v[1:-1], True) if v[:1] == '"' else F.decode_proctitle(v, False)
            got = " ".join(argv) or None
            self._put(self.proctitles, raw, got)
        return got

    def perms(self, raw: bytes) -> tuple[str, ...]:
        """The sorted, distinct permissions of the text inside an AVC's braces."""
        got = self.perm_sets.get(raw)
        if got is None:
            got = tuple(sorted(set(raw.decode("utf-8", "backslashreplace").split())))
            self._put(self.perm_sets, raw, got)
        return got

    def sport(self, raw: bytes) -> int | None:
        """The port of a SOCKADDR ``saddr=`` hex value (``None`` for other families)."""
        got: int | None | Literal[False] = self.sports.get(raw, False)
        if got is False:
            got = F.decode_saddr(raw.decode("ascii"))[2]
            self._put(self.sports, raw, got)
        return got

    def rank(self, rtype: bytes) -> int:
        got = self.ranks.get(rtype)
        if got is None:
            from avcfix.audit.correlate import record_rank  # the typed records: only for --raw

            got = record_rank(rtype.decode())
            self._put(self.ranks, rtype, got)
        return got


def path_item_of(body: bytes, cwd: str | None, memo: Memo) -> tuple[PathItem | None, bool]:
    """``(PathItem, whether its name was relative)`` of a PATH record's body
    (``(None, False)``: not a plain body, the typed path decides). The C
    build's ``path_item`` is this function's twin."""
    m = _PATH_BODY.fullmatch(body)
    if m is None:
        return None, False
    f = dict(_PATH_FIELD.findall(m.group(3)))
    raw_name = m.group(2)
    name: str | None = None
    relative = False
    if raw_name != b"(null)":
        n = memo.text(raw_name)
        if n and n != "(null)" and n != "?":
            if n[:1] == "/":
                name = n
            else:
                name = resolve_path(n, cwd)
                relative = True
    nametype = f.get(b"nametype")
    dev = f.get(b"dev")
    obj = f.get(b"obj")
    return PathItem(
        item=int(m.group(1)),
        name=name,
        nametype=memo.value(nametype) if nametype is not None else None,
        inode=decimal_value(f.get(b"inode")),
        dev=memo.value(dev) if dev is not None else None,
        mode=octal_value(f.get(b"mode")),
        otype=memo.otype(obj) if obj is not None else None,
    ), relative


def _number(raw: bytes, base: int) -> int | None:
    """``F.to_int`` of an untrusted AVC value (``ioctlcmd=``, ``capability=``)."""
    return F.to_int(raw.decode("utf-8", "backslashreplace"), base)


def ioctl_value(raw: bytes) -> int | None:
    """The number of an ``ioctlcmd=`` value (hex, with or without ``0x``)."""
    return _number(raw[2:] if raw[:2].lower() == b"0x" else raw, 16)


def capability_value(raw: bytes) -> int | None:
    """The number of a ``capability=`` value."""
    return _number(raw, 10)


def sort_path_items(items: list[PathItem]) -> list[PathItem]:
    """An event's PathItems in :func:`avcfix.audit.fields.path_item_order`."""
    return sorted(items, key=path_item_order)


def _avc_order(avc: AvcFields) -> tuple[bytes, int]:
    return (avc[1].rstrip(), avc[0])


def sort_avcs(avcs: list[AvcFields]) -> list[AvcFields]:
    """Several AVC records of one event in the typed path's order: by record text."""
    return sorted(avcs, key=_avc_order)


#: ``(arch, nr, success, exit, pid, comm, exe)`` of the SYSCALL record.
SyscallFields = tuple[bytes, int, bool, int, int, bytes, bytes]
#: ``(item, name, body)`` of a PATH record.
PathFields = tuple[int, bytes, bytes]
#: ``(line, body, perms, fields)`` of an AVC record: ``fields`` maps each key to its raw value.
AvcFields = tuple[int, bytes, bytes, dict[bytes, bytes]]
#: What :func:`event_fields` gives (and the C accelerator's ``event_fields``):
#: ``(time, serial, syscall, cwd, paths, proctitle, saddr, avcs)`` where
#: ``syscall`` is ``None`` or ``(arch, nr, success, exit, pid, comm, exe)``,
#: ``paths`` the ``(item, name, body)`` of the PATH records in record order
#: (``body``: the record after its header), and
#: each of ``avcs`` is ``(line, body, perms, fields)`` in record order. Every
#: value that needs decoding (names, contexts) is still the raw bytes.
EventFields = tuple[float, int, SyscallFields | None, bytes | None, list[PathFields], bytes | None, bytes | None,
                    list[AvcFields]]
#: ``(rank, item, record)`` of every record of an event (:func:`event_fields`'s ``texts``).
RecordTexts = list[tuple[int, int, bytes]]


def event_fields(raw: RawEvent, texts: RecordTexts | None = None, memo: Memo | None = None) -> EventFields | None:
    """The fields of a plain raw AVC event, still undecoded; ``None`` when it is not one.

    With ``texts`` (a list), ``(rank, item, record)`` of every record is
    appended to it, for ``Denial.records`` (``memo`` ranks the record types).
    """
    if texts is not None and memo is None:
        memo = Memo()
    avcs: list[AvcFields] = []
    syscall = cwd = proctitle = saddr = None
    syscall_at = 0
    paths: list[PathFields] = []
    first = None
    hdr_match = _HDR.match
    for lineno, piece in raw:
        m = hdr_match(piece)
        if m is None or _GS in piece or b"\r" in piece or piece.count(b'"') % 2:
            return None
        if first is None:
            first = m
        elif m.group(2, 3) != first.group(2, 3):
            return None
        rtype = m.group(1)
        item = 0
        needles = _REPEATS.get(rtype)
        if needles is not None and repeats_a_field(piece, needles):
            return None
        if rtype == b"AVC":
            body = piece[m.end():]
            am = _AVC.match(body)
            if am is None:
                return None  # granted, odd spacing, truncated: the typed path decides
            avcs.append((lineno, body, am.group(1), dict(_KV.findall(am.group(2)))))
        elif rtype == b"SYSCALL":
            if syscall is not None:
                return None
            syscall = piece
            syscall_at = m.end()
        elif rtype == b"PATH":
            pm = _PATH.search(piece, m.end())
            if pm is None:
                return None
            if len(pm.group(1)) > MAX_DIGITS:
                return None
            item = int(pm.group(1))
            paths.append((item, pm.group(2), piece[m.end():]))
        elif rtype == b"CWD":
            if cwd is not None:
                return None
            cm = _CWD.search(piece)
            if cm is None:
                return None
            cwd = cm.group(1)
        elif rtype == b"PROCTITLE":
            if proctitle is not None:
                return None
            pm = _PROCTITLE.search(piece)
            if pm is None:
                return None
            proctitle = pm.group(1)
        elif rtype == b"SOCKADDR":
            if saddr is not None:
                return None
            sm = _SADDR.search(piece)
            saddr = sm.group(1) if sm is not None else b""
        elif rtype in _TYPED_ONLY:
            return None
        if texts is not None and memo is not None:  # (memo is set when texts is)
            texts.append((memo.rank(rtype), item, piece.rstrip()))
    if (not avcs or first is None or len(first.group(3)) > _MAX_SERIAL
            or first.group(2).index(b".") > _MAX_SECONDS):
        return None
    sc = None
    if syscall is not None:
        # The kernel's order: arch syscall [per] success exit a0..a3 items ppid
        # pid ... comm exe. Anything else goes to the typed path.
        sm = _SYSCALL_HEAD.match(syscall, syscall_at)
        if sm is None:
            return None
        i = syscall.find(b" pid=", sm.end() - 1)
        j = syscall.find(b" ", i + 5) if i >= 0 else -1
        if j < 0 or not syscall[i + 5:j].isdigit():
            return None
        k = syscall.find(b" comm=", j)
        cm = _COMM_EXE.match(syscall, k + 1) if k >= 0 else None
        if cm is None:
            return None
        if max(len(sm.group(2)), len(sm.group(4)), j - i - 5) > MAX_DIGITS:
            return None
        sc = (sm.group(1), int(sm.group(2)), sm.group(3) == b"yes", int(sm.group(4)),
              int(syscall[i + 5:j]), cm.group(1), cm.group(2))
    return (float(first.group(2)), int(first.group(3)), sc, cwd, paths, proctitle, saddr, avcs)


def fast_event_denials(raw: RawEvent, source: str, memo: Memo | None = None, *,
                       records: bool = True) -> list[Denial] | None:
    """Denials of a plain raw AVC event, or ``None`` when it is not one.

    ``records=False`` leaves ``Denial.records`` empty (it is only for
    ``--raw`` and bundles) and saves decoding every record of the event;
    the C accelerator's ``event_denials`` (this function's twin for that
    case) then does the work when it is built.
    """
    if memo is None:
        memo = Memo()
    if not records and _c_event_denials is not None:
        got = _c_event_denials(raw, source, memo)
        if got is not None:
            return got
    texts: RecordTexts | None = [] if records else None
    fields = event_fields(raw, texts, memo)
    if fields is None:
        return None
    return build_denials(fields, source, memo, texts)


def build_denials(fields: EventFields, source: str, memo: Memo, texts: RecordTexts | None = None) -> list[Denial] | None:
    """The Denials of an event's fields (``None``: the typed path decides)."""
    time, serial_nr, sc, cwd, paths, proctitle, saddr, avcs = fields

    # Event context, as avcfix.audit.denials builds it.
    pid = comm = exe = sc_name = sc_nr = arch = success = exit_ = None
    if sc is not None:
        raw_arch, sc_nr, success, exit_, pid, raw_comm, raw_exe = sc
        sc_name, arch = memo.syscall(raw_arch, sc_nr)
        comm = memo.word(raw_comm)
        exe = memo.word(raw_exe)
    cwd_text = memo.text(cwd) if cwd is not None else None
    resolved: list[str] = []
    items: tuple[PathItem, ...] = ()
    if paths:
        if len(paths) > 1:
            paths = sorted(paths)
        got = []
        for _, _name, body in paths:
            pi = memo.path_item(body, cwd_text)
            if pi is None:
                return None
            got.append(pi)
        items = tuple(sort_path_items(got) if len(got) > 1 else got)
        for _, name, _body in paths:
            if name == b"(null)":
                continue
            n = memo.text(name)
            if n in ("(null)", "?") or not n:
                continue
            full = n if n[:1] == "/" else resolve_path(n, cwd_text)
            if full not in resolved:
                resolved.append(full)
    title = memo.proctitle(proctitle) if proctitle is not None else None
    sport = memo.sport(saddr) if saddr else None
    kept: tuple[str, ...] = ()
    if texts is not None:
        texts.sort()
        kept = tuple([t[2].decode("utf-8", "backslashreplace").rstrip() for t in texts])

    out: list[Denial] = []
    if len(avcs) > 1:
        avcs = sort_avcs(avcs)
    for lineno, _body, raw_perms, f in avcs:
        scon = memo.context(f.get(b"scontext"))
        tcon = memo.context(f.get(b"tcontext"))
        raw_class = f.get(b"tclass", b"")
        perms = memo.perms(raw_perms)
        if scon is None or tcon is None or not raw_class or not perms or raw_class[:1] == b'"':
            return None
        port = None
        for key in _PORT_KEYS:
            v = f.get(key)
            if v is not None and v.isdigit():
                if len(v) > MAX_DIGITS:
                    return None
                port = int(v)
                break
        if port is None:
            port = sport
        avc_pid = f.get(b"pid")
        if avc_pid is not None and len(avc_pid) > MAX_DIGITS:
            return None
        avc_name = f.get(b"name")
        path = f.get(b"path")
        path_s = memo.text(path) if path is not None else None
        avc_comm = f.get(b"comm")
        avc_exe = f.get(b"exe")
        ioctl = f.get(b"ioctlcmd")
        cap = f.get(b"capability")
        dev = f.get(b"dev")
        out.append(Denial(
            kind="AVC",
            node=None,
            time=time,
            serial=serial_nr,
            scontext=scon,
            tcontext=tcon,
            tclass=memo.word(raw_class),
            perms=perms,
            permissive=f.get(b"permissive") == b"1",
            pid=int(avc_pid) if avc_pid is not None and avc_pid.isdigit() else pid,
            comm=(memo.word(avc_comm) if avc_comm else None) or comm,
            exe=(memo.word(avc_exe) if avc_exe else None) or exe,
            syscall=sc_name,
            syscall_nr=sc_nr,
            arch=arch,
            success=success,
            exit=exit_,
            name=memo.text(avc_name) if avc_name is not None else None,
            path=path_s or None,
            paths=tuple(resolved + [path_s]) if path_s and path_s not in resolved else tuple(resolved),
            cwd=cwd_text,
            proctitle=title,
            port=port,
            ioctlcmd=ioctl_value(ioctl) if ioctl is not None else None,
            capability=capability_value(cap) if cap is not None else None,
            items=items,
            ino=decimal_value(f.get(b"ino")),
            dev=memo.value(dev) if dev is not None else None,
            source=source,
            line=lineno,
            records=kept,
        ))
    return out


def _use_c() -> None:
    global _c_event_denials
    from dataclasses import fields

    if (_cscan is None or tuple(f.name for f in fields(Denial)) != _DENIAL_FIELDS
            or tuple(f.name for f in fields(PathItem)) != _PATH_ITEM_FIELDS
            or hasattr(Denial, "__post_init__") or hasattr(PathItem, "__post_init__")):
        return
    try:
        _cscan.configure(Denial, _DENIAL_FIELDS, resolve_path, sort_avcs, ioctl_value, capability_value,
                         PathItem, _PATH_ITEM_FIELDS, sort_path_items)
    except TypeError:  # Denial is no longer a plain slots dataclass: stay in Python
        return
    _c_event_denials = _cscan.event_denials


_use_c()


def c_event_denials() -> Callable[[RawEvent, str, Memo], list[Denial] | None] | None:
    """The C build of :func:`fast_event_denials` with ``records=False``
    (``None`` when the accelerator is not there): ``f(raw, source, memo)``."""
    return _c_event_denials
