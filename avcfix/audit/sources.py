"""Opening log sources: files (plain or gzip), stdin (``-``), in big blocks.

The one place in ``audit/`` that touches the filesystem. Every problem with a
source (missing, a directory, permission denied, a broken gzip stream)
becomes an :class:`~avcfix.errors.InputError` naming it.

A regular file is sniffed (gzip or not) and read again from its start, or
from any byte range (the parallel scan). Any other named source (a pipe such
as ``<(cat log.gz)``, a FIFO, a character device) can be read only once: it
is opened once, its first bytes are sniffed and kept, and the rest is
streamed after them, never seeked. Stdin (``-``) is streamed as plain text.
"""

from __future__ import annotations

import gzip
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from avcfix.errors import InputError

#: Bytes read per block: large enough to amortise Python overhead per line.
BLOCK_SIZE = 1 << 20

STDIN = "-"

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Source:
    """A checked input: its display name, path (None for stdin) and size.

    ``stream`` is set for a source that can be read only once (a pipe, FIFO
    or character device): the file checking opened, whose first bytes
    (``head``) it has already read.
    """

    name: str
    path: str | None
    size: int | None
    gzipped: bool = False
    stream: BinaryIO | None = field(default=None, compare=False, repr=False)
    head: bytes = b""

    @property
    def seekable(self) -> bool:
        """A regular file: it can be read again, and by byte ranges."""
        return self.path is not None and self.stream is None


def is_regular_file(name: str) -> bool:
    """``name`` is a regular file (never opens it: a FIFO is not touched)."""
    if name == STDIN:
        return False
    try:
        return stat.S_ISREG(os.stat(name).st_mode)
    except OSError:
        return False


def _read_exact(fh: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes, fewer only at the end of the input."""
    data = b""
    while len(data) < n:
        got = fh.read(n - len(data))
        if not got:
            break
        data += got
    return data


def check_source(name: str) -> Source:
    """Validate one source before reading; raise :class:`InputError` if unusable.

    A source that is not a regular file is opened here, once (opening a FIFO
    waits for its writer), and stays open for :func:`read_blocks`."""
    if name == STDIN:
        return Source(name="<stdin>", path=None, size=None)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{name}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{name}: is a directory (pass the log files inside it)")
    regular = stat.S_ISREG(st.st_mode)
    try:
        fh = open(name, "rb")
    except PermissionError:
        raise InputError(f"{name}: permission denied (try sudo, or copy the log)") from None
    except OSError as exc:
        raise InputError(f"{name}: {exc.strerror or exc}") from None
    try:
        magic = _read_exact(fh, 2)
    except OSError as exc:
        fh.close()
        raise InputError(f"{name}: {exc.strerror or exc}") from None
    if regular:
        fh.close()
        return Source(name=name, path=name, size=st.st_size, gzipped=magic == GZIP_MAGIC)
    return Source(name=name, path=name, size=None, gzipped=magic == GZIP_MAGIC, stream=fh, head=magic)


class _Stream:
    """A read-once input whose first bytes were already read (to sniff it):
    ``read`` gives them back first. ``done`` counts the bytes read."""

    def __init__(self, head: bytes, fh: BinaryIO) -> None:
        self._head = head
        self._fh = fh
        self.done = 0
        self.mode = "rb"

    def read(self, n: int | None = -1) -> bytes:
        head, self._head = self._head, b""
        if n is None or n < 0:
            data = head + (self._fh.read() or b"")
        elif len(head) >= n:
            data, self._head = head[:n], head[n:]
        else:
            data = head + _read_exact(self._fh, n - len(head))
        self.done += len(data)
        return data


def _stream_blocks(src: Source, fh: BinaryIO, head: bytes) -> Iterator[tuple[bytes, int]]:
    """The blocks of a read-once input after its first bytes ``head``."""
    raw = _Stream(head, fh)
    reader: BinaryIO | _Stream = raw
    if src.gzipped:
        reader = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[call-overload]  # typeshed's fileobj wants seek() too; a forward read never seeks
    while True:
        block = reader.read(BLOCK_SIZE)
        if not block:
            return
        yield block, raw.done


def read_blocks(src: Source, stdin: BinaryIO | None = None, *, start: int = 0,
                end: int | None = None) -> Iterator[tuple[bytes, int]]:
    """Yield ``(block, compressed_bytes_read_so_far)`` for a checked source.

    ``start``/``end`` read only that byte range of a plain file (the parallel
    scan gives each worker a range that starts and ends at a line start).
    """
    if start or end is not None:
        yield from _read_range(src, start, end)
        return
    try:
        if src.path is None:
            # stdin is plain text, as it always was (``zcat log.gz | avcfix why -``).
            yield from _stream_blocks(src, stdin if stdin is not None else sys.stdin.buffer, b"")
            return
        if src.stream is not None:
            with src.stream:
                yield from _stream_blocks(src, src.stream, src.head)
            return
        raw = open(src.path, "rb")
        with raw:
            fh2: gzip.GzipFile | BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if src.gzipped else raw
            while True:
                block = fh2.read(BLOCK_SIZE)
                if not block:
                    return
                yield block, raw.tell()
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise InputError(f"{src.name}: broken gzip data: {exc}") from None
    except IsADirectoryError:
        raise InputError(f"{src.name}: is a directory") from None
    except PermissionError:
        raise InputError(f"{src.name}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{src.name}: {exc.strerror or exc}") from None


def _read_range(src: Source, start: int, end: int | None) -> Iterator[tuple[bytes, int]]:
    if not src.seekable or src.gzipped or src.path is None:
        raise ValueError("byte ranges need a plain regular file")
    try:
        with open(src.path, "rb") as fh:
            fh.seek(start)
            pos = start
            while end is None or pos < end:
                want = BLOCK_SIZE if end is None else min(BLOCK_SIZE, end - pos)
                block = fh.read(want)
                if not block:
                    return
                pos += len(block)
                yield block, pos
    except PermissionError:
        raise InputError(f"{src.name}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{src.name}: {exc.strerror or exc}") from None
