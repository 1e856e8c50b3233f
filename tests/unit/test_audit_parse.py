"""Unit tests: one physical line -> typed records, for every format and record type."""

from __future__ import annotations

import time

import pytest
from libaudit_names import named, numbered

from avcfix.audit.fields import decode_proctitle, decode_untrusted, parse_event_id, split_fields
from avcfix.audit.model import Context, Skipped
from avcfix.audit.parse import parse_line, split_line
from avcfix.audit.records import (
    AvcPathRecord,
    AvcRecord,
    CwdRecord,
    GenericRecord,
    MacStatusRecord,
    PathRecord,
    PolicyLoadRecord,
    ProctitleRecord,
    SelinuxErrRecord,
    SockaddrRecord,
    SyscallRecord,
)

AVC_BODY = (
    'avc:  denied  { read write } for  pid=2133 comm="eucanetd" name="global_network_info.xml" '
    'dev="vda1" ino=262401 scontext=system_u:system_r:eucalyptus_eucanetd_t:s0 '
    "tcontext=system_u:object_r:eucalyptus_var_lib_t:s0 tclass=file permissive=0"
)
RAW_AVC = f"type=AVC msg=audit(1700000061.000:4110): {AVC_BODY}"


def one(line: str):
    recs = parse_line(line, "t.log", 7)
    assert len(recs) == 1, recs
    return recs[0]


def assert_avc(rec, *, node=None, time_=1700000061.0, serial=4110):
    assert isinstance(rec, AvcRecord), rec
    assert rec.kind == "AVC"
    assert not rec.granted
    assert rec.perms == ("read", "write")
    assert rec.scontext == Context("system_u", "system_r", "eucalyptus_eucanetd_t", "s0")
    assert rec.tcontext.type == "eucalyptus_var_lib_t"
    assert rec.tclass == "file"
    assert rec.permissive is False
    assert rec.pid == 2133
    assert rec.comm == "eucanetd"
    assert rec.name == "global_network_info.xml"
    assert rec.ino == 262401
    assert rec.node == node
    assert rec.time == pytest.approx(time_)
    assert rec.serial == serial


# --- formats -----------------------------------------------------------------

def test_raw_audit_log_line():
    rec = one(RAW_AVC)
    assert_avc(rec)
    assert rec.text == RAW_AVC
    assert (rec.source, rec.line) == ("t.log", 7)


def test_node_prefix():
    assert_avc(one("node=web01.example.com " + RAW_AVC), node="web01.example.com")


def test_host_prefix():
    assert_avc(one("host=db7 " + RAW_AVC), node="db7")


def test_dmesg_line():
    line = f"[   12.345678] audit: type=1400 audit(1700000061.000:4110): {AVC_BODY}"
    assert_avc(one(line))


def test_syslog_and_journal_lines():
    assert_avc(one(f"Sep 12 10:00:00 host kernel: audit(1700000061.000:4110): {AVC_BODY}"))
    assert_avc(one(f"Sep 12 10:00:00 host kernel: type=1400 audit(1700000061.000:4110): {AVC_BODY}"))
    assert_avc(one(f"Nov 23 10:00:00 host audit[2133]: AVC {AVC_BODY}".replace("AVC avc", "AVC audit(1700000061.000:4110): avc")))


def test_android_logcat_and_dmesg():
    line = ("12-27 11:10:38.203     1     1 I init    : type=1400 audit(0.0:3): avc: denied { write } for "
            'name="kernel_init_done" dev="sysfs" ino=14665 scontext=u:r:init:s0 tcontext=u:object_r:sysfs:s0 '
            "tclass=file permissive=1")
    rec = one(line)
    assert isinstance(rec, AvcRecord)
    assert (rec.scontext.type, rec.tcontext.type, rec.tclass, rec.perms) == ("init", "sysfs", "file", ("write",))
    assert rec.permissive is True
    assert (rec.time, rec.serial) == (0.0, 3)
    user = one("/system/bin/init: type=1107 audit(0.0:7): uid=0 auid=4294967295 ses=4294967295 subj=u:r:init:s0 "
               "msg='avc: denied { set } for property=vendor.wlan.firmware.version pid=357 uid=1010 gid=1010 "
               "scontext=u:r:hal_wifi_default:s0 tcontext=u:object_r:vendor_default_prop:s0 "
               "tclass=property_service permissive=0' b/131598173")
    assert isinstance(user, AvcRecord) and user.kind == "USER_AVC"
    assert (user.scontext.type, user.tclass, user.perms) == ("hal_wifi_default", "property_service", ("set",))


