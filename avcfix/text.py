"""Log text as people see it: the one place control characters are made visible.

Everything a log carries (comm, exe, path, type names, proctitle) is
attacker-controlled. Before it reaches a terminal, a plain-text report or a
Markdown bug report, :func:`visible` shows every non-printable character
(newlines, tabs, terminal escapes, Unicode separators) as ``\\xNN`` (``?``
beyond Latin-1), so the text can neither forge a line of output nor drive
the terminal. Markup escaping (rich's brackets, Markdown's backticks) is the
caller's, on top of this.
"""

from __future__ import annotations


def visible(value: object) -> str:
    """``str(value)`` with every non-printable character shown as ``\\xNN`` (``?`` past U+00FF)."""
    s = str(value)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else "?" for c in s)
