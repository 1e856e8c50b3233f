"""The kernel's object evidence in every Denial: PATH items and the AVC's ino=/dev=.

Each event goes through the three scanner paths: the C build (``records=False``
when the accelerator is built), the Python fast path (``records=True``) and
the typed path (``fast=False``); they must give equal Denials, and the values
are checked against the records by hand (the kernel's ``audit_log_name``
writes ``inode=%lu dev=%02x:%02x mode=%#ho ... obj=CONTEXT nametype=X``, so
``mode=040755`` is the octal 0o40755).

The PATH records of the first events are real: taken from
../shared/corpus/wazuh_auditd_ini_selected.log (PARENT + CREATE, a touch of a
new file) and ../shared/corpus/golibaudit_apparmor_avc_ubuntu1604.log (PARENT,
DELETE, a ``(null)`` name); those logs have no SELinux AVC in these events, so
an AVC record of the same shape as the corpus's is added.
"""

from __future__ import annotations

import dataclasses
import pickle

from avcfix.audit import fastpath
from avcfix.audit.accel import cscan
from avcfix.audit.api import ScanStats, events_to_denials
from avcfix.audit.group import GroupAccumulator
from avcfix.audit.model import PathItem

ID = "1479982525.380:50"


def event(*bodies: str, id_: str = ID) -> list[tuple[int, bytes]]:
    """A raw event: ``("TYPE", "body")`` pairs -> ``(line, record bytes)``."""
    return [(n, f"type={t} msg=audit({id_}): {b}".encode()) for n, (t, b) in enumerate(bodies, 1)]


AVC_CREATE = ("AVC", 'avc:  denied  { create } for  pid=3333 comm="touch" name="malware.py" dev="ca:02" '
                     "ino=399852 scontext=unconfined_u:unconfined_r:unconfined_t:s0 "
                     "tcontext=unconfined_u:object_r:auditd_log_t:s0 tclass=file permissive=0")
SYSCALL = ("SYSCALL", "arch=c000003e syscall=2 success=yes exit=3 a0=7ffedc40d83b a1=941 a2=1b6 "
                      "a3=7ffedc40cce0 items=2 ppid=432 pid=3333 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 "
                      'egid=0 sgid=0 fsgid=0 tty=pts0 ses=2 comm="touch" exe="/bin/touch" key="audit-wazuh-w"')
CWD = ("CWD", 'cwd="/var/log/audit"')
# wazuh_auditd_ini_selected.log, event 1479982525.380:50 (verbatim bodies)
PARENT = ("PATH", 'item=0 name="/var/log/audit/tmp_directory1/" inode=399849 dev=ca:02 mode=040755 ouid=0 ogid=0 '
                  "rdev=00:00 nametype=PARENT")
CREATE = ("PATH", 'item=1 name="/var/log/audit/tmp_directory1/malware.py" inode=399852 dev=ca:02 mode=0100644 '
                  "ouid=0 ogid=0 rdev=00:00 nametype=CREATE")
PROCTITLE = ("PROCTITLE", "proctitle=746F756368002F7661722F6C6F672F61756469742F746D705F6469726563746F7279312F6D61"
                          "6C776172652E7079")
# golibaudit_apparmor_avc_ubuntu1604.log, event 1524849206.224:162937 (verbatim bodies)
G_PARENT = ("PATH", 'item=0 name="/var/lib/apt/lists/partial/" inode=116 dev=00:2e mode=040755 ouid=100 ogid=0 '
                    "rdev=00:00 nametype=PARENT cap_fp=0000000000000000 cap_fi=0000000000000000 cap_fe=0 "
                    "cap_fver=0")
G_DELETE = ("PATH", 'item=1 name="/var/lib/apt/lists/partial/.apt-acquire-privs-test.zW4jyj" inode=585781 '
                    "dev=08:01 mode=0100600 ouid=100 ogid=65534 rdev=00:00 nametype=DELETE "
                    "cap_fp=0000000000000000 cap_fi=0000000000000000 cap_fe=0 cap_fver=0")
G_NULL = ("PATH", "item=2 name=(null) inode=585779 dev=08:01 mode=040755 ouid=100 ogid=0 rdev=00:00 "
                  "nametype=PARENT cap_fp=0000000000000000 cap_fi=0000000000000000 cap_fe=0 cap_fver=0")
AVC_UNLINK = ("AVC", 'avc:  denied  { remove_name } for  pid=1228 comm="http" name=".apt-acquire-privs-test.zW4jyj" '
                     'dev="sda1" ino=585779 scontext=system_u:system_r:apt_t:s0 '
                     "tcontext=system_u:object_r:apt_var_lib_t:s0 tclass=dir permissive=1")


