"""Catchall: the allow rule ``avcfix build`` would write. Always last.

setroubleshoot's ``catchall``. Its confidence says how sure the engine is that
a new rule is the fix: high only when the policy was read and nothing else
applies; low when a better-aimed fix was found above it.
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.generic import GENERIC_FILE_TYPES, GENERIC_PORT_TYPES, PORT_PERMS, PORT_PROTOCOLS
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.objects import FILE_CLASSES, ObjectKind

NAME = "catchall"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY})

#: Advice kinds after which no module rule is offered at all: the specific fix
#: replaces it (a port label instead of a rule on every port of a generic type,
#: an allowxperm instead of the whole ioctl permission).
REPLACES_MODULE = frozenset({AdviceKind.PORT_LABEL, AdviceKind.XPERM})


def module(s: Situation, confidence: int, why: str, evidence: tuple[str, ...] = ()) -> list[Advice]:
    rule = commands.allow_rule(s.source, s.target, s.tclass, s.perms)
    if rule is None:
        return []
    return [Advice(AdviceKind.MODULE, rule, confidence, why, evidence=evidence)]


def generic_port(s: Situation) -> bool:
    return (s.target in GENERIC_PORT_TYPES and s.tclass in PORT_PROTOCOLS
            and bool(PORT_PERMS.intersection(s.perms)))


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    if any(a.kind in REPLACES_MODULE and " -m " not in a.command for a in earlier):
        return []  # (moving a port another service's type holds is a judgement: the rule stays below it)
    if any(a.kind is AdviceKind.MODULE for a in earlier):
        return []  # an advisor before it already gave the rule, with a confidence of its own
    if generic_port(s):
        return module(s, 40, f"{s.source} may not use any specific port type for this, so there is no port "
                      f"label to suggest; this rule allows every {s.target} port. Better: declare a port "
                      "type in the domain's module, allow it, and label the port with semanage port.")
    if earlier:
        return module(s, min(25, min(a.confidence for a in earlier)),
                      "the rule avcfix build would write; prefer the fixes above, which keep the policy narrow")
    if s.target in GENERIC_FILE_TYPES and s.tclass in FILE_CLASSES and s.source != s.target:
        return module(s, 60, f"the rule avcfix build would write; it lets {s.source} use every file labelled "
                      f"with the generic {s.target}, not only this one. Narrower: give the files a type of the "
                      "domain's own (a file context, or a type transition where the program creates them)",
                      evidence=("audit2why: no allow rule (and no boolean) grants it",
                                f"policy: {s.target} is a generic type"))
    if s.reason is Reason.NO_POLICY:
        return module(s, 45, "the rule avcfix build would write; without a policy it is not known whether "
                      "a label, boolean or existing rule would fix this instead")
    why = "no type-enforcement rule allows this and no label or boolean fix applies: this is the rule avcfix build writes"
    if s.obj.kind is ObjectKind.UNKNOWN and s.tclass in FILE_CLASSES:
        ino = getattr(s.example, "ino", None)
        where = f"find / -xdev -inum {ino}" if ino is not None else "the name in the AVC"
        # the object could not be named (no PATH record): a label problem cannot be ruled out
        return module(s, 60, why + f"; the object's path is not in the log, so a wrong label cannot be ruled "
                      f"out: find the file ({where}) and check its label with ls -Z and matchpathcon first",
                      evidence=("audit2why: no allow rule (and no boolean) grants it", f"object: {s.obj.evidence}"))
    return module(s, 90, why, evidence=("audit2why: no allow rule (and no boolean) grants it",))
