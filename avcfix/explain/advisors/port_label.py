"""Port label: a port carrying a generic type gets the service's own port type.

setroubleshoot's ``bind_ports`` and ``connect_ports``. When a domain is denied
``name_bind``/``name_connect`` on a generic port type (``unreserved_port_t``,
``port_t``...), the fix is ``semanage port -a -t TYPE``, with a TYPE the
domain may already bind or connect to, not an allow rule for every port of the
generic type. A port that already carries a specific type belongs to another
service: relabelling it is wrong, so it gets no advice here.

The TYPE is chosen by evidence, never by name:

1. how the domain gets it (:class:`Grant`): a rule of the domain's own (its
   source is the domain or a small attribute of it) naming the type directly
   and unconditionally first; through an attribute next; then rules under a
   boolean (the advice says which boolean must be on); rules of a large
   attribute the domain happens to be in (``nsswitch_domain``) last; in
   each, a type named by the rule before one reached through a target
   attribute;
2. the type's portcon: one holding reserved (<1024) ports of the protocol
   (the service's well-known ports: ``http_port_t`` holds 80 and 443,
   ``http_cache_port_t`` none);
3. then usage: more booleans of the domain's naming the type (for types
   reached through booleans); a type no other domain uses (the service's private port type:
   ``postfix_policyd_port_t``, not ``mysqld_port_t``); the most portcon
   entries.

Confidence 70 or more only for a type granted directly and unconditionally
by the domain's own rule, that is named for the domain's service or is the
only candidate.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.generic import GENERIC_PORT_TYPES, PORT_PERMS, PORT_PROTOCOLS
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.protocol import Facts, PolicyRule

NAME = "port_label"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN})

#: Most ports of one group turned into separate advice.
MAX_PORTS = 4

#: A source attribute with at most this many types is the domain's own
#: (same bound as the boolean advisor's).
SMALL_ATTRIBUTE = 24

#: Target attributes larger than this are not expanded (``port_type`` names every port).
MAX_EXPANSION = 24

#: Other candidates named in the advice's text.
MAX_OTHERS = 4


class Grant(enum.IntEnum):
    """How the domain may already use a port type (lower is stronger evidence)."""

    DIRECT = 0        # the domain's own unconditional rule names the type
    ATTRIBUTE = 1     # the domain's own unconditional rule, through a small target attribute
    BOOLEAN_ON = 2    # the domain's own rule under a boolean that is on in the policy file
    BOOLEAN_OFF = 3   # the domain's own rule under a boolean that is off: it must be set too
    BORROWED = 4      # an unconditional rule of a large attribute the domain is in
    BORROWED_OFF = 5  # the same, under a boolean


#: Confidence by how the chosen type is granted (DIRECT: see :func:`_confidence`).
_CONFIDENCE = {Grant.DIRECT: 50, Grant.ATTRIBUTE: 55, Grant.BOOLEAN_ON: 50, Grant.BOOLEAN_OFF: 45,
               Grant.BORROWED: 40, Grant.BORROWED_OFF: 35}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A specific port type the domain may use, with its evidence."""

    type: str
    grant: Grant
    #: The rules that grant it (the strongest kind only).
    rules: tuple[PolicyRule, ...]
    #: Portcon entries of the protocol: (low, high).
    ports: tuple[tuple[int, int], ...]
    #: Granted only through a target attribute (``ephemeral_port_type``), not by name.
    via_attribute: bool = False
    #: How many domains may use the type the same way (1: this service's own port type).
    users: int = 0

    @property
    def reserved(self) -> bool:
        return any(low < 1024 for low, _ in self.ports)

    def key(self, domain: str = "") -> tuple[int, bool, bool, int, int, bool, int, str]:
        conditions = len({(r.source, r.condition) for r in self.rules}) if self.booleans else 0
        return (int(self.grant), self.via_attribute, not own_port_type(domain, self.type),
                0 if self.reserved else 1, -conditions, self.users != 1, -len(self.ports), self.type)

    @property
    def booleans(self) -> tuple[str, ...]:
        return tuple(sorted({b for r in self.rules for b in r.booleans}))