def three(raw) -> list:
    """The Denials of ``raw`` through the C build (or the Python fast path
    without record texts when it is not built), the Python fast path and
    the typed path; asserts they are equal and returns them."""
    got = []
    for kw in (dict(records=False), dict(records=True), dict(fast=False)):
        stats = ScanStats()
        got.append([dataclasses.replace(d, records=()) for d in events_to_denials(raw, "x.log", stats, **kw)])
    assert got[0] == got[1] == got[2], raw
    assert got[0], raw
    return got[2]


def fast_answers(raw) -> None:
    """Both fast paths take ``raw`` (so that ``three`` compares them, not the typed path thrice)."""
    assert fastpath.fast_event_denials(raw, "x.log") is not None
    if cscan is not None:
        assert cscan.event_denials(raw, "x.log", fastpath.Memo()) is not None


def test_a_create_event_parent_and_create_items():
    raw = event(AVC_CREATE, SYSCALL, CWD, PARENT, CREATE, PROCTITLE)
    fast_answers(raw)
    (d,) = three(raw)
    assert d.items == (
        PathItem(0, "/var/log/audit/tmp_directory1/", "PARENT", 399849, "ca:02", 0o40755, None),
        PathItem(1, "/var/log/audit/tmp_directory1/malware.py", "CREATE", 399852, "ca:02", 0o100644, None),
    )
    assert (d.ino, d.dev, d.name) == (399852, "ca:02", "malware.py")
    # the old fields are what they were
    assert d.paths == ("/var/log/audit/tmp_directory1/", "/var/log/audit/tmp_directory1/malware.py")


def test_record_order_does_not_change_the_items():
    base = three(event(AVC_CREATE, SYSCALL, CWD, PARENT, CREATE, PROCTITLE))
    for order in ((CREATE, PARENT, AVC_CREATE, PROCTITLE, CWD, SYSCALL), (PROCTITLE, CREATE, CWD, AVC_CREATE, PARENT)):
        got = three(event(*order, SYSCALL) if SYSCALL not in order else event(*order))
        assert [d.items for d in got] == [d.items for d in base]


def test_a_delete_event_with_a_null_name():
    raw = event(AVC_UNLINK, SYSCALL, G_NULL, G_DELETE, G_PARENT, id_="1524849206.224:162937")
    fast_answers(raw)
    (d,) = three(raw)
    assert d.items == (
        PathItem(0, "/var/lib/apt/lists/partial/", "PARENT", 116, "00:2e", 0o40755, None),
        PathItem(1, "/var/lib/apt/lists/partial/.apt-acquire-privs-test.zW4jyj", "DELETE", 585781, "08:01",
                 0o100600, None),
        PathItem(2, None, "PARENT", 585779, "08:01", 0o40755, None),
    )
    assert (d.ino, d.dev) == (585779, "sda1")
    assert "(null)" not in d.paths


def test_relative_names_obj_types_and_the_memo():
    """A relative name is made absolute with the CWD (as ``paths``); ``obj=``
    gives its type; the same PATH body in two events (same CWD) is one
    PathItem object, in C and in Python; another CWD gives another name."""
    path = ('item=0 name="conf/app.ini" inode=4242 dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 '
            "obj=system_u:object_r:httpd_sys_content_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 "
            "cap_frootid=0")
    avc = ('avc:  denied  { read } for  pid=77 comm="httpd" name="app.ini" dev="dm-0" ino=4242 '
           "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:httpd_sys_content_t:s0 "
           "tclass=file permissive=0")
    one = event(("AVC", avc), ("CWD", 'cwd="/srv/www"'), ("PATH", path), id_="1700000000.100:1")
    two = event(("AVC", avc), ("CWD", 'cwd="/srv/www"'), ("PATH", path), id_="1700000000.200:2")
    other = event(("AVC", avc), ("CWD", 'cwd="/opt"'), ("PATH", path), id_="1700000000.300:3")
    fast_answers(one)
    (d,) = three(one)
    assert d.items == (PathItem(0, "/srv/www/conf/app.ini", "NORMAL", 4242, "fd:00", 0o100644,
                                "httpd_sys_content_t"),)
    assert (d.ino, d.dev) == (4242, "dm-0")
    assert three(other)[0].items[0].name == "/opt/conf/app.ini"
    builds = [lambda raw, memo: fastpath.fast_event_denials(raw, "x.log", memo)]
    if cscan is not None:
        builds.append(lambda raw, memo: cscan.event_denials(raw, "x.log", memo))
    for build in builds:
        memo = fastpath.Memo()
        a, b, c = build(one, memo)[0], build(two, memo)[0], build(other, memo)[0]
        assert a.items[0] is b.items[0]
        assert c.items[0] is not a.items[0] and c.items[0].name == "/opt/conf/app.ini"
        # an absolute name does not depend on the CWD: one object for every CWD
        abs_one = build(event(AVC_CREATE, CWD, PARENT, id_="1.5:9"), memo)[0]
        abs_two = build(event(AVC_CREATE, ("CWD", 'cwd="/"'), PARENT, id_="2.5:10"), memo)[0]
        assert abs_one.items[0] is abs_two.items[0]


