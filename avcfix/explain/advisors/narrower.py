"""Narrower permission: a broad permission whose narrow sibling is often enough.

``dac_override`` where ``dac_read_search`` would do: the kernel asks for the
narrow one first, so when the log shows it denied too, the narrow rule is very
likely enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "narrower_perm"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY})


@dataclass(frozen=True, slots=True)
class Narrower:
    """A permission that is often enough where a broader one was denied."""

    tclass: str
    denied: str
    instead: str
    why: str


_DAC = ("dac_read_search is enough to read or search files the process does not own; "
        "dac_override also lets it write them. Better still: fix the files' owner or mode.")

#: The narrower-permission table (data).
NARROWER: tuple[Narrower, ...] = (
    Narrower("capability", "dac_override", "dac_read_search", _DAC),
    Narrower("cap_userns", "dac_override", "dac_read_search", _DAC),
)


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    out = []
    for n in NARROWER:
        if s.tclass != n.tclass or n.denied not in s.perms:
            continue
        rule = commands.allow_rule(s.source, s.target, s.tclass, [n.instead])
        if rule is None:
            continue
        tried = n.instead in s.also_denied
        out.append(Advice(AdviceKind.NARROWER_PERM, rule, 80 if tried else 45,
                          n.why + (f" The log shows {n.instead} denied too: the kernel tried it first."
                                   if tried else ""),
                          evidence=(f"log: {n.instead} denied too" if tried else f"log: {n.denied} denied",)))
    return out