def own_port_type(domain: str, type_name: str) -> bool:
    """True when ``type_name`` is the port type declared for the domain's service
    by the reference policy's convention (``corenet_port(X_port_t)`` for the
    service whose domain is ``X_t`` or, for a daemon, ``Xd_t``): ``openvpn_t`` and
    ``openvpn_port_t``, ``httpd_t`` and ``http_port_t``, ``sshd_t`` and
    ``ssh_port_t``; not ``http_cache_port_t``. An exact match of the whole
    service name, never a shared prefix."""
    if not domain.endswith("_t") or not type_name.endswith("_port_t"):
        return False
    stem, service = domain[:-2], type_name[: -len("_port_t")]
    return bool(service) and stem in (service, service + "d")


def related(domain: str, type_name: str) -> bool:
    """True when ``type_name`` is named for the domain's service (their first
    name words agree: ``httpd_t`` and ``http_port_t``). Used for confidence
    only; candidates are ranked by evidence (:func:`candidates`)."""
    stem = domain[:-2] if domain.endswith("_t") else domain
    first = stem.split("_", 1)[0]
    return len(first) >= 3 and (type_name.startswith(first) or first.startswith(type_name.split("_", 1)[0]))


def _grant(rule: PolicyRule, via_attribute: bool) -> Grant:
    own = not rule.source_is_attr or rule.source_size <= SMALL_ATTRIBUTE
    if not own:
        return Grant.BORROWED if not rule.condition else Grant.BORROWED_OFF
    if rule.condition:
        return Grant.BOOLEAN_ON if rule.active else Grant.BOOLEAN_OFF
    return Grant.ATTRIBUTE if via_attribute else Grant.DIRECT


def candidates(facts: Facts, domain: str, tclass: str, perm: str) -> list[Candidate]:
    """Specific port types ``domain`` may ``perm`` on ``tclass``, best evidence first."""
    proto = PORT_PROTOCOLS.get(tclass, "")
    port_types = set(facts.type_members("port_type"))
    found: dict[str, tuple[tuple[Grant, bool], list[PolicyRule]]] = {}
    for rule in facts.allow_rules(domain, tclass, perm):
        if rule.target_is_attr:
            if rule.target_size > MAX_EXPANSION:
                continue
            members, via = facts.type_members(rule.target), True
        else:
            members, via = (rule.target,), False
        grant = (_grant(rule, via), via)
        for t in members:
            if t in GENERIC_PORT_TYPES or (port_types and t not in port_types):
                continue
            if not port_types and not facts.port_ranges(t):
                continue
            have = found.get(t)
            if have is None or grant < have[0]:
                found[t] = (grant, [rule])
            elif grant == have[0]:
                have[1].append(rule)
    out = []
    for t, ((t_grant, via), rules) in found.items():
        ports = tuple((low, high) for p, low, high in facts.port_ranges(t) if p == proto)
        users = len(facts.granted_domains(t, tclass, perm))
        out.append(Candidate(t, t_grant, tuple(rules), ports, via, users))
    return sorted(out, key=lambda c: c.key(domain))


def _confidence(best: Candidate, domain: str, count: int) -> int:
    if best.grant is Grant.DIRECT:
        if related(domain, best.type):
            return 85
        if count == 1:
            return 80
    return _CONFIDENCE[best.grant]


