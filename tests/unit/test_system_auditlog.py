"""The audit log's checkpoint reader over a growing, truncated and rotated log (the
real SystemTrail: tests/integration/test_system_auditlog_tools.py)."""

from __future__ import annotations

import os
from pathlib import Path

from auditlog_lines import avc

from avcfix.system import auditlog
from avcfix.system.trail import read_until_quiet


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


class _FakeTime:
    """A clock that advances only when slept on; SLEEP(N) runs the hooks due by then."""

    def __init__(self, hooks: dict[float, object]) -> None:
        self.now = 0.0
        self.hooks = dict(hooks)
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, secs: float) -> None:
        self.sleeps += 1
        self.now = round(self.now + secs, 6)
        for at in sorted(self.hooks):
            if at <= self.now:
                self.hooks.pop(at)()


def test_records_that_arrive_after_the_first_read_are_waited_for(tmp_path: Path) -> None:
    """auditd may write a record a moment after the service exited: the trail re-reads until quiet."""
    log = tmp_path / "audit.log"
    log.write_text(avc(1, "old_t"))
    mark = auditlog.checkpoint(log)

    def append(serial: int, t: str):
        def do() -> None:
            with open(log, "a") as fh:
                fh.write(avc(serial, t))
        return do

    # one record at once, one 0.5 s later, one 0.9 s after that (each within QUIET of the last)
    append(2, "first_t")()
    fake = _FakeTime({0.5: append(3, "late_t"), 1.4: append(4, "later_t")})
    data, notes = read_until_quiet(mark, quiet=1.0, poll=0.1, max_wait=10.0,
                                   clock=fake.clock, sleep=fake.sleep)
    assert _targets(data) == ["first_t", "late_t", "later_t"] and notes == ()
    assert 2.4 <= fake.now < 2.6  # stopped once nothing came for QUIET seconds after the last record
    # a record QUIET seconds after the last one is left for the next read (the next checkpoint has it)
    fake = _FakeTime({3.0: append(5, "too_late_t")})
    mark = auditlog.checkpoint(log)
    data, _ = read_until_quiet(mark, quiet=1.0, poll=0.1, clock=fake.clock, sleep=fake.sleep)
    assert _targets(data) == [] and fake.now < 1.2
    # a log that never goes quiet is read for MAX_WAIT seconds at most
    mark = auditlog.checkpoint(log)
    fake = _FakeTime({})
    fake.hooks = {round(0.1 * i, 6): append(100 + i, "noisy_t") for i in range(1, 200)}
    data, _ = read_until_quiet(mark, quiet=1.0, poll=0.1, max_wait=3.0, clock=fake.clock, sleep=fake.sleep)
    assert 25 <= len(_targets(data)) <= 31 and fake.now <= 3.1


def test_rotation_while_waiting_is_followed(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1, "old_t"))
    mark = auditlog.checkpoint(log)

    def rotate() -> None:
        with open(log, "a") as fh:
            fh.write(avc(2, "before_rotation_t"))
        os.rename(log, tmp_path / "audit.log.1")
        log.write_text(avc(3, "after_rotation_t"))

    fake = _FakeTime({0.3: rotate})
    data, notes = read_until_quiet(mark, quiet=1.0, poll=0.1, clock=fake.clock, sleep=fake.sleep)
    assert _targets(data) == ["before_rotation_t", "after_rotation_t"]
    assert any("rotated" in n for n in notes)
