"""``avcfix why --json``: the stable JSON document, written as a stream.

Top-level keys, in this (sorted) order: ``denials``, ``rules``, ``skipped``,
``sources``, ``stats``. Denials are written as they are found, so memory does
not grow with the log. Every object has sorted keys; the same input gives the
same bytes. No ``self`` appears anywhere: target types are real type names.

The document's pieces (denial and rule objects, the tail) come from
:mod:`avcfix.report.jsondoc`, which bundle's ``denials.json`` uses too;
:mod:`avcfix.triage` writes the stream (:mod:`avcfix.triage_parallel` its
ranges), and ``avcfix why`` asks for it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from typing import IO

from avcfix.audit.api import ScanStats
from avcfix.audit.model import Denial
from avcfix.report.jsondoc import DOCUMENT_HEAD, denial_text, denials_close, write_tail


def _send(src: int, dst: int, offset: int, end: int) -> bool:
    """Copy ``[offset, end)`` of file descriptor ``src`` to ``dst`` in the kernel.
    False when sendfile cannot write to ``dst`` (nothing was sent then); an
    error after the first bytes went out is raised."""
    start = offset
    while offset < end:
        try:
            sent = os.sendfile(dst, src, offset, end - offset)
        except OSError:
            if offset == start:
                return False
            raise
        if sent == 0:
            raise OSError(f"sendfile: end of file at {offset} of {end}")
        offset += sent
    return True


#: Denials encoded per write by :meth:`JsonStream.denials`.
BATCH = 512


class JsonStream:
    """Writes the document: ``denials`` while scanning, the rest at the end."""

    def __init__(self, out: IO[str], *, header: bool = True) -> None:
        self._out = out
        self._n = 0
        if header:
            out.write(DOCUMENT_HEAD)

    def denial(self, d: Denial) -> None:
        """Append one denial object."""
        self._write(self._out.write, [d])

    def denials(self, ds: Iterable[Denial], each: Callable[[Denial], object] | None = None) -> int:
        """Append every denial of ``ds`` (calling ``each`` on it); returns how many.

        Written a batch at a time (one join and one write per BATCH denials)."""
        write = self._out.write
        start = self._n
        batch: list[Denial] = []
        for d in ds:
            batch.append(d)
            if each is not None:
                each(d)
            if len(batch) == BATCH:
                self._write(write, batch)
                batch = []
        if batch:
            self._write(write, batch)
        return self._n - start

    def _write(self, write: Callable[[str], object], batch: list[Denial]) -> None:
        write(("\n  " if self._n == 0 else ",\n  ") + ",\n  ".join(map(denial_text, batch)))
        self._n += len(batch)

    def encoded(self, chunk: IO[bytes], count: int) -> None:
        """Append ``count`` denials already written by another JsonStream's
        :meth:`denials` (its text after the opening bracket), from a binary
        file. The text is ASCII (every string is escaped), so it goes as
        bytes to the output's file descriptor (``os.sendfile``: no copy in
        this process) when there is one, else through ``write``."""
        if count == 0:
            return
        head = chunk.read(3)  # "\n  " that starts the first object
        assert head == b"\n  ", head
        self._out.write("\n  " if self._n == 0 else ",\n  ")
        self._n += count
        raw = getattr(self._out, "buffer", None)
        if raw is not None:
            self._out.flush()
            raw.flush()
            try:
                src, dst = chunk.fileno(), raw.fileno()
            except (AttributeError, ValueError, io.UnsupportedOperation):
                src = dst = -1  # no descriptor: copy
            if dst >= 0 and _send(src, dst, 3, os.fstat(src).st_size):
                return
        chunk.seek(3)
        while True:
            block = chunk.read(1 << 20)
            if not block:
                break
            if raw is not None:
                raw.write(block)
            else:
                self._out.write(block.decode("ascii"))

    def finish(self, rules: Iterable[dict[str, object]], stats: ScanStats) -> None:
        """Close ``denials`` and write ``rules`` (taken one at a time),
        ``skipped``, ``sources``, ``stats``."""
        self._out.write(denials_close(self._n))
        write_tail(self._out.write, rules, stats)
