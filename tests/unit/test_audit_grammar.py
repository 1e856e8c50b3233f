"""The C accelerator reads records exactly as :mod:`avcfix.audit.grammar` says.

``avcfix/audit/_cscan.c`` hand-codes the bytes patterns of the plain raw
form (the grammar's docstring names the C function that mirrors each). Here
the grammar's own edge cases (quoted, unquoted and hex-encoded values,
``msg='...'`` user records, ``node=``/``host=`` prefixes, GS-separated
ENRICHED fields, truncated headers, ``ausearch -i`` ids, odd spacing) go to
the patterns and to the C functions, and every answer must be the same:

- ``scan_block`` (``raw_header`` and the denial marks) on a one-line block
  answers exactly when ``RAW_HEADER_KEY`` finds the line's one record
  header, with the key it captures, and marks it exactly when a
  ``DENIAL_NEEDLES`` needle is in it;
- ``event_fields`` (``header``, ``avc_fields``/``kv_fields``,
  ``syscall_fields``, ``search_value``...) gives, for each record, the
  groups of ``FAST_HEADER``, ``FAST_AVC``/``FAST_KV``, ``SYSCALL_HEAD`` and
  ``COMM_EXE``, ``PATH_NAME``, ``CWD``, ``PROCTITLE`` and ``SADDR``, and
  declines where they do not match or a GS byte is in the record;
- ``event_denials`` (``path_item_of``) declines a PATH body exactly when
  ``PATH_BODY`` does not match it in full, and otherwise reads the fields
  ``PATH_FIELD`` finds.

The expected answers are computed here from the grammar's patterns alone
(not from the Python fast path, which uses the same patterns), so a pattern
changed on one side only fails. Skipped when the accelerator is not built.
"""

from __future__ import annotations

import itertools

import pytest

from avcfix.audit import grammar as G
from avcfix.audit.accel import cscan

if cscan is None:
    pytest.skip("the C accelerator avcfix.audit._cscan is not built (or AVCFIX_PURE=1 is set)",
                allow_module_level=True)

from avcfix.audit import fastpath  # noqa: E402  (configures the C build)
from avcfix.audit import fields as F  # noqa: E402
from avcfix.audit.fields import split_fields  # noqa: E402

ID = b"1700000000.123:42"
HDR = b"type=%s msg=audit(" + ID + b"): "

AVC_BODY = (b'avc:  denied  { read write } for  pid=7 comm="cat" name="f" dev="sda1" ino=5 '
            b"scontext=system_u:system_r:a_t:s0 tcontext=system_u:object_r:b_t:s0 tclass=file permissive=0")

#: AVC bodies: the kernel's form and its near misses.
AVC_BODIES = [
    AVC_BODY,
    AVC_BODY.replace(b'comm="cat"', b"comm=636174"),                      # hex-encoded value
    AVC_BODY.replace(b'name="f"', b'name="a b=c"'),                       # key=value inside quotes
    AVC_BODY.replace(b'name="f"', b'name="f'),                            # quote left open
    AVC_BODY.replace(b'name="f"', b"name=f'g"),                           # a single quote, bare
    AVC_BODY.replace(b'name="f"', b"name={f}"),                           # braced value
    AVC_BODY.replace(b'name="f"', b"name="),                              # empty value
    AVC_BODY.replace(b"pid=7", b"a-pid=7"),                               # key after a dash
    AVC_BODY.replace(b"pid=7", b"Pid=7"),                                 # upper-case key
    AVC_BODY.replace(b"pid=7", b"x.pid=7"),                               # key after a dot
    AVC_BODY.replace(b"pid=7", b"pid=7 pid=8"),                           # a read key twice
    AVC_BODY.replace(b"permissive=0", b"permissive=0 laddr=10.0.0.1 lport=22"),
    AVC_BODY.replace(b"{ read write }", b"{ read { write }"),              # brace in the permissions
    AVC_BODY.replace(b"{ read write }", b"{ read write } }"),
    AVC_BODY.replace(b"{ read write }", b"{ }"),
    AVC_BODY.replace(b"avc:  denied", b"avc: denied"),                    # odd spacing
    AVC_BODY.replace(b"avc:  denied", b"avc:  granted"),
    AVC_BODY.replace(b"for  pid", b"for pid"),
    AVC_BODY.replace(b"tclass=file", b"tclass=file\tx=1"),                 # tab separator
    AVC_BODY + b" \x1dAUID=\"root\" UID=\"root\"",                         # GS-separated ENRICHED fields
    AVC_BODY + b"\r",
    AVC_BODY.replace(b"comm=\"cat\"", b"comm=\"c\xc3\xa9t\""),             # UTF-8 inside quotes
    AVC_BODY.replace(b"comm=\"cat\"", b"comm=\"c\xfft\""),                 # invalid UTF-8
    AVC_BODY[:40],                                                         # truncated body
]

