"""Boolean: the policy already has the rule, under a boolean.

setroubleshoot's ``catchall_boolean``. libselinux's audit2why names every
boolean (or pair) that would allow the access; the advice is ``setsebool -P``
for each alternative.
"""

from __future__ import annotations

from typing import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.advisors.port_label import related
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "boolean"
REASONS = frozenset({Reason.BOOLEAN})

#: Most boolean alternatives turned into separate advice.
MAX_ALTERNATIVES = 4


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    facts = s.facts
    out = []
    ordered = sorted(s.verdict.booleans, key=lambda alt: (len(alt), alt))[:MAX_ALTERNATIVES]
    for alt in ordered:
        cmd = commands.setsebool(alt)
        if cmd is None:
            continue
        descs = []
        for name, value in alt:
            desc = facts.boolean_description(name) if facts is not None else None
            descs.append(f"{name}={'on' if value else 'off'}" + (f" ({desc})" if desc else ""))
        both = "together " if len(alt) > 1 else ""
        conf = (85 if len(alt) == 1 else 70) - 5 * (len(ordered) - 1)
        if len(ordered) > 1 and not any(related(s.source, name) for name, _ in alt):
            conf -= 10  # a boolean named after another service or subsystem: less likely the fix
        out.append(Advice(
            AdviceKind.BOOLEAN, cmd, max(conf, 40),
            f"the policy already has this rule under a boolean; setting {both}" + "; ".join(descs)
            + " allows it (and everything else the boolean covers).",
            evidence=(f"audit2why: {' and '.join(f'{n}={v}' for n, v in alt)} would allow "
                      f"{s.source} {s.target}:{s.tclass} {' '.join(s.perms)}",)))
    return out