def test_malformed_values_are_none_and_keep_the_denial():
    """A non-numeric inode, a mode that is not octal, a quoted mode, a long
    inode, an obj that is not a context: that value is None, the rest stays."""
    cases = [
        ("inode=12x", "mode=0100644", dict(inode=None, mode=0o100644)),
        ("inode=399852", "mode=0100648", dict(inode=399852, mode=None)),
        ("inode=-5", 'mode="0644"', dict(inode=None, mode=None)),
        ("inode=" + "9" * 21, "mode=0x1ff", dict(inode=None, mode=None)),
        ("inode=" + "9" * 20, "mode=", dict(inode=int("9" * 20), mode=None)),
        ("inode=", "mode=0", dict(inode=None, mode=0)),
    ]
    for inode, mode, want in cases:
        body = (f'item=0 name="/srv/f" {inode} dev=fd:00 {mode} ouid=0 ogid=0 rdev=00:00 obj=not-a-context '
                "nametype=NORMAL")
        raw = event(AVC_CREATE, SYSCALL, CWD, ("PATH", body))
        (d,) = three(raw)
        (it,) = d.items
        assert (it.inode, it.mode, it.otype, it.name, it.dev) == (want["inode"], want["mode"], None, "/srv/f",
                                                                 "fd:00"), body
    # the AVC's own ino=: not a number -> None; an empty dev="" -> None
    avc = AVC_CREATE[1].replace("ino=399852", "ino=39x").replace('dev="ca:02"', 'dev=""')
    (d,) = three(event(("AVC", avc), SYSCALL))
    assert (d.ino, d.dev, d.items) == (None, None, ())


def test_unusual_path_bodies_go_to_the_typed_path_and_still_give_items():
    """A body the fast paths do not take (fields out of the kernel's order, a
    tab, a single quote) is left to the typed path, which gives the items."""
    for body in ('inode=7 item=0 name="/a" nametype=NORMAL', 'item=0 name="/a" nametype=NORMAL\tmode=0644',
                 "item=0 name=\"/a\" nametype='NORMAL'", 'item=0 name="/a"  inode=7'):
        raw = event(AVC_CREATE, ("PATH", body))
        assert fastpath.fast_event_denials(raw, "x.log") is None, body
        if cscan is not None:
            assert cscan.event_denials(raw, "x.log", fastpath.Memo()) is None, body
        (d,) = three(raw)
        assert len(d.items) == 1 and d.items[0].item == 0 and d.items[0].name == "/a", body


def test_hostile_names_stay_data():
    """Newlines, quotes and ANSI escapes in a (hex-encoded) name come back as
    the characters they are: nothing is interpreted or cut."""
    hostile = '/tmp/x"; rm -rf / #\n\x1b[31mred'
    body = (f"item=0 name={hostile.encode().hex().upper()} inode=5 dev=fd:00 mode=0100644 ouid=0 ogid=0 "
            "rdev=00:00 nametype=NORMAL")
    raw = event(AVC_CREATE, SYSCALL, CWD, ("PATH", body))
    fast_answers(raw)
    (d,) = three(raw)
    assert d.items[0].name == hostile


def test_a_duplicate_dev_in_a_path_record_is_malformed():
    """dev= is now a field avcfix reads: given twice, the record is skipped
    (counted) on every path, as any other read field is."""
    raw = event(AVC_CREATE, SYSCALL, CWD, ("PATH", PARENT[1] + " dev=00:00"))
    got = []
    for kw in (dict(records=False), dict(records=True), dict(fast=False)):
        stats = ScanStats()
        ds = events_to_denials(raw, "x.log", stats, **kw)
        got.append(([dataclasses.replace(d, records=()) for d in ds], stats.skipped_lines))
    assert got[0] == got[1] == got[2]
    assert got[2][1] == 1 and got[2][0][0].items == ()


def test_pickling_keeps_the_items():
    """triage_parallel spills groups with pickle: the items survive, and a group
    keeps its example Denial with them."""
    (d,) = three(event(AVC_CREATE, SYSCALL, CWD, PARENT, CREATE, PROCTITLE))
    back = pickle.loads(pickle.dumps(d))
    assert back == d and back.items == d.items and (back.ino, back.dev) == (399852, "ca:02")
    acc = GroupAccumulator()
    acc.add(d)
    (group,) = list(acc.groups())
    again = pickle.loads(pickle.dumps(group))
    assert again.example.items == d.items