#: Other record lines of the same event (header included).
OTHER_RECORDS = [
    HDR % b"SYSCALL" + b'arch=c000003e syscall=257 success=no exit=-13 a0=1 items=1 ppid=1 pid=7 '
                       b'auid=0 uid=0 comm="cat" exe="/usr/bin/cat" key=(null)',
    HDR % b"SYSCALL" + b"arch=c000003e syscall=257 per=400000 success=yes exit=3 a0=1 items=1 ppid=1 pid=7 "
                       b"comm=636174 exe=2F62696E2F636174",
    HDR % b"SYSCALL" + b'arch=C000003E syscall=257 success=no exit=-13 pid=7 comm="cat" exe="/x"',
    HDR % b"SYSCALL" + b'arch=c000003e syscall=257 success=no exit=EACCES pid=7 comm="cat" exe="/x"',
    HDR % b"SYSCALL" + b'arch=c000003e syscall=openat success=no exit=-13 pid=7 comm="cat" exe="/x"',
    HDR % b"SYSCALL" + b'arch=c000003e syscall=257 success=no exit=-13 pid=7 exe="/x" comm="cat"',
    HDR % b"SYSCALL" + b'arch=c000003e syscall=257 success=no exit=-13 pid=x7 comm="cat" exe="/x"',
    HDR % b"PATH" + b'item=0 name="/etc/f" inode=5 dev=08:01 mode=0100644 ouid=0 nametype=NORMAL '
                    b'obj=system_u:object_r:b_t:s0 cap_fp=0',
    HDR % b"PATH" + b"item=1 name=2F746D702F6120620A nametype=CREATE",
    HDR % b"PATH" + b"item=2 name=(null) nametype=PARENT",
    HDR % b"PATH" + b'item=3 name="rel/f" nametype=NORMAL',
    HDR % b"PATH" + b"item=4 name=f nametype=NORMAL",                      # bare, not hex
    HDR % b"PATH" + b'item=5 name="/f" nametype={x}',                      # a brace in a value
    HDR % b"PATH" + b'item=6 name="/f"  nametype=NORMAL',                  # two spaces
    HDR % b"PATH" + b'item=7 name="/f" mode=0100644x',
    HDR % b"PATH" + b'name="/f" item=8',
    HDR % b"CWD" + b'cwd="/root"',
    HDR % b"CWD" + b"cwd=2F746D702F6120620A",
    HDR % b"CWD" + b"cwd=/root",
    HDR % b"PROCTITLE" + b"proctitle=636174002F6574632F66",
    HDR % b"PROCTITLE" + b'proctitle="cat"',
    HDR % b"PROCTITLE" + b"proctitle=(null)",
    HDR % b"SOCKADDR" + b"saddr=02000016C0A800010000000000000000",
    HDR % b"SOCKADDR" + b"saddr={ saddr_fam=inet laddr=10.0.0.1 lport=22 }",
    HDR % b"SOCKADDR" + b"saddr=",
    HDR % b"SOCKADDR" + b"saddr=02000016c0a80001",                        # lower-case hex
    HDR % b"CWD" + b'cwd= "/root"',
    HDR % b"SYSCALL" + b'arch=c000003e syscall=257 success=no exit=-13x pid=7 comm="cat" exe="/x"',
    HDR % b"USER_AVC" + b"pid=1 uid=0 msg='avc:  denied  { status } for auid=0 uid=0 "
                        b"scontext=u:r:a_t:s0 tcontext=u:r:b_t:s0 tclass=system exe=\"/x\"'",
    HDR % b"SELINUX_ERR" + b"op=security_compute_sid invalid_context=u:r:x_t:s0 scontext=a tcontext=b tclass=c",
    HDR % b"MAC_STATUS" + b"enforcing=1 old_enforcing=0",
    HDR % b"PROCTITLE" + b"proctitle=6361 \x1dAUID=\"root\"",
]

