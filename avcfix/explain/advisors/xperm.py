"""Xperm: the policy allows ``ioctl`` but its allowxperm rules leave out the command.

The kernel checks an ioctl twice: the class permission ``ioctl`` and, when
any ``allowxperm`` rule names the (source, target, class), the command
itself. libselinux's audit2why sees only the first, so it calls such a denial
allowed; the engine (``engine._xperm_verdict``) makes it :attr:`Reason.XPERM`.
The fix is one more ``allowxperm`` rule with the logged command(s), not the
whole ``ioctl`` permission (which the policy already grants). setroubleshoot
has no plugin for it (its catchall would suggest the useless allow rule).
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "xperm"
REASONS = frozenset({Reason.XPERM})


def logged_cmds(s: Situation) -> tuple[int, ...]:
    """The ioctl commands the log shows for this group."""
    cmds = set(s.group.ioctlcmds)
    if s.example.ioctlcmd is not None:
        cmds.add(s.example.ioctlcmd)
    return tuple(sorted(c for c in cmds if isinstance(c, int) and 0 <= c <= 0xFFFF))


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    if s.facts is None or "ioctl" not in s.perms:
        return []
    denied = s.facts.xperm_denied(s.source, s.target, s.tclass, logged_cmds(s))
    if not denied:
        return []  # no allowxperm restriction (by construction there is one): nothing to say
    rule = commands.allowxperm_rule(s.source, s.target, s.tclass, denied)
    if rule is None:
        return []
    listed = " ".join(f"0x{c:04x}" for c in denied)
    return [Advice(
        AdviceKind.XPERM, rule, 80,
        f"the policy allows {s.source} ioctl on {s.target} {s.tclass}s, but only the commands its "
        f"allowxperm rules list; {listed} is not among them. Allow just that command "
        "(avcfix build writes this rule); an allow rule for ioctl would change nothing.",
        evidence=(f"policy: allow {s.source} {s.target}:{s.tclass} ioctl, restricted by allowxperm rules",
                  f"policy: allowxperm rules for {s.source} {s.target}:{s.tclass} leave out {listed}",
                  f"log: ioctlcmd={listed}"))]