def test_ausearch_interpreted_line():
    line = ("type=AVC msg=audit(08/13/2025 15:10:41.085:463474) : avc:  denied  { open } for  pid=1240781 "
            "comm=unix_chkpwd path=/etc/shadow dev=\"dm-0\" ino=8388860 "
            "scontext=system_u:system_r:zabbix_agent_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=1 ")
    rec = one(line)
    assert isinstance(rec, AvcRecord)
    assert rec.comm == "unix_chkpwd" and rec.path == "/etc/shadow" and rec.permissive is True
    assert rec.serial == 463474
    expected = time.mktime((2025, 8, 13, 15, 10, 41, 0, 0, -1)) + 0.085
    assert rec.time == pytest.approx(expected)


def test_ausearch_interpreted_syscall_and_proctitle():
    sc = one("type=SYSCALL msg=audit(08/13/2025 15:10:41.085:463474) : arch=x86_64 syscall=openat success=no "
             "exit=EACCES(Permission denied) a0=AT_FDCWD items=1 ppid=1 pid=1240781 auid=unset uid=root "
             "comm=unix_chkpwd exe=/usr/sbin/unix_chkpwd subj=system_u:system_r:zabbix_agent_t:s0 key=(null) ")
    assert isinstance(sc, SyscallRecord)
    assert (sc.syscall, sc.syscall_nr, sc.success, sc.exit) == ("openat", numbered(257), False, -13)
    assert sc.exe == "/usr/sbin/unix_chkpwd"
    pt = one("type=PROCTITLE msg=audit(08/13/2025 15:10:41.085:463474) : proctitle=/usr/sbin/unix_chkpwd zabbix chkexpiry ")
    assert isinstance(pt, ProctitleRecord)
    assert pt.argv == ("/usr/sbin/unix_chkpwd", "zabbix", "chkexpiry")
    cwd = one("type=CWD msg=audit(08/13/2025 15:10:41.085:463474) : cwd=/home/a dir ")
    assert isinstance(cwd, CwdRecord) and cwd.cwd == "/home/a dir"


def test_enriched_format():
    line = ('type=SYSCALL msg=audit(1634728455.294:53732): arch=c000003e syscall=1 success=yes exit=19577 '
            'ppid=3981294 pid=3981295 comm="apparmor_parser" exe="/usr/sbin/apparmor_parser" subj=unconfined '
            'key=(null)\x1dARCH=x86_64 SYSCALL=write AUID="unset" UID="root"')
    rec = one(line)
    assert isinstance(rec, SyscallRecord)
    assert (rec.arch, rec.syscall, rec.pid, rec.comm) == ("c000003e", named("write"), 3981295, "apparmor_parser")
    avc = one(RAW_AVC + "\x1dSCONTEXT=x")
    assert_avc(avc)


def test_several_records_on_one_line():
    line = ('type=SYSCALL msg=audit(1479982525.380:50): arch=c000003e syscall=2 success=yes exit=3 items=2 '
            'pid=3333 comm="touch" exe="/bin/touch" key="audit-wazuh-w" type=CWD msg=audit(1479982525.380:50):  '
            'cwd="/var/log/audit" type=PATH msg=audit(1479982525.380:50): item=0 name="/var/log/audit/tmp/" '
            'nametype=PARENT type=PROCTITLE msg=audit(1479982525.380:50): proctitle=746F756368')
    recs = parse_line(line)
    assert [type(r) for r in recs] == [SyscallRecord, CwdRecord, PathRecord, ProctitleRecord]
    assert recs[1].cwd == "/var/log/audit"
    assert recs[2].name == "/var/log/audit/tmp/"
    assert recs[3].argv == ("touch",)
    assert {r.serial for r in recs} == {50}
    node_line = "node=n1 " + line.replace(" type=", " node=n1 type=")
    assert [r.node for r in parse_line(node_line)] == ["n1"] * 4


def test_audit_in_a_body_is_not_a_header():
    line = RAW_AVC.replace('name="global_network_info.xml"', 'name="audit(1:2)"')
    rec = one(line)
    assert isinstance(rec, AvcRecord) and rec.name == "audit(1:2)"


# --- record types --------------------------------------------------------------

