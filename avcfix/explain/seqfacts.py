"""Policy questions of permission completion (:mod:`avcfix.policy.complete`), over setools.

The policy index holds no type_transition, nodecon or initial-SID rows, so
both Facts backends answer these from a setools policy: PolicyFacts from its
own, IndexFacts from one it opens on the first such question (setools opens
lazily: a few hundredths of a second; only completion asks).
"""

from __future__ import annotations

import ipaddress
from typing import Any


def type_transition(policy: Any, domain: str, target: str, tclass: str, name: str | None) -> str | None:
    """The type a ``tclass`` object created by ``domain`` in a ``target`` directory gets from
    the policy's type_transition rules (a rule for ``name`` first), ``None`` when none applies."""
    import setools

    try:
        query = setools.TERuleQuery(policy, ruletype=["type_transition"], source=domain, target=target,
                                    tclass=[tclass])
        rules = list(query.results())
    except Exception:  # an unknown name: no rule
        return None
    named = sorted({str(r.default) for r in rules if getattr(r, "filename", None) == name and name})
    plain = sorted({str(r.default) for r in rules if not getattr(r, "filename", None)})
    for found in (named, plain):
        if len(found) == 1:
            return found[0]
        if found:
            return None  # more than one (through attributes): not sure which applies
    return None


def initial_sid_type(policy: Any, sid: str) -> str | None:
    """The type of the initial SID ``sid`` (``node``, ``port``)."""
    for s in policy.initialsids():
        if str(s) == sid:
            try:
                return str(s.context.type_)
            except Exception:
                return None
    return None


def node_type(policy: Any, family: str | None, address: str | None) -> str | None:
    """The type of the network node ``address`` (nodecon, else the ``node`` initial SID).

    With no nodecon at all every address is the initial SID's; otherwise the
    address must be known (``family`` ``inet``/``inet6``)."""
    nodecons = list(policy.nodecons())
    if not nodecons:
        return initial_sid_type(policy, "node")
    if family not in ("inet", "inet6") or not address:
        return None
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return None
    best = None
    for nc in nodecons:  # the kernel takes the first match in policy order
        try:
            net = nc.network
        except Exception:
            continue
        if net.version == addr.version and addr in net:
            best = str(nc.context.type_)
            break
    return best or initial_sid_type(policy, "node")


def port_type(portcons: Any, policy: Any, proto: str, port: int) -> str | None:
    """The type of ``proto`` port ``port``: the most specific portcon, else the ``port`` initial SID.

    ``portcons``: (proto, low, high, type) rows."""
    best: tuple[int, str] | None = None
    for p, low, high, type_name in portcons:
        if p == proto and low <= port <= high:
            width = high - low
            if best is None or width < best[0]:
                best = (width, type_name)
    if best is not None:
        return best[1]
    return initial_sid_type(policy, "port")
