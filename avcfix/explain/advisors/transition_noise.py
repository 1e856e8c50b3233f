"""Transition noise: ``noatsecure``, ``rlimitinh``, ``siginh`` at a domain transition.

When a process changes domain on exec, the kernel asks whether the old domain
may skip AT_SECURE (``noatsecure``), pass on its resource limits
(``rlimitinh``) and its signal state (``siginh``). Denying them only makes the
new program start clean, which is what a confined service wants: the program
still runs. setroubleshoot's ``noatsecure`` plugin calls them harmless noise;
refpolicy dontaudits them for every transition it writes
(``domain_transition_pattern``), Fedora for every domain. The fix is a
dontaudit of the logged permissions, never an allow rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "transition_noise"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY})

#: The permissions checked at a domain transition whose denial is harmless.
NOISE = frozenset({"noatsecure", "rlimitinh", "siginh"})


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    if s.tclass != "process" or not s.perms or not set(s.perms) <= NOISE:
        return []
    rule = commands.dontaudit_rule(s.source, s.target, "process", s.perms)
    if rule is None:
        return []
    evidence = [f"log: {' '.join(s.perms)} on class process from {s.source} to {s.target}"]
    if s.facts is not None:
        if "transition" in s.facts.granted_perms(s.source, s.target, "process"):
            confidence = 85
            evidence.append(f"policy: allow {s.source} {s.target}:process transition (a domain transition)")
        elif "transition" in s.also_denied:
            confidence = 70
            evidence.append("log: the transition itself was denied too")
        else:
            confidence = 70
    else:
        confidence = 60
    return [Advice(
        AdviceKind.DONTAUDIT, rule, confidence,
        f"{' '.join(s.perms)} are checked when {s.source} starts a program in {s.target}: denying them only "
        "clears the environment, resource limits and signal state the new program inherits, and it "
        "still runs. This is noise (refpolicy and Fedora dontaudit it); silence it, do not allow it.",
        evidence=tuple(evidence))]