def test_user_avc():
    line = ("type=USER_AVC msg=audit(1700000100.000:77): pid=812 uid=81 auid=4294967295 ses=4294967295 "
            "subj=system_u:system_r:system_dbusd_t:s0 msg='avc:  denied  { send_msg } for msgtype=method_call "
            "interface=org.freedesktop.DBus.Properties member=GetAll dest=org.freedesktop.systemd1 spid=1 tpid=2 "
            "scontext=system_u:system_r:init_t:s0 tcontext=system_u:system_r:unconfined_service_t:s0 "
            "tclass=dbus permissive=0  exe=\"/usr/bin/dbus-daemon\" sauid=81 hostname=? addr=? terminal=?'")
    rec = one(line)
    assert isinstance(rec, AvcRecord) and rec.kind == "USER_AVC"
    assert (rec.scontext.type, rec.tcontext.type, rec.tclass, rec.perms) == (
        "init_t", "unconfined_service_t", "dbus", ("send_msg",))
    assert rec.exe == "/usr/bin/dbus-daemon"
    assert rec.port is None  # dest= is a bus name here, not a port


def test_user_avc_policyload_notice_is_not_a_denial():
    rec = one("type=USER_AVC msg=audit(1700000100.000:78): pid=1 uid=0 msg='avc:  received policyload notice "
              "(seqno=2)  exe=\"/usr/lib/systemd/systemd\" sauid=0 hostname=? addr=? terminal=?'")
    assert isinstance(rec, GenericRecord)


def test_avc_granted_and_apparmor_are_not_denials():
    granted = one("type=AVC msg=audit(1239116352.727:311): avc:  granted  { transition } for  pid=7687 "
                  "comm=\"bash\" scontext=unconfined_u:unconfined_r:unconfined_t tcontext=u:r:move_file_t "
                  "tclass=process")
    assert isinstance(granted, AvcRecord) and granted.granted
    aa = one('type=AVC msg=audit(1634728455.294:53732): apparmor="DENIED" operation="open" '
             'profile="/usr/sbin/cupsd" name="/etc/shadow" pid=1 comm="cupsd" requested_mask="r"')
    assert isinstance(aa, GenericRecord)


def test_avc_ports_ioctl_capability():
    bind = one('type=AVC msg=audit(1.0:1): avc:  denied  { name_bind } for  pid=2051 comm="eucanetd" src=63822 '
               "scontext=system_u:system_r:a_t:s0 tcontext=system_u:object_r:unreserved_port_t:s0 tclass=udp_socket")
    assert bind.port == 63822 and bind.permissive is None
    conn = one('type=AVC msg=audit(1.0:1): avc:  denied  { name_connect } for  pid=1 comm="c" dest=5432 '
               "scontext=system_u:system_r:a_t:s0 tcontext=system_u:object_r:postgresql_port_t:s0 tclass=tcp_socket")
    assert conn.port == 5432
    ioctl = one('type=1400 audit(1437408413.860:6): avc: denied { ioctl } for pid=81 comm="route" '
                'path="socket:[1954]" dev="sockfs" ino=1954 ioctlcmd=890b scontext=u:r:goldfish_setup:s0 '
                "tcontext=u:r:goldfish_setup:s0 tclass=udp_socket permissive=0")
    assert ioctl.ioctlcmd == 0x890B
    cap = one('type=AVC msg=audit(1.0:1): avc:  denied  { dac_override } for  pid=2201 comm="x" capability=1 '
              "scontext=system_u:system_r:a_t:s0 tcontext=system_u:system_r:a_t:s0 tclass=capability")
    assert cap.capability == 1


def test_hex_encoded_fields():
    rec = one("type=AVC msg=audit(1.0:1): avc:  denied  { read } for  pid=1 comm=6D7920617070 "
              "name=612066696C65 scontext=system_u:system_r:a_t:s0 tcontext=system_u:object_r:b_t:s0 tclass=file")
    assert (rec.comm, rec.name) == ("my app", "a file")
    path = one("type=PATH msg=audit(1.0:1): item=0 name=2F746D702F612062 inode=5 nametype=NORMAL "
               "obj=system_u:object_r:tmp_t:s0")
    assert isinstance(path, PathRecord)
    assert (path.item, path.name, path.obj.type, path.inode) == (0, "/tmp/a b", "tmp_t", 5)
    cwd = one("type=CWD msg=audit(1.0:1): cwd=2F686F6D652F6D7920646972")
    assert cwd.cwd == "/home/my dir"
    pt = one("type=PROCTITLE msg=audit(1.0:1): proctitle=2F7573722F7362696E2F657563616E657464002D64")
    assert pt.argv == ("/usr/sbin/eucanetd", "-d") and pt.title == "/usr/sbin/eucanetd -d"
    quoted = one('type=PROCTITLE msg=audit(1.0:1): proctitle="bash"')
    assert quoted.argv == ("bash",)


