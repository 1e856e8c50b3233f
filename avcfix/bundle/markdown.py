"""Markdown that log text cannot break (pure).

Every log-derived value goes into a code span whose fence is longer than any
run of backticks inside it, with control characters made visible, so a
crafted comm or path cannot add markup, links or HTML to the issue text.
"""

from __future__ import annotations

import re

from avcfix.text import visible

_TICKS = re.compile(r"`+")


def code(text: object, cell: bool = False) -> str:
    """An inline code span of ``text`` (``cell``: safe inside a table cell)."""
    s = visible(text)
    if cell:
        s = s.replace("|", "\\|")
    longest = max((len(m.group(0)) for m in _TICKS.finditer(s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def fenced(text: str, lang: str = "") -> str:
    """A fenced code block of ``text`` whose fence no line of it can close."""
    longest = max((len(m.group(0)) for m in _TICKS.finditer(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{lang}\n{body}{fence}\n"
