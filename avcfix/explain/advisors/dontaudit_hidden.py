"""Dontaudit-hidden: a denial a dontaudit rule normally keeps out of the log.

libselinux's audit2why says DONTAUDIT: the policy has a ``dontaudit`` rule
for the access, so it is logged only while dontaudit rules are disabled
(``semodule -DB``). Such denials are often harmless probes, but a service
can fail silently on one. When the object is mislabeled, the relabel
advisors above answer it (their ``REASONS`` include DONTAUDIT); otherwise
this advisor adds one low-confidence note: the denial is normally hidden,
how to see such denials and how to hide them again.
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.explain.advisors import Situation, labels
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "dontaudit_hidden"
REASONS = frozenset({Reason.DONTAUDIT})

#: The note's confidence: it is information, not a fix.
NOTE_CONFIDENCE = 20


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    if any(a.kind in labels.RELABEL_KINDS for a in earlier):
        return []
    return [Advice(
        AdviceKind.DONTAUDIT, "semodule -B", NOTE_CONFIDENCE,
        f"a dontaudit rule hides this denial ({s.source} {s.target}:{s.tclass} {labels.perms_text(s.perms)}): "
        "it is normally not logged, and was only because dontaudit rules were off (semodule -DB). It is "
        "often a harmless probe; if the service works, restore the dontaudit rules with semodule -B. If the "
        "service fails silently, this hidden denial may be why: look for a mislabeled object or a missing "
        "rule (semodule -DB shows these denials again).",
        evidence=(f"audit2why: dontaudit {s.source} {s.target}:{s.tclass} {labels.perms_text(s.perms)}",))]