def test_syscall_record_raw():
    rec = one('type=SYSCALL msg=audit(1.0:1): arch=c00000b7 syscall=56 success=no exit=-13 a0=ffffff9c '
              'items=1 ppid=1 pid=42 auid=0 uid=0 comm="cat" exe="/usr/bin/cat" '
              'subj=system_u:system_r:a_t:s0 key=(null)')
    assert isinstance(rec, SyscallRecord)
    assert (rec.arch, rec.syscall_nr, rec.syscall) == ("c00000b7", 56, named("openat"))  # aarch64
    assert (rec.success, rec.exit, rec.pid, rec.ppid, rec.items) == (False, -13, 42, 1, 1)
    assert rec.subj.type == "a_t"
    x86 = one("type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=49 success=yes exit=0 pid=1")
    assert x86.syscall == named("bind")


def test_sockaddr():
    inet = one("type=SOCKADDR msg=audit(1.0:1): saddr=0200F94E000000000000000000000000")
    assert isinstance(inet, SockaddrRecord)
    assert (inet.family, inet.addr, inet.port) == ("inet", "0.0.0.0", 63822)
    inet6 = one("type=SOCKADDR msg=audit(1.0:1): saddr=0A001F90000000000000000000000000000000000000000100000000")
    assert (inet6.family, inet6.port) == ("inet6", 8080)
    unix = one("type=SOCKADDR msg=audit(1.0:1): saddr=01002F72756E2F64627573")
    assert (unix.family, unix.addr) == ("local", "/run/dbus")
    interp = one("type=SOCKADDR msg=audit(08/13/2025 15:10:41.085:1) : saddr={ saddr_fam=inet laddr=10.0.0.1 lport=443 }")
    assert (interp.family, interp.addr, interp.port) == ("inet", "10.0.0.1", 443)


def test_avc_path_policy_load_mac_status():
    ap = one('type=AVC_PATH msg=audit(1.0:1): path="/var/lib/x"')
    assert isinstance(ap, AvcPathRecord) and ap.path == "/var/lib/x"
    pl = one("type=MAC_POLICY_LOAD msg=audit(1336662937.117:394): policy loaded auid=0 ses=2")
    assert isinstance(pl, PolicyLoadRecord) and (pl.auid, pl.ses) == ("0", "2")
    ms = one("type=MAC_STATUS msg=audit(1336836093.835:406): enforcing=1 old_enforcing=0 auid=0 ses=2")
    assert isinstance(ms, MacStatusRecord) and (ms.enforcing, ms.old_enforcing) == (True, False)
    numeric = one("[ 1.0] audit: type=1403 audit(1.0:1): policy loaded auid=4294967295 ses=4294967295")
    assert isinstance(numeric, PolicyLoadRecord)


def test_selinux_err():
    bounds = one("type=SELINUX_ERR msg=audit(1311948547.151:138): op=security_compute_av reason=bounds "
                 "scontext=system_u:system_r:anon_webapp_t:s0-s0:c0,c100,c200 tcontext=system_u:object_r:security_t:s0 "
                 "tclass=dir perms=ioctl,read,lock")
    assert isinstance(bounds, SelinuxErrRecord)
    assert (bounds.op, bounds.reason, bounds.tclass, bounds.perms) == (
        "security_compute_av", "bounds", "dir", ("ioctl", "lock", "read"))
    assert bounds.scontext.level == "s0-s0:c0,c100,c200"
    inv = one("type=SELINUX_ERR msg=audit(1163774199.777:11573): security_compute_sid:  invalid context "
              "staff_u:staff_r:staff_userhelper_t:s0 for scontext=staff_u:staff_r:staff_t:s0 "
              "tcontext=system_u:object_r:userhelper_exec_t:s0 tclass=process")
    assert inv.invalid_context == "staff_u:staff_r:staff_userhelper_t:s0" and inv.perms == ()
    user = one("type=USER_SELINUX_ERR msg=audit(1.0:173): pid=5678 uid=0 msg='op=security_bounded_transition "
               "seresult=denied oldcontext=system_u:system_r:init_t:s0 newcontext=system_u:system_r:unconfined_t:s0'")
    assert isinstance(user, SelinuxErrRecord) and user.op == "security_bounded_transition"


