"""scan(): sources, correlation, context, grouping, bad input, the eucanetd example
(the command line on bad input and read-once sources: tests/integration/test_audit_scan_tools.py)."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest
from audit_lines import avc, cwd, path, syscall, write
from libaudit_names import HAVE_LIBAUDIT, named

from avcfix.audit.api import Filters, ScanStats, scan
from avcfix.audit.correlate import correlate
from avcfix.audit.denials import event_denials
from avcfix.audit.group import group_denials
from avcfix.audit.parse import parse_line
from avcfix.audit.raw import format_event
from avcfix.audit.scanner import scan_raw_events
from avcfix.errors import InputError

PROJECT = Path(__file__).resolve().parents[2]
EUCA = PROJECT / "fixtures" / "eucanetd" / "audit.log"


def run(sources, **kw):
    stats = ScanStats()
    out = list(scan(sources, stats=stats, **kw))
    return out, stats


# --- the shipped example -------------------------------------------------------

def test_eucanetd_example():
    denials, stats = run([str(EUCA)])
    assert stats.skipped_lines == 0
    assert stats.lines == sum(1 for _ in EUCA.open())
    groups = {(g.source, g.target, g.tclass): g for g in group_denials(denials)}
    bind = groups[("eucalyptus_eucanetd_t", "unreserved_port_t", "udp_socket")]
    assert bind.perms == ("name_bind",)
    assert bind.example.syscall == named("bind") and bind.example.port == 63822
    run_dir = groups[("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "dir")]
    assert {"write", "add_name"} <= set(run_dir.perms)
    pid_file = groups[("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "file")]
    assert "create" in pid_file.perms
    assert "/var/run/eucalyptus/eucanetd.pid" in pid_file.example.paths
    lib = [g for k, g in groups.items() if k[:2] == ("eucalyptus_eucanetd_t", "eucalyptus_var_lib_t")]
    assert lib
    cloud = groups[("eucalyptus_cloud_t", "eucalyptus_cloud_t", "capability")]
    assert cloud.perms == ("dac_override", "dac_read_search")
    for d in denials:
        if d.stype.startswith("eucalyptus"):
            assert d.syscall_nr is not None and (d.syscall is not None) == HAVE_LIBAUDIT, d  # each with its SYSCALL record
            assert any(r.startswith("type=SYSCALL") for r in d.records)
            assert d.exe and d.proctitle and d.success is False and d.exit == -13


def test_eucanetd_relative_path_resolved_with_cwd():
    denials, _ = run([str(EUCA)])
    (read,) = [d for d in denials if d.tclass == "file" and d.perms == ("read",)]
    assert read.cwd == "/var/lib/eucalyptus"
    assert read.paths == ("/var/lib/eucalyptus/global_network_info.xml",)


# --- correlation -----------------------------------------------------------------

def test_context_attached_and_counts(tmp_path):
    lines = [
        'type=SERVICE_START msg=audit(1700000000.000:1): pid=1 msg=\'unit=x res=success\'',
        avc(2),
        syscall(2),
        cwd(2, "/srv"),
        path(2, "data/f.txt"),
        "type=PROCTITLE msg=audit(1700000000.000:2): proctitle=6361740066",
        "type=EOE msg=audit(1700000000.000:2): ",
    ]
    (d,), stats = run([write(tmp_path, lines)])
    assert (stats.lines, stats.events, stats.denials, stats.skipped_lines) == (7, 2, 1, 0)
    assert (d.pid, d.comm, d.exe, d.syscall, d.syscall_nr, d.arch) == (2, "c2", "/bin/e2", named("openat"), 257, "x86_64")
    assert (d.success, d.exit) == (False, -13)
    assert d.paths == ("/srv/data/f.txt",) and d.cwd == "/srv"
    assert d.proctitle == "cat f"
    assert len(d.records) == 6
    assert d.records[0].startswith("type=AVC") and d.records[-1].startswith("type=EOE")


def test_interleaved_and_out_of_order_events(tmp_path):
    lines = [syscall(11), avc(10, "read"), avc(11, "write"), path(10, "/ten"), syscall(10), path(11, "/eleven")]
    denials, stats = run([write(tmp_path, lines)])
    assert stats.events == 2
    by_serial = {d.serial: d for d in denials}
    assert by_serial[10].exe == "/bin/e10" and by_serial[10].paths == ("/ten",)
    assert by_serial[11].exe == "/bin/e11" and by_serial[11].paths == ("/eleven",)


def test_same_serial_on_two_nodes_are_two_events(tmp_path):
    lines = [avc(5, node="node=a "), avc(5, "write", node="node=b "), syscall(5, 2, node="node=a "),
             syscall(5, 0, node="node=b ")]
    denials, stats = run([write(tmp_path, lines)])
    assert stats.events == 2
    by_node = {d.node: d for d in denials}
    assert by_node["a"].syscall == named("open") and by_node["b"].syscall == named("read")


def test_block_boundaries_do_not_change_the_result():
    data = EUCA.read_bytes()

    def events(size):
        st = ScanStats()
        blocks = [data[i:i + size] for i in range(0, len(data), size)]
        evs = list(scan_raw_events(blocks, "x", st, st.skip))
        return evs, (st.lines, st.events, st.skipped_lines)

    whole = events(len(data))
    for size in (1, 7, 64, 333, 1000):
        assert events(size) == whole


def test_typed_correlate_matches_scan():
    text = EUCA.read_text()
    records = [r for n, line in enumerate(text.splitlines(), 1) for r in parse_line(line, str(EUCA), n)]
    typed = [d for ev in correlate(records) for d in event_denials(ev)]
    scanned, _ = run([str(EUCA)])
    assert typed == scanned


def test_correlate_window_closes_old_events():
    records = [r for s in range(10) for r in parse_line(avc(s))]
    events = list(correlate(records, window=3))
    assert [e.serial for e in events] == list(range(10))


# --- grouping ---------------------------------------------------------------------

def test_groups_union_count_first_last_and_permissive(tmp_path):
    lines = [
        avc(1, "read", t="1700000001.000"),
        avc(2, "write", t="1700000005.000"),
        avc(3, "read", t="1700000003.000").replace("permissive=0", "permissive=1"),
        avc(4, "getattr", ttype="c_t", t="1700000002.000"),
        avc(5, "open", stype="z_t", t="1700000002.000"),
    ]
    denials, _ = run([write(tmp_path, lines)])
    groups = group_denials(denials)
    assert [g.key for g in groups] == [
        ("a_t", "b_t", "file", False), ("a_t", "b_t", "file", True), ("a_t", "c_t", "file", False),
        ("z_t", "b_t", "file", False)]
    enforcing = groups[0]
    assert enforcing.perms == ("read", "write") and enforcing.count == 2
    assert (enforcing.first_seen, enforcing.last_seen) == (1700000001.0, 1700000005.0)
    assert groups[1].perms == ("read",) and groups[1].permissive
    again = group_denials(reversed(denials))
    assert [(g.key, g.perms, g.count, g.first_seen, g.last_seen) for g in again] == [
        (g.key, g.perms, g.count, g.first_seen, g.last_seen) for g in groups]


def test_self_target_keeps_real_type(tmp_path):
    lines = [avc(1, "dac_override", stype="x_t", ttype="x_t", tclass="capability")]
    (d,), _ = run([write(tmp_path, lines)])
    assert d.ttype == "x_t"


# --- filters ------------------------------------------------------------------------

def test_filters(tmp_path):
    lines = [avc(1, t="1700000001.000"), avc(2, stype="other_t", t="1700000002.000"),
             avc(3, t="1700000003.000")]
    src = write(tmp_path, lines)
    assert [d.serial for d in run([src], filters=Filters(domain="a_t"))[0]] == [1, 3]
    assert [d.serial for d in run([src], filters=Filters(domain="a"))[0]] == []  # exact match
    assert [d.serial for d in run([src], filters=Filters(comm="c2"))[0]] == [2]
    assert [d.serial for d in run([src], filters=Filters(since=1700000002.0))[0]] == [2, 3]
    assert [d.serial for d in run([src], filters=Filters(until=1700000002.0))[0]] == [1, 2]
    _, stats = run([src], filters=Filters(domain="a_t"))
    assert (stats.denials, stats.denials_total) == (2, 3)


# --- sources --------------------------------------------------------------------------

def test_several_files_gzip_and_stdin(tmp_path):
    plain = write(tmp_path, [avc(1)], "audit.log")
    gz = tmp_path / "audit.log.1.gz"
    gz.write_bytes(gzip.compress((avc(2) + "\n" + syscall(2) + "\n").encode()))
    stdin = io.BytesIO((avc(3) + "\n").encode())
    denials, stats = run([plain, str(gz), "-"], stdin=stdin)
    assert [d.serial for d in denials] == [1, 2, 3]
    assert denials[1].exe == "/bin/e2"
    assert stats.sources == [plain, str(gz), "<stdin>"]
    assert stats.lines == 4


def test_rotated_log_without_gz_suffix_is_detected_by_magic(tmp_path):
    p = tmp_path / "audit.log.2"
    p.write_bytes(gzip.compress((avc(9) + "\n").encode()))
    assert [d.serial for d in run([str(p)])[0]] == [9]


@pytest.mark.parametrize("make,needle", [
    (lambda d: str(d / "missing.log"), "no such file"),
    (lambda d: str(d), "is a directory"),
])
def test_unreadable_sources_raise_input_error(tmp_path, make, needle):
    with pytest.raises(InputError, match=needle):
        run([make(tmp_path)])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path):
    p = tmp_path / "secret.log"
    p.write_text(avc(1))
    p.chmod(0)
    with pytest.raises(InputError, match="permission denied"):
        run([str(p)])


def test_broken_gzip_is_input_error(tmp_path):
    p = tmp_path / "audit.log.gz"
    p.write_bytes(gzip.compress((avc(1) + "\n") .encode() * 50)[:40])
    with pytest.raises(InputError, match="gzip"):
        run([str(p)])


def test_error_raised_before_anything_is_read(tmp_path):
    good = write(tmp_path, [avc(1)])
    gen = scan([good, str(tmp_path / "nope")])
    with pytest.raises(InputError):
        next(gen)


# --- bad input -------------------------------------------------------------------------

def test_empty_file(tmp_path):
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    denials, stats = run([str(p)])
    assert denials == [] and (stats.lines, stats.events, stats.skipped_lines) == (0, 0, 0)


def test_garbage_binary_truncated_and_huge_lines(tmp_path):
    huge = "type=AVC msg=audit(1.0:77): avc:  denied  { read } for " + "x" * (3 << 20)
    lines = [
        "complete garbage here",
        "\x00\x01\x02\xff binary",
        avc(1),
        'type=AVC msg=audit(1700000000.000:2): avc:  denied  { read } for  pid=2 comm="x" scontext=sys',
        huge,
        "type=AVC msg=audit(1700000000.000:3",
        avc(4),
    ]
    p = tmp_path / "bad.log"
    p.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n\xff\xfe\x00")
    denials, stats = run([str(p)])
    assert [d.serial for d in denials] == [1, 4]
    assert stats.lines == 8
    skipped = {s.line: s.reason for s in stats.skipped}
    assert set(skipped) == {1, 2, 4, 5, 6, 8}
    assert "too long" in skipped[5]
    assert "truncated" in skipped[4]
    assert all(s.source == str(p) for s in stats.skipped)
    assert stats.skipped_lines == 6


def test_skipped_list_is_capped_but_count_is_not(tmp_path):
    p = write(tmp_path, ["junk"] * 100)
    _, stats = run([p])
    assert stats.skipped_lines == 100 and len(stats.skipped) == stats.keep


def test_ausearch_default_output_separators_are_not_skipped(tmp_path):
    lines = ["----", "time->Tue Nov 14 22:13:50 2023", avc(1), syscall(1), "----",
             "time->Tue Nov 14 22:13:51 2023", avc(2)]
    denials, stats = run([write(tmp_path, lines)])
    assert [d.serial for d in denials] == [1, 2] and stats.skipped_lines == 0
    assert denials[0].exe == "/bin/e1"


def test_wrapped_record_lines_are_joined(tmp_path):
    lines = [
        "type=AVC msg=audit(1242575005.122:101): avc: denied { rename } for",
        'pid=2508 comm="canberra-gtk-pl"',
        "scontext=test_u:staff_r:oddjob_mkhomedir_t:s0",
        "tcontext=test_u:object_r:gnome_home_t:s0 tclass=lnk_file",
        "",
        "type=SYSCALL msg=audit(1242575005.122:101): arch=40000003 syscall=38",
        "success=yes exit=0 pid=2508 comm=\"canberra-gtk-pl\" exe=\"/usr/bin/canberra-gtk-play\"",
    ]
    (d,), stats = run([write(tmp_path, lines)])
    assert (d.stype, d.ttype, d.tclass, d.perms) == ("oddjob_mkhomedir_t", "gnome_home_t", "lnk_file", ("rename",))
    assert d.syscall == named("rename") and d.exe == "/usr/bin/canberra-gtk-play"
    assert stats.skipped_lines == 0


def test_format_event_is_ausearch_layout_and_reparses():
    denials, _ = run([str(EUCA)])
    d = next(d for d in denials if d.tclass == "udp_socket")
    text = format_event(d)
    lines = text.splitlines()
    assert lines[0] == "----" and lines[1].startswith("time->")
    assert [ln.split(" ", 1)[0] for ln in lines[2:]] == ["type=AVC", "type=SYSCALL", "type=SOCKADDR", "type=PROCTITLE"]
    again = [r for n, line in enumerate(lines, 1) for r in parse_line(line, "x", n) if not hasattr(r, "reason")]
    assert {r.type for r in again} == {"AVC", "SYSCALL", "SOCKADDR", "PROCTITLE"}


def test_wrapped_record_across_a_block_boundary():
    text = (b"type=AVC msg=audit(1242575005.122:101): avc: denied { rename } for\n"
            b'pid=2508 comm="canberra-gtk-pl"\n'
            b"scontext=test_u:staff_r:oddjob_mkhomedir_t:s0\n"
            b"tcontext=test_u:object_r:gnome_home_t:s0 tclass=lnk_file\n")
    data = EUCA.read_bytes() + text + EUCA.read_bytes().replace(b":41", b":51")
    cut = len(EUCA.read_bytes()) + len(text) - 30  # inside the wrapped record
    for blocks in ([data], [data[:cut], data[cut:]], [data[i:i + 97] for i in range(0, len(data), 97)]):
        st = ScanStats()
        events = list(scan_raw_events(blocks, "x", st, st.skip))
        assert st.skipped_lines == 0 and st.lines == data.count(b"\n")
        assert len(events) == 15


# --- malformed records (issue 12) ------------------------------------------------------

MALFORMED = [
    avc(11, t="99999999999999999999.5"),                                   # BUG 5: the time
    avc(12).replace("{ read }", "{ read { write }"),                       # a brace in the list
    avc(13).replace("{ read }", "{ read } }"),
    avc(14, t="1700000000.123").replace(":14)", ":123456789012345678901)"),  # serial over 20 digits
    avc(15) + " scontext=system_u:system_r:unconfined_t:s0",                # a read field twice
]


def test_malformed_records_are_skipped_and_counted(tmp_path):
    lines = [avc(1), syscall(1), *MALFORMED, avc(16), syscall(16) + ' comm="other"', avc(17)]
    p = write(tmp_path, lines)
    denials, stats = run([p])
    assert [d.serial for d in denials] == [1, 16, 17]
    assert denials[0].exe == "/bin/e1"
    assert denials[1].exe is None  # its SYSCALL was skipped: no comm/exe/syscall guessed from it
    assert all(set(d.perms) == {"read"} for d in denials)
    skipped = {s.line: s.reason for s in stats.skipped}
    assert sorted(skipped) == [3, 4, 5, 6, 7, 9]
    assert all(s.source == p for s in stats.skipped)
    assert "time over 10 digits" in skipped[3]
    assert "brace" in skipped[4] and "brace" in skipped[5]
    assert "serial over 20 digits" in skipped[6]
    assert "duplicate scontext=" in skipped[7] and "duplicate comm=" in skipped[9]
    assert stats.skipped_lines == 6


# --- read-once sources: pipes and FIFOs (issue 12) -----------------------------------

import threading  # noqa: E402

TIMEOUT = 120


def test_parallel_plan_never_opens_a_fifo(tmp_path):
    """--jobs 2 on a FIFO nobody writes to: planning must not open it (that
    would wait for a writer, and then the scan would find it drained)."""
    from avcfix import triage_parallel

    fifo = tmp_path / "audit.log"
    os.mkfifo(fifo)
    got: list = []
    t = threading.Thread(target=lambda: got.append(triage_parallel.plan([str(fifo)], 2)), daemon=True)
    t.start()
    t.join(TIMEOUT)
    if t.is_alive():  # unblock the open, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("plan() opened the FIFO")
    assert got == [None]
