"""Opening log sources: files (plain or gzip), stdin (``-``), in big blocks.

The one place in ``audit/`` that touches the filesystem. Every problem with a
source (missing, a directory, permission denied, a broken gzip stream)
becomes an :class:`~avcfix.errors.InputError` naming it.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from avcfix.errors import InputError

#: Bytes read per block: large enough to amortise Python overhead per line.
BLOCK_SIZE = 1 << 20

STDIN = "-"


@dataclass(frozen=True, slots=True)
class Source:
    """A checked input: its display name, path (None for stdin) and size."""

    name: str
    path: str | None
    size: int | None
    gzipped: bool = False


def check_source(name: str) -> Source:
    """Validate one source before reading; raise :class:`InputError` if unusable."""
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
    if os.path.isdir(name):
        raise InputError(f"{name}: is a directory (pass the log files inside it)")
    try:
        with open(name, "rb") as fh:
            magic = fh.read(2)
    except PermissionError:
        raise InputError(f"{name}: permission denied (try sudo, or copy the log)") from None
    except OSError as exc:
        raise InputError(f"{name}: {exc.strerror or exc}") from None
    return Source(name=name, path=name, size=st.st_size, gzipped=magic == b"\x1f\x8b")


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
            fh = stdin if stdin is not None else sys.stdin.buffer
            done = 0
            while True:
                block = fh.read(BLOCK_SIZE)
                if not block:
                    return
                done += len(block)
                yield block, done
        raw = open(src.path, "rb")
        with raw:
            fh2: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if src.gzipped else raw  # type: ignore[assignment]
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
    if src.path is None or src.gzipped:
        raise ValueError("byte ranges need a plain file")
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
