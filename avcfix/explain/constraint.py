"""Which parts of two contexts a failed constraint is about (pure)."""

from __future__ import annotations

import re

from avcfix.audit.model import Context

#: Constraint operands, by the context part they compare.
_OPERANDS = {
    "user": re.compile(r"\bu[12]\b"),
    "role": re.compile(r"\br[12]\b"),
    "level": re.compile(r"\b[lh][12]\b"),
}

#: A failed sub-expression in libsepol's explanation: ``(u1 == u2 -Fail-)``.
_FAILED_RE = re.compile(r"\(([^()]*?)-Fail-\)")


def constraint_differs(text: str, scontext: str, tcontext: str) -> tuple[str, ...]:
    """The parts (``user``, ``role``, ``level``) that differ and matter.

    A part is named when the failed terms of ``text`` (libsepol marks them
    ``-Fail-``; the whole text when none is marked) compare it and the two
    contexts disagree on it. When none of the compared parts differ (the
    constraint compares a part with a fixed set of names), every compared
    part is named, so the answer is never empty for a real constraint.
    """
    failed = " ".join(_FAILED_RE.findall(text)) or text
    mentioned = [part for part, rx in _OPERANDS.items() if rx.search(failed)]
    s = Context.parse(scontext)
    t = Context.parse(tcontext)
    if s is None or t is None:
        return tuple(mentioned)
    values = {
        "user": (s.user, t.user),
        "role": (s.role, t.role),
        "level": (s.level, t.level),
    }
    differing = tuple(p for p in mentioned if values[p][0] != values[p][1])
    return differing or tuple(mentioned)
