"""Allowed now, under a boolean: the policy file allows the access only through
a conditional rule whose boolean is at its default there, yet the kernel
denied it. The boolean is off on the machine that logged it (or was then).

setroubleshoot answers this from the live system (``catchall_boolean``); read
offline, libselinux's audit2why sees the policy file's defaults and says
``allowed_now``. The fix is to set the boolean back to the value under which
the rule is in force (``setsebool -P NAME on``). When an unconditional rule
allows it, no boolean is involved (the policy changed since): no advice.
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.protocol import Facts

NAME = "allowed_now"
REASONS = frozenset({Reason.ALLOWED_NOW})


def _covers(facts: Facts, rule_target: str, target: str, source: str) -> bool:
    if rule_target == "self":
        return target == source
    return rule_target == target or rule_target in facts.type_attributes(target)


def settings_for(s: Situation) -> list[tuple[str, bool]] | None:
    """The single-boolean settings under which every denied permission is allowed
    now; ``None`` when an unconditional rule allows one of them (no boolean involved)."""
    facts = s.facts
    if facts is None:
        return []  # no policy: no setting known
    common: set[tuple[str, bool]] | None = None
    for perm in s.perms:
        rules = [r for r in facts.allow_rules(s.source, s.tclass, perm) if _covers(facts, r.target, s.target, s.source)]
        if any(not r.condition for r in rules):
            return None
        found = set()
        for r in rules:
            if r.active and len(r.booleans) == 1:
                state = facts.boolean_state(r.booleans[0])
                if state is not None:
                    found.add((r.booleans[0], state))
        common = found if common is None else common & found
    return sorted(common or ())


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    if s.facts is None:
        return []
    found = settings_for(s)
    if not found:
        return []
    out = []
    for name, value in found:
        cmd = commands.setsebool(((name, value),))
        if cmd is None:
            continue
        desc = s.facts.boolean_description(name)
        word = "on" if value else "off"
        out.append(Advice(
            AdviceKind.BOOLEAN, cmd, 70 if len(found) == 1 else 55,
            f"this policy allows {s.source} {' '.join(s.perms)} on {s.target} only under {name}, which is {word} "
            f"by default; the kernel denied it, so {name} is not {word} on the machine that logged it. "
            f"Set it {word}" + (f" ({desc})" if desc else "") + ".",
            evidence=(f"policy: the rule granting it is conditional on {name} (default {word})",
                      "audit2why with the policy file's defaults: allowed_now")))
    return out