def _ports_text(c: Candidate) -> str:
    shown = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in c.ports[:6]]
    more = ", ..." if len(c.ports) > 6 else ""
    return f"{c.type} holds {', '.join(shown)}{more}" if shown else f"{c.type} has no portcon entry"


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    g = s.group
    proto = PORT_PROTOCOLS.get(g.tclass)
    perm = next((p for p in s.perms if p in PORT_PERMS), None)
    if proto is None or perm is None or s.facts is None:
        return []
    if g.target not in GENERIC_PORT_TYPES:
        return _defined_port(s, proto, perm)
    found = candidates(s.facts, g.source, g.tclass, perm)
    if not found:
        return []
    best = found[0]
    confidence = _confidence(best, g.source, len(found))
    verb = "bind to" if perm == "name_bind" else "connect to"
    how = {
        Grant.DIRECT: f"{g.source} may already {verb} {best.type} ports (its own rule names the type)",
        Grant.ATTRIBUTE: f"{g.source} may already {verb} {best.type} ports (through the attribute "
                         f"{best.rules[0].target})",
        Grant.BOOLEAN_ON: f"{g.source} may {verb} {best.type} ports while the boolean "
                          f"{' or '.join(best.booleans)} stays as it is",
        Grant.BOOLEAN_OFF: f"{g.source} may {verb} {best.type} ports only with the boolean "
                           f"{' or '.join(best.booleans)} set: label the port AND set the boolean",
        Grant.BORROWED: f"{g.source} may {verb} {best.type} ports only as a member of "
                        f"{best.rules[0].source}, not by a rule of its own",
        Grant.BORROWED_OFF: f"{g.source} may {verb} {best.type} ports only as a member of "
                            f"{best.rules[0].source} and with the boolean {' or '.join(best.booleans)} set",
    }[best.grant]
    caveat = ""
    if not related(g.source, best.type):
        caveat = (f" {best.type} is not named after the domain: use it only if the service on this port "
                  "really is that kind of service; otherwise give the domain a port type of its own.")
    others = f" (other candidates: {', '.join(c.type for c in found[1:1 + MAX_OTHERS])})" \
        if len(found) > 1 else ""
    evidence = tuple(f"policy: {r.text()}" for r in best.rules[:2])
    evidence += (f"portcon: {_ports_text(best)}/{proto}",)
    ports: list[int | None] = list(g.ports[:MAX_PORTS]) or [g.example.port]
    out = []
    for port in ports:
        cmd = commands.semanage_port(best.type, proto, port)
        if cmd is None:
            continue
        where = f"port {port}" if port is not None else "the port (not in the log: replace PORT)"
        out.append(Advice(
            AdviceKind.PORT_LABEL, cmd, confidence if port is not None else min(confidence, 60),
            f"{how}; {where} carries the generic {g.target}, so label it {best.type} instead of "
            f"allowing every {g.target} port; {_ports_text(best)}{others}." + caveat,
            evidence=evidence + (f"log: {g.tclass} {perm} on {g.target}"
                                 + (f" port {port}" if port is not None else ""),)))
    return out


#: Confidence of moving a port that the policy gives another service's type:
#: a judgement (is that service used here?), never policy-backed.
MODIFY_CONFIDENCE = 60


def _defined_port(s: Situation, proto: str, perm: str) -> list[Advice]:
    """A service bound to a port the policy labels for another service (httpd on
    8081, ``transproxy_port_t``): ``semanage port -m`` to the domain's own port
    type, only when that type is its own (refpolicy's naming) and granted
    directly, and only for binding (a connect goes to someone else's service)."""
    g = s.group
    if perm != "name_bind" or s.facts is None:
        return []
    found = [c for c in candidates(s.facts, g.source, g.tclass, perm)
             if c.grant is Grant.DIRECT and own_port_type(g.source, c.type)]
    if not found or found[0].type == g.target:
        return []
    best = found[0]
    out = []
    ports: list[int | None] = list(g.ports[:MAX_PORTS]) or [g.example.port]
    for port in ports:
        if port is None or port < 1024:
            continue  # a reserved port is a well-known service's (smtp 25): never moved
        cmd = commands.semanage_port(best.type, proto, port, modify=True)
        if cmd is None:
            continue
        out.append(Advice(
            AdviceKind.PORT_LABEL, cmd, MODIFY_CONFIDENCE,
            f"port {port} is labelled {g.target} (another service's port type); {g.source} binds its own "
            f"{best.type} ports. If {g.target}'s service does not use port {port} here, move the port to "
            f"{best.type} (-m: the port is already defined) rather than letting {g.source} bind every "
            f"{g.target} port.",
            evidence=tuple(f"policy: {r.text()}" for r in best.rules[:1])
            + (f"portcon: {_ports_text(best)}/{proto}", f"log: {g.tclass} {perm} on {g.target} port {port}")))
    return out
