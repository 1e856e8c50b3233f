"""Port label: a port carrying a generic type gets the service's own port type.

setroubleshoot's ``bind_ports`` and ``connect_ports``. When a domain is denied
``name_bind``/``name_connect`` on a generic port type (``unreserved_port_t``,
``port_t``...), the fix is ``semanage port -a -t TYPE``, with a TYPE the
domain may already bind or connect to, not an allow rule for every port of the
generic type.
"""

from __future__ import annotations

from typing import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.generic import GENERIC_PORT_TYPES, PORT_PERMS, PORT_PROTOCOLS
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "port_label"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN})

#: Most ports of one group turned into separate advice.
MAX_PORTS = 4


def related(domain: str, type_name: str) -> bool:
    """True when ``type_name`` looks like the domain's own (shares its first name word)."""
    stem = domain[:-2] if domain.endswith("_t") else domain
    first = stem.split("_", 1)[0]
    return len(first) >= 3 and (type_name.startswith(first) or first.startswith(type_name.split("_", 1)[0]))


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    g = s.group
    proto = PORT_PROTOCOLS.get(g.tclass)
    perm = next((p for p in s.perms if p in PORT_PERMS), None)
    if proto is None or perm is None or g.target not in GENERIC_PORT_TYPES or s.facts is None:
        return []
    types = s.facts.port_types(g.source, g.tclass, perm)
    if not types:
        return []
    best = types[0]
    own = related(g.source, best)
    if own:
        confidence, caveat = 90, ""
    else:
        confidence = 50 if len(types) == 1 else 40
        caveat = (f" {best} is not named after the domain: use it only if the service on this port "
                  "really is that kind of service; otherwise give the domain a port type of its own.")
    ports: list[int | None] = list(g.ports[:MAX_PORTS]) or [g.example.port]
    verb = "bind to" if perm == "name_bind" else "connect to"
    others = f" (other candidates: {', '.join(types[1:])})" if len(types) > 1 else ""
    out = []
    for port in ports:
        cmd = commands.semanage_port(best, proto, port)
        if cmd is None:
            continue
        where = f"port {port}" if port is not None else "the port (not in the log: replace PORT)"
        out.append(Advice(
            AdviceKind.PORT_LABEL, cmd, confidence if port is not None else min(confidence, 60),
            f"{g.source} may already {verb} {best} ports; {where} carries the generic "
            f"{g.target}, so label it {best} instead of allowing every {g.target} port{others}." + caveat,
            evidence=(f"policy: allow {g.source} {best}:{g.tclass} {perm}",
                      f"log: {g.tclass} {perm} on {g.target}" + (f" port {port}" if port is not None else ""))))
    return out
