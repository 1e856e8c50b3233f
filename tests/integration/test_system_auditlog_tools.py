"""The real audit trail (SystemTrail) reads the file from its checkpoint, never the
audit netlink socket (the reader's own tests: tests/unit/test_system_auditlog.py)."""

from __future__ import annotations

from pathlib import Path

from auditlog_lines import avc

from avcfix.system import trail as trail_mod
from avcfix.system.trail import SystemTrail


def test_system_trail_reads_the_file_from_its_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(avc(1, "old_t"))
    trail = SystemTrail(log, quiet=0.05)
    mark = trail.checkpoint()
    with open(log, "a") as fh:
        fh.write(avc(2, "new_t") + "garbage line that is not a record\n")
    read = trail.read_since(mark)
    assert [d.ttype for d in read.denials] == ["new_t"]
    assert read.skipped == 1 and any("could not be read" in w for w in read.warnings)


def test_the_trail_never_opens_the_audit_netlink_socket(tmp_path: Path, monkeypatch) -> None:
    """The kernel's audit multicast feed needs CAP_AUDIT_READ, which unconfined_t lacks: every
    attempt was refused and logged a denial of avcfix's own. The trail reads the file only."""
    import socket

    opened: list[tuple] = []
    real_socket = socket.socket

    def spy(*args, **kw):
        opened.append(args)
        return real_socket(*args, **kw)

    monkeypatch.setattr(socket, "socket", spy)
    log = tmp_path / "audit.log"
    log.write_text("")
    trail = SystemTrail(log, quiet=0.05)
    mark = trail.checkpoint()
    with open(log, "a") as fh:
        fh.write(avc(2, "new_t"))
    assert [d.ttype for d in trail.read_since(mark).denials] == ["new_t"]
    assert not [a for a in opened if getattr(socket, "AF_NETLINK", None) in a]
    assert not hasattr(trail_mod, "LiveFeed")