#: Header variants of an AVC record.
HEADERS = [
    HDR % b"AVC",
    b"type=AVC msg=audit(" + ID + b"):",                                   # no space after the colon
    b"type=AVC msg=audit(" + ID + b") ",                                  # no colon
    b"node=web1 type=AVC msg=audit(" + ID + b"): ",                       # node prefix
    b"host=web1 type=AVC msg=audit(" + ID + b"): ",
    b"type=1400 msg=audit(" + ID + b"): ",                                # numeric type
    b"type=avc msg=audit(" + ID + b"): ",
    b"type=AVC_9 msg=audit(" + ID + b"): ",
    b"type=AVC audit(" + ID + b"): ",                                     # no msg=
    b"type=AVC  msg=audit(" + ID + b"): ",
    b"type=AVC msg=audit(11/14/2023 10:13:20.123:42) : ",                 # ausearch -i
    b"type=AVC msg=audit(1700000000:42): ",                               # no fraction
    b"type=AVC msg=audit(1700000000.123): ",                              # no serial
    b"type=AVC msg=audit(1700000000.123:42",                              # truncated headers
    b"type=AVC msg=audit(1700000000.",
    b"type=AVC msg=audit(",
    b"type=AVC msg=",
    b"type=",
    b"msg=audit(" + ID + b"): ",
    b"audit(" + ID + b"): ",
    b"Nov 14 10:13:20 host kernel: audit: type=1400 audit(" + ID + b"): ",  # syslog prefix
    b"type=AVC msg=audit(" + ID + b"): type=AVC msg=audit(" + ID + b"): ",  # two headers
    b"type=AVC msg=audit(1700000000.123:42x): ",
    b"type=AVC msg=audit(" + b"1" * 11 + b".1:42): ",                       # over 10 seconds digits
    b"type=AVC msg=audit(1.1:" + b"9" * 21 + b"): ",                        # over 20 serial digits
]

LINES = [h + b for h, b in itertools.product(HEADERS, AVC_BODIES[:3])] + [HDR % b"AVC" + b for b in AVC_BODIES] \
    + OTHER_RECORDS


# ------------------------------------------------------------------ scan_block: raw_header and the marks

@pytest.mark.parametrize("line", LINES)
def test_raw_header_and_marks(line):
    block = b"\n" + line + b"\n"
    found = G.RAW_HEADER_KEY.findall(block)
    plain = len(found) == 1 and block.count(b"audit(") == 1 and b"\n" not in line
    got = cscan.scan_block(block, len(block), 1, set(), True)
    assert (got is not None) == plain, (line, found, got)
    if got is None:
        return
    nlines, seen, marks, hits = got
    key = found[0]
    assert (nlines, seen) == (1, {key}), line
    marked = any(n in line for n in G.DENIAL_NEEDLES)
    assert marks == ({key} if marked else set()), line
    assert hits == ({key: [(1, line)]} if marked else {}), line


def test_the_edge_cases_reach_both_answers():
    """Not vacuous: some lines are plain raw records (C answers), many are not."""
    answers = [cscan.scan_block(b"\n" + ln + b"\n", len(ln) + 2, 1, set(), True) is not None for ln in LINES]
    assert 40 < sum(answers) < len(answers) - 40, sum(answers)


# ------------------------------------------------------------------ event_fields: the fast grammar

def expected_fields(raw: list[tuple[int, bytes]]) -> tuple | None:
    """What the grammar's fast patterns read from an event (``None``: they decline it).

    Only the pattern matches and the rules the grammar states (one event id,
    no GS byte, no CR, an even count of quotes, the kernel's field order);
    no decoding (the C returns raw bytes); event ids with more digits than
    the typed path accepts are declined."""
    first = None
    avcs, paths = [], []
    sc = cwd = title = saddr = None
    for lineno, piece in raw:
        m = G.FAST_HEADER.match(piece)
        if m is None or G.ENRICHED_SEP in piece or b"\r" in piece or piece.count(b'"') % 2:
            return None
        if first is None:
            first = m
        elif m.group(2, 3) != first.group(2, 3):
            return None
        rtype = m.group(1)
        needles = fastpath._REPEATS.get(rtype)
        if needles is not None and fastpath.repeats_a_field(piece, needles):
            return None
        body = piece[m.end():]
        if rtype == b"AVC":
            am = G.FAST_AVC.match(body)
            if am is None:
                return None
            avcs.append((lineno, body, am.group(1), dict(G.FAST_KV.findall(am.group(2)))))
        elif rtype == b"SYSCALL":
            if sc is not None:
                return None
            sc = body
        elif rtype == b"PATH":
            pm = G.PATH_NAME.search(piece, m.end())
            if pm is None:
                return None
            paths.append((int(pm.group(1)), pm.group(2), body))
        elif rtype in (b"CWD", b"PROCTITLE"):
            rx = G.CWD if rtype == b"CWD" else G.PROCTITLE
            vm = rx.search(piece)
            if vm is None or (cwd if rtype == b"CWD" else title) is not None:
                return None
            if rtype == b"CWD":
                cwd = vm.group(1)
            else:
                title = vm.group(1)
        elif rtype == b"SOCKADDR":
            sm = G.SADDR.search(piece)
            saddr = sm.group(1) if sm else b""
        elif rtype in (b"USER_AVC", b"SELINUX_ERR", b"USER_SELINUX_ERR", b"AVC_PATH"):
            return None
    if (not avcs or len(first.group(3)) > F.MAX_SERIAL_DIGITS
            or first.group(2).index(b".") > F.MAX_SECONDS_DIGITS):
        return None
    syscall = None
    if sc is not None:
        hm = G.SYSCALL_HEAD.match(sc)
        if hm is None:
            return None
        i = sc.find(b" pid=", hm.end() - 1)
        j = sc.find(b" ", i + 5) if i >= 0 else -1
        if j < 0 or not sc[i + 5:j].isdigit():
            return None
        k = sc.find(b" comm=", j)
        cm = G.COMM_EXE.match(sc, k + 1) if k >= 0 else None
        if cm is None:
            return None
        syscall = (hm.group(1), int(hm.group(2)), hm.group(3) == b"yes", int(hm.group(4)), int(sc[i + 5:j]),
                   cm.group(1), cm.group(2))
    return (float(first.group(2)), int(first.group(3)), syscall, cwd, paths, title, saddr, avcs)