def test_generic_record_keeps_fields():
    rec = one("type=UNKNOWN[1323] msg=audit(1389164020.991:2159): fd=6 flags=0x802")
    assert isinstance(rec, GenericRecord) and rec.type == "UNKNOWN[1323]"
    assert rec.fields == (("fd", "6"), ("flags", "0x802"))


# --- bad input -----------------------------------------------------------------

@pytest.mark.parametrize("line,reason", [
    ("type=WRONGDATE msg=audit(1337845201): missing milliseconds", "bad event id"),
    ("type=EMPTYDATE msg=audit(): empty date", "bad event id"),
    ("type= msg=audit(1337845333.174:94984): missing type value", "empty record type"),
    ("msg=audit(1337845201.174:94984): missing type param", "record without type"),
    ("type=AVC msg=audit(1.0:1): avc:  denied  { read } for  pid=1 comm=\"x\" scontext=a:b:c_t:s0",
     "truncated AVC: missing tcontext, tclass"),
    ("type=AVC msg=audit(1.0:1): avc:  denied  { } for  pid=1 scontext=a:b:c_t tcontext=a:b:d_t tclass=file",
     "missing perms"),
    ("hello world", "no audit record header"),
])
def test_bad_lines_become_skipped(line, reason):
    (rec,) = parse_line(line, "bad.log", 3)
    assert isinstance(rec, Skipped), rec
    assert reason in rec.reason
    assert (rec.source, rec.line) == ("bad.log", 3)


# --- field helpers --------------------------------------------------------------

def test_field_helpers():
    assert split_fields('a=1 b="two words" c=\'x y\' a=9') == {"a": "1", "b": "two words", "c": "x y"}
    assert decode_untrusted("414243", False) == "ABC"
    assert decode_untrusted("414243", True) == "414243"
    assert decode_untrusted("(null)", False) == "(null)"
    assert decode_untrusted("abc", False) == "abc"  # odd length: not hex
    assert decode_proctitle("6C73002D6C00", False) == ("ls", "-l")
    assert parse_event_id("1700000000.123:42") == (1700000000.123, 42)
    assert parse_event_id("1700000000:42") is None
    assert parse_event_id("13/45/2025 99:00:00.000:1") is None


def test_split_line_returns_each_record_text():
    pieces = split_line("junk prefix type=AVC msg=audit(1.0:1): avc: x type=SYSCALL msg=audit(1.0:1): arch=1")
    assert [(p[1], p[2]) for p in pieces] == [("AVC", "1.0:1"), ("SYSCALL", "1.0:1")]
    assert pieces[0][4] == "type=AVC msg=audit(1.0:1): avc: x"
    assert pieces[1][3] == "arch=1"


def test_hostile_names_are_kept_verbatim_for_the_policy_layer_to_refuse():
    """Ingestion reports what the log says; avcfix.policy refuses non-identifiers
    (tests/test_build_cli.py::test_hostile_log_text_never_reaches_policy)."""
    line = ('type=AVC msg=audit(1.0:1): avc:  denied  { write } for  pid=3 comm="x" '
            "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:evil}t;allow:s0 tclass=file")
    (rec,) = parse_line(line)
    assert isinstance(rec, AvcRecord) and rec.tcontext.type == "evil}t;allow"


# --- malformed records: skipped with the reason, never half-read ------------------

SYSCALL_LINE = ("type=SYSCALL msg=audit(1700000061.000:4110): arch=c000003e syscall=257 success=no exit=-13 a0=3 "
                'items=1 ppid=1 pid=2133 auid=0 uid=0 comm="eucanetd" exe="/usr/sbin/eucanetd" key=(null)')


