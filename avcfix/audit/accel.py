"""The optional C accelerator (``avcfix/audit/_cscan.c``).

``cscan`` is the compiled module, or ``None`` when it is not built (no C
compiler at install time), was built from another version of the source, or
``AVCFIX_PURE=1`` is set. Every function in it has a pure-Python twin that
stays the reference: the block scan (:mod:`avcfix.audit.scanner`), the event
fields (:func:`avcfix.audit.fastpath.event_fields`) and the denial JSON text
(:func:`avcfix.report.jsondoc.denial_text`). ``tests/test_accel.py`` checks
that each gives exactly what its twin gives, on the corpus, generated logs
and arbitrary input.
"""

from __future__ import annotations

import os
from types import ModuleType

#: The interface version this Python code expects from ``_cscan``.
API = 6


def _load() -> ModuleType | None:
    if os.environ.get("AVCFIX_PURE", "") not in ("", "0"):
        return None
    try:
        from avcfix.audit import _cscan  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _cscan if getattr(_cscan, "API", None) == API else None


cscan: ModuleType | None = _load()
