"""The real audit trail's checkpoint reader over a growing, truncated and rotated log."""

from __future__ import annotations

import os
from pathlib import Path

from avcfix.system import auditlog
from avcfix.system.trail import SystemTrail, merge_denials, netlink_lines

AVC = ('type=AVC msg=audit(1700000001.{ms:03d}:{serial}): avc:  denied  {{ read }} for  pid=2 comm="d" '
       'name="f" scontext=system_u:system_r:eucalyptus_eucanetd_t:s0 '
       'tcontext=system_u:object_r:{t}:s0 tclass=file permissive=0\n')


def avc(serial: int, t: str = "etc_t") -> str:
    return AVC.format(ms=serial % 1000, serial=serial, t=t)


def _targets(data: bytes) -> list[str]:
    return [d.ttype for d in auditlog.denials_in(data, "test")]


def test_growing_log_reads_only_new_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1, "old_t"))
    mark = auditlog.checkpoint(log)
    assert _targets(auditlog.read_new(mark).data) == []
    with open(log, "a") as fh:
        fh.write(avc(2, "new_t"))
        half = avc(3, "half_t")
        fh.write(half[:40])  # auditd is still writing this record
    new = auditlog.read_new(mark)
    assert _targets(new.data) == ["new_t"]
    with open(log, "a") as fh:
        fh.write(half[40:])
    again = auditlog.read_new(new.checkpoint)
    assert _targets(again.data) == ["half_t"]
    assert auditlog.read_new(again.checkpoint).data == b""


def test_rotation_reads_the_rest_of_the_old_file_then_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1, "before_t"))
    mark = auditlog.checkpoint(log)
    with open(log, "a") as fh:
        fh.write(avc(2, "tail_of_old_t"))
    os.rename(log, tmp_path / "audit.log.1")  # what auditd's rotation does
    log.write_text(avc(3, "first_of_new_t"))
    new = auditlog.read_new(mark)
    assert _targets(new.data) == ["tail_of_old_t", "first_of_new_t"]
    assert any("rotated" in n for n in new.notes)
    assert new.checkpoint.inode == os.stat(log).st_ino
    # and it keeps following the new file
    with open(log, "a") as fh:
        fh.write(avc(4, "later_t"))
    assert _targets(auditlog.read_new(new.checkpoint).data) == ["later_t"]


def test_rotation_twice_finds_the_old_inode_further_down(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1, "a_t"))
    mark = auditlog.checkpoint(log)
    with open(log, "a") as fh:
        fh.write(avc(2, "b_t"))
    os.rename(log, tmp_path / "audit.log.1")
    log.write_text(avc(3, "c_t"))
    os.rename(tmp_path / "audit.log.1", tmp_path / "audit.log.2")
    os.rename(log, tmp_path / "audit.log.1")
    log.write_text(avc(4, "d_t"))
    # the old file is found by inode as .2; what was in .1 (c_t) is not reachable from the mark's file
    assert _targets(auditlog.read_new(mark).data) == ["b_t", "d_t"]


def test_rotated_file_gone_warns(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1))
    mark = auditlog.checkpoint(log)
    log.unlink()
    log.write_text(avc(2, "new_t"))
    new = auditlog.read_new(mark)
    assert _targets(new.data) == ["new_t"]
    assert any("may be missing" in n for n in new.notes)


def test_truncated_log_is_read_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1) + avc(2) + avc(3))
    mark = auditlog.checkpoint(log)
    with open(log, "r+") as fh:  # copytruncate keeps the inode
        fh.truncate(0)
    with open(log, "a") as fh:
        fh.write(avc(4, "after_t"))
    new = auditlog.read_new(mark)
    assert _targets(new.data) == ["after_t"]
    assert any("truncated" in n for n in new.notes)


def test_missing_log_then_created(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    mark = auditlog.checkpoint(log)
    assert mark.inode is None
    assert auditlog.read_new(mark).data == b""
    log.write_text(avc(1, "x_t"))
    assert _targets(auditlog.read_new(mark).data) == ["x_t"]


def test_system_trail_reads_the_file_without_a_live_feed(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1, "old_t"))
    trail = SystemTrail(log, live=False)
    mark = trail.checkpoint()
    with open(log, "a") as fh:
        fh.write(avc(2, "new_t") + "garbage line that is not a record\n")
    read = trail.read_since(mark)
    assert [d.ttype for d in read.denials] == ["new_t"]
    assert read.skipped == 1 and any("could not be read" in w for w in read.warnings)


def test_netlink_datagrams_decode_to_log_lines() -> None:
    import struct

    payload = b'audit(1700000001.005:77): avc:  denied  { read } for  pid=2 comm="d" ' \
              b'scontext=system_u:system_r:a_t:s0 tcontext=system_u:object_r:b_t:s0 tclass=file permissive=0'
    msg = struct.pack("=IHHII", 16 + len(payload), 1400, 0, 0, 0) + payload
    msg += b"\0" * ((4 - len(msg) % 4) % 4)
    eoe = b"audit(1700000001.005:77): "
    msg2 = struct.pack("=IHHII", 16 + len(eoe), 1320, 0, 0, 0) + eoe
    lines = netlink_lines(msg + msg2)
    assert lines[0].startswith("type=AVC msg=audit(1700000001.005:77): avc:  denied")
    assert lines[1].startswith("type=EOE msg=audit(")
    assert netlink_lines(b"\x01\x02") == []  # a short datagram is ignored, not a crash
    ds = auditlog.denials_in(("\n".join(lines) + "\n").encode(), "feed")
    assert [(d.stype, d.ttype) for d in ds] == [("a_t", "b_t")]


def test_feed_and_file_are_merged_without_double_counting(tmp_path: Path) -> None:
    a = auditlog.denials_in((avc(1, "both_t") + avc(2, "file_only_t")).encode(), "file")
    b = auditlog.denials_in((avc(1, "both_t") + avc(3, "feed_only_t")).encode(), "feed")
    merged = merge_denials(a, b)
    assert [d.ttype for d in merged] == ["both_t", "file_only_t", "feed_only_t"]


def test_system_trail_with_the_live_feed_still_reads_the_file(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1, "old_t"))
    trail = SystemTrail(log, live=True)  # the feed may or may not open here: either way the file counts
    mark = trail.checkpoint()
    with open(log, "a") as fh:
        fh.write(avc(2, "new_t"))
    read = trail.read_since(mark)
    assert [d.ttype for d in read.denials] == ["new_t"]


def test_auditd_batching_is_detected_and_warned_without_the_feed(tmp_path: Path) -> None:
    from avcfix.system.trail import batched_writes

    assert batched_writes("") == 50  # Debian's defaults: incremental_async, freq 50
    assert batched_writes("flush = INCREMENTAL_ASYNC\nfreq = 50\n") == 50
    assert batched_writes("flush = incremental\nfreq = 1\n") is None
    assert batched_writes("flush = data\nfreq = 50\n") is None
    conf = tmp_path / "auditd.conf"
    conf.write_text("flush = INCREMENTAL_ASYNC\nfreq = 50\n")
    log = tmp_path / "audit.log"
    log.write_text("")
    trail = SystemTrail(log, live=False, auditd_conf=conf)
    mark = trail.checkpoint()
    # live=False gives no feed note, so no batching warning either; a failed feed does
    assert not any("batches" in w for w in trail.read_since(mark).warnings)
    import dataclasses

    mark = dataclasses.replace(trail.checkpoint(), feed_note="no live audit feed (test)")
    warnings = trail.read_since(mark).warnings
    assert any("batches of 50" in w for w in warnings)