@pytest.mark.parametrize("line,reason", [
    # BUG 5: times datetime/localtime cannot print; serials longer than an unsigned long
    (RAW_AVC.replace("1700000061.000", "99999999999999999999.5"), "time over 10 digits"),
    (RAW_AVC.replace("1700000061.000", "10000000000.000"), "time over 10 digits"),
    (RAW_AVC.replace("1700000061.000", "00001700000061.000"), "time over 10 digits"),
    (RAW_AVC.replace(":4110)", ":123456789012345678901)"), "serial over 20 digits"),
    (RAW_AVC.replace("audit(1700000061.000:4110)", "audit(12/31/2299 10:00:00.000:1)"), "after 2286"),
    # braces inside the permission list
    (RAW_AVC.replace("{ read write }", "{ read { write }"), "brace inside the permission list"),
    (RAW_AVC.replace("{ read write }", "{ read write } }"), "brace inside the permission list"),
    (RAW_AVC.replace("{ read write }", "{ read } { write }"), "brace inside the permission list"),
    (RAW_AVC.replace("{ read write }", "{ { read write }"), "brace inside the permission list"),
    # a field avcfix reads, given twice
    (RAW_AVC + " scontext=system_u:system_r:unconfined_t:s0", "duplicate scontext="),
    (RAW_AVC.replace(" tclass=file", " tclass=file tclass=dir"), "duplicate tclass="),
    (RAW_AVC.replace(" pid=2133", " pid=2133 pid=1"), "duplicate pid="),
    (RAW_AVC.replace("dev=", 'name="x" dev='), "duplicate name="),
    ("type=USER_AVC msg=audit(1.0:1): pid=1 uid=0 msg='avc:  denied  { status } for auid=0 uid=0 "
     "scontext=a:b:c_t:s0 tcontext=a:b:d_t:s0 tcontext=a:b:e_t:s0 tclass=service exe=\"/x\"'", "duplicate tcontext="),
    (SYSCALL_LINE + ' comm="other"', "duplicate comm="),
    (SYSCALL_LINE.replace("syscall=257", "syscall=257 syscall=59"), "duplicate syscall="),
    (SYSCALL_LINE.replace("exit=-13", "exit=-13 exit=0"), "duplicate exit="),
    ('type=PATH msg=audit(1.0:1): item=0 name="/a" inode=5 nametype=NORMAL name="/b"', "duplicate name="),
    ('type=PATH msg=audit(1.0:1): item=0 item=1 name="/a"', "duplicate item="),
    ('type=CWD msg=audit(1.0:1): cwd="/a" cwd="/b"', "duplicate cwd="),
    ("type=PROCTITLE msg=audit(1.0:1): proctitle=6C73 proctitle=726D", "duplicate proctitle="),
    ("type=SOCKADDR msg=audit(1.0:1): saddr=0200 saddr=0A00", "duplicate saddr="),
    ('type=AVC_PATH msg=audit(1.0:1): path="/a" path="/b"', "duplicate path="),
    ("type=SELINUX_ERR msg=audit(1.0:1): op=security_compute_av reason=bounds scontext=a:b:c_t:s0 "
     "tcontext=a:b:d_t:s0 tclass=file perms=read perms=write", "duplicate perms="),
])
def test_malformed_records_are_skipped(line, reason):
    (rec,) = parse_line(line, "bad.log", 3)
    assert isinstance(rec, Skipped), rec
    assert reason in rec.reason, rec.reason
    assert (rec.source, rec.line) == ("bad.log", 3)


def test_event_id_bounds_are_inclusive():
    assert parse_event_id("9999999999.999:18446744073709551615") == (9999999999.999, 18446744073709551615)
    assert parse_event_id("0.001:99999999999999999999") == (0.001, 99999999999999999999)
    assert parse_event_id("10000000000.0:1") is None
    assert parse_event_id("1.0:" + "1" * 21) is None
    assert parse_event_id("12/01/2286 00:00:00.000:1") is None  # past 9999999999 in every zone
    assert parse_event_id("11/13/2025 10:00:00.000:1") is not None
    assert isinstance(one(RAW_AVC.replace("1700000061.000", "9999999999.999")), AvcRecord)


def test_repeated_fields_avcfix_does_not_read_stay_accepted():
    """LOGIN writes ``old auid=... new auid=...``; a SYSCALL's unread fields and
    a quoted value that looks like a field are not repeats of a read field."""
    login = one("type=LOGIN msg=audit(1.0:1): pid=1 uid=0 old auid=4294967295 new auid=0 old ses=1 new ses=2")
    assert isinstance(login, GenericRecord)
    sc = one(SYSCALL_LINE.replace("a0=3", "a0=3 a0=4 fsuid=0 fsuid=1"))
    assert isinstance(sc, SyscallRecord) and sc.comm == "eucanetd"
    rec = one(RAW_AVC.replace('name="global_network_info.xml"', 'name="name=x"'))
    assert isinstance(rec, AvcRecord) and rec.name == "name=x"
    # a brace after "for" is not in the permission list
    rec = one(RAW_AVC.replace('name="global_network_info.xml"', 'name="{x}"'))
    assert isinstance(rec, AvcRecord) and rec.perms == ("read", "write") and rec.name == "{x}"
