"""The optional C accelerator (``avcfix/audit/_cscan.c``).

``cscan`` is the compiled module, or ``None`` when it is not built (no C
compiler at install time), was built from another version of the source, or
``AVCFIX_PURE=1`` is set. Every function in it has a pure-Python twin that
stays the reference: the block scan (:mod:`avcfix.audit.scanner`), the event
fields (:func:`avcfix.audit.fastpath.event_fields`) and the denial JSON text
(:func:`avcfix.report.jsondoc.denial_text`). ``tests/integration/test_accel.py`` checks
that each gives exactly what its twin gives, on the corpus, generated logs
and arbitrary input.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from avcfix.audit.fastpath import AvcFields, EventFields, Memo
    from avcfix.audit.model import Denial, PathItem
    from avcfix.audit.scanner import RawEvent

#: The interface version this Python code expects from ``_cscan``.
API = 6


class CScan(Protocol):
    """What the Python code calls in ``_cscan`` (``_cscan.pyi`` types the
    module, which satisfies this)."""

    API: int

    def scan_block(self, text: bytes, end: int, first_line: int, wanted: Container[bytes] | None, with_marks: bool,
                   /) -> tuple[int, set[bytes], set[bytes], dict[bytes, RawEvent]] | None: ...
    def event_fields(self, raw: RawEvent, /) -> EventFields | None: ...
    def event_denials(self, raw: RawEvent, source: str, memo: Memo, /) -> list[Denial] | None: ...
    def keep_heap(self, nbytes: int, /) -> bool: ...
    def count_newlines(self, buffer: bytes | bytearray | memoryview, end: int, /) -> int: ...
    def configure(self, denial: type[Denial], field_names: tuple[str, ...],
                  resolve_path: Callable[[str, str | None], str],
                  sort_avcs: Callable[[list[AvcFields]], list[AvcFields]],
                  ioctl_value: Callable[[bytes], int | None], capability_value: Callable[[bytes], int | None],
                  path_item: type[PathItem], path_item_names: tuple[str, ...],
                  sort_items: Callable[[list[PathItem]], list[PathItem]], /) -> None: ...
    def denial_text(self, denial: Denial, /) -> str: ...
    def set_denial_fallback(self, f: Callable[[Denial], str], /) -> None: ...


def _load() -> CScan | None:
    if os.environ.get("AVCFIX_PURE", "") not in ("", "0"):
        return None
    try:
        from avcfix.audit import _cscan
    except ImportError:
        return None
    return _cscan if getattr(_cscan, "API", None) == API else None


cscan: CScan | None = _load()