def events() -> list[list[tuple[int, bytes]]]:
    """Every header variant with the kernel AVC body, every AVC body alone,
    and the plain AVC record with each other record (before and after it)."""
    plain = HDR % b"AVC" + AVC_BODY
    out = [[(1, h + AVC_BODY)] for h in HEADERS] + [[(1, HDR % b"AVC" + b)] for b in AVC_BODIES]
    for rec in OTHER_RECORDS:
        out.append([(1, plain), (2, rec)])
        out.append([(1, rec), (2, plain)])
    out.append([(n + 1, rec) for n, rec in enumerate([plain, *OTHER_RECORDS[:1], *OTHER_RECORDS[7:11],
                                                      OTHER_RECORDS[16], OTHER_RECORDS[19], OTHER_RECORDS[22]])])
    return out


@pytest.mark.parametrize("raw", events())
def test_event_fields_follow_the_fast_grammar(raw):
    want = expected_fields(raw)
    got = cscan.event_fields(raw)
    assert got == want, raw
    if got is not None:  # the same types too (an int is not a bool, bytes are not str)
        assert [type(v) for v in got] == [type(v) for v in want]


def test_event_fields_answer_often_enough():
    got = [cscan.event_fields(raw) is not None for raw in events()]
    assert 20 < sum(got) < len(got) - 20, sum(got)


# ------------------------------------------------------------------ event_denials: PATH_BODY

@pytest.mark.parametrize("path_record", [r for r in OTHER_RECORDS if b"type=PATH" in r])
def test_path_items_follow_path_body(path_record):
    raw = [(1, HDR % b"AVC" + AVC_BODY), (2, path_record)]
    body = path_record[len(HDR % b"PATH"):]
    plain = G.PATH_BODY.fullmatch(body) is not None and cscan.event_fields(raw) is not None
    got = cscan.event_denials(raw, "x.log", fastpath.Memo())
    assert (got is not None) == plain, path_record
    if got is None:
        return
    (item,) = got[0].items
    fields = dict(G.PATH_FIELD.findall(G.PATH_BODY.fullmatch(body).group(3)))
    assert item.item == int(G.PATH_BODY.fullmatch(body).group(1))
    assert item.nametype == (fields[b"nametype"].decode().strip('"') if b"nametype" in fields else None)
    assert item.inode == (int(fields[b"inode"]) if b"inode" in fields else None)
    mode = fields.get(b"mode", b"")
    assert item.mode == (int(mode, 8) if mode and set(mode) <= set(b"01234567") else None)


# ------------------------------------------------------------------ the fast grammar is a part of the typed one

#: ``a-pid=7`` and ``x.pid=7`` are here on purpose: the fast grammar once took
#: ``pid=7`` out of them (``\b`` holds after ``-`` and ``.``) where the typed
#: path reads the keys ``a-pid`` and ``x.pid``; both read the typed keys now.
@pytest.mark.parametrize("body", AVC_BODIES)
def test_fast_fields_read_as_the_typed_grammar_reads_them(body):
    """Where the C takes an AVC, each field it reads has the value the typed
    path's ``KV`` gives (quotes removed), so both paths see one record."""
    got = cscan.event_fields([(1, HDR % b"AVC" + body)])
    if got is None:
        return
    (_, _, _, fast) = got[7][0]
    typed = split_fields(body.decode("utf-8", "backslashreplace"))
    for key in (b"pid", b"comm", b"name", b"dev", b"ino", b"scontext", b"tcontext", b"tclass", b"permissive"):
        if key in fast:
            value = fast[key].decode("utf-8", "backslashreplace")
            assert typed.get(key.decode()) == (value[1:-1] if value[:1] == '"' else value), (body, key)
