"""Reading an audit log from a checkpoint: inode + offset, surviving rotation.

A :class:`LogCheckpoint` records the log file's inode and size at one moment.
:func:`read_new` returns the complete lines written after it:

- same inode, file grew: the bytes from the offset on;
- same inode, file shrank (truncated, ``copytruncate``): everything from 0,
  with a warning;
- another inode (auditd rotated ``audit.log`` to ``audit.log.1`` and opened
  a new file): the rest of the old file, found among ``audit.log.1..N`` by
  its inode, then the new file from 0.

Only whole lines are returned: a record auditd is still writing (no newline
yet) is left for the next read, and the returned checkpoint points just
before it. The reader never holds the file open between calls.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from avcfix.audit.api import ScanStats, events_to_denials
from avcfix.audit.model import Denial
from avcfix.audit.scanner import scan_raw_events
from avcfix.errors import InputError

#: Bytes hashed to fingerprint a log file.
HEAD_BYTES = 256

#: How many rotated files (``audit.log.1`` .. ``.N``) are searched for the old inode.
MAX_ROTATED = 9


@dataclass(frozen=True, slots=True)
class LogCheckpoint:
    """Where reading resumes: the file, its inode and the byte offset."""

    path: str
    inode: int | None
    offset: int
    #: Hash of the file's first bytes: tells a new file that reused the inode number.
    head: str = ""


@dataclass(frozen=True, slots=True)
class NewLines:
    """What was written since a checkpoint."""

    data: bytes
    #: Where the next read resumes.
    checkpoint: LogCheckpoint
    #: Human notes: rotation followed, truncation, old file lost...
    notes: tuple[str, ...] = ()
    #: Where the data came from, for messages (``audit.log.1 from byte N``...).
    sources: tuple[str, ...] = ()


def checkpoint(path: str | os.PathLike[str]) -> LogCheckpoint:
    """The end of the log now (a missing file is a checkpoint at 0 of no inode)."""
    p = str(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return LogCheckpoint(p, None, 0)
    except OSError as exc:
        raise InputError(f"{p}: {exc.strerror or exc}") from None
    return LogCheckpoint(p, st.st_ino, st.st_size, _head(p, st.st_size))


def _head(path: str, size: int) -> str:
    """Fingerprint of the first bytes (up to ``size``) of ``path``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(min(size, HEAD_BYTES))
    except OSError:
        return ""
    return hashlib.sha256(data).hexdigest()[:16]


def _read_from(path: str, offset: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read()
    except FileNotFoundError:
        return b""
    except PermissionError:
        raise InputError(f"{path}: permission denied (the audit log is root's: run with sudo)") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None


def _rotated_with_inode(path: str, inode: int) -> str | None:
    for i in range(1, MAX_ROTATED + 1):
        candidate = f"{path}.{i}"
        try:
            if os.stat(candidate).st_ino == inode:
                return candidate
        except OSError:
            continue
    return None


def _whole_lines(data: bytes) -> tuple[bytes, int]:
    """The data up to its last newline, and how many bytes were left over."""
    end = data.rfind(b"\n") + 1
    return data[:end], len(data) - end


def read_new(mark: LogCheckpoint) -> NewLines:
    """Every complete line written to the log after ``mark`` (see the module doc)."""
    path = mark.path
    try:
        st = os.stat(path)
        inode, size = st.st_ino, st.st_size
    except FileNotFoundError:
        inode, size = None, 0
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    notes: list[str] = []
    sources: list[str] = []
    chunks: list[bytes] = []

    same_file = mark.inode is not None and inode == mark.inode
    if same_file and mark.head and _head(path, min(size, HEAD_BYTES, mark.offset)) != mark.head:
        if size >= min(HEAD_BYTES, mark.offset):
            # the inode number was reused by a new file: the old one is gone
            same_file = False
    if same_file:
        start = mark.offset
        if size < mark.offset:
            notes.append(f"{path} shrank from {mark.offset} to {size} bytes (truncated): read from its start")
            start = 0
        data, _left = _whole_lines(_read_from(path, start))
        sources.append(f"{path} from byte {start}")
        end = start + len(data)
        return NewLines(data, LogCheckpoint(path, inode, end, _head(path, end)), tuple(notes), tuple(sources))

    if mark.inode is not None:
        old = _rotated_with_inode(path, mark.inode) if inode != mark.inode else None
        if old is None:
            notes.append(f"{path} was rotated and its previous file is gone: "
                         "denials logged just before the rotation may be missing")
        else:
            tail = _read_from(old, mark.offset)
            if tail and not tail.endswith(b"\n"):
                tail += b"\n"  # the old file is complete: auditd closed it
            chunks.append(tail)
            sources.append(f"{old} from byte {mark.offset}")
            notes.append(f"{path} was rotated: read the rest of {old}, then the new {path}")
    if inode is None:
        data = b"".join(chunks)
        return NewLines(data, LogCheckpoint(path, None, 0), tuple(notes), tuple(sources))
    fresh, _left = _whole_lines(_read_from(path, 0))
    chunks.append(fresh)
    sources.append(f"{path} from byte 0")
    return NewLines(b"".join(chunks), LogCheckpoint(path, inode, len(fresh), _head(path, len(fresh))),
                    tuple(notes), tuple(sources))


def denials_in(data: bytes, source: str, stats: ScanStats | None = None) -> list[Denial]:
    """Parse raw log bytes (whole lines) into denials with avcfix's own parser."""
    stats = stats if stats is not None else ScanStats()
    out: list[Denial] = []
    for raw in scan_raw_events([data], source, stats, stats.skip):
        out.extend(events_to_denials(raw, source, stats))
    return out
