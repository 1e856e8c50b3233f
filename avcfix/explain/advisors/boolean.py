"""Boolean: the policy already has the rule, under a boolean; the narrowest first.

setroubleshoot's ``catchall_boolean``. libselinux's audit2why names every
boolean (or pair) that would allow the access; this advisor ranks them by the
policy's conditional rules, never by name:

- **narrow**: a rule the boolean turns on names this domain (or a small
  attribute of it) as source and the exact denied type as target
  (``allow httpd_t postgresql_port_t:tcp_socket name_connect; [
  httpd_can_network_connect_db ]``);
- **broad**: the rule names the domain, but the target through a large
  attribute (``port_type``: every port);
- **unrelated**: the rule's source is a large attribute the domain happens to
  be in (``nsswitch_domain`` under ``allow_ypbind``/``nis_enabled``): the
  boolean is about another subsystem.

Within a class, the boolean that enables the fewest extra accesses for this
domain comes first: the (target type, class, permission) triples its rules
turn on, attributes expanded. Pairs (two booleans together) come after
singles. Confidence: 70 or more only for a narrow single; broad ones at most
60; unrelated ones below 50. Each advice names the conditional rules it rests
on, and keeps the boolean's description.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.protocol import BoolSetting, Facts, PolicyRule

NAME = "boolean"
REASONS = frozenset({Reason.BOOLEAN})

#: Most boolean alternatives turned into separate advice.
MAX_ALTERNATIVES = 4

#: An attribute with at most this many types is "a small attribute" of the
#: domain (``sepgsql_client_type``); a larger one (``nsswitch_domain``,
#: ``daemon``, ``port_type``) names many unrelated types.
SMALL_ATTRIBUTE = 24

#: Most conditional rules quoted as evidence for one advice.
MAX_EVIDENCE_RULES = 3


class Scope(enum.IntEnum):
    """How closely a boolean's rules fit the denied access (lower is narrower)."""

    NARROW = 0      # names the domain (or a small attribute of it) and the exact target type
    BROAD = 1       # names the domain, the target through a large attribute
    UNRELATED = 2   # the source is a large attribute: a boolean for another subsystem
    UNKNOWN = 3     # no conditional rule found (no facts, or a policy the facts cannot read)


#: (first, step, floor) of the confidence for singles, by scope.
_SINGLE = {Scope.NARROW: (85, 5, 70), Scope.BROAD: (60, 5, 50),
           Scope.UNRELATED: (45, 5, 30), Scope.UNKNOWN: (50, 5, 40)}
#: The same for pairs: always below a single of the same scope, never 70.
_PAIR = {Scope.NARROW: (65, 5, 55), Scope.BROAD: (50, 5, 40),
         Scope.UNRELATED: (40, 5, 30), Scope.UNKNOWN: (45, 5, 35)}


@dataclass(frozen=True, slots=True)
class Ranked:
    """One alternative of audit2why, with the policy evidence that ranks it."""

    alt: tuple[BoolSetting, ...]
    scope: Scope
    #: The conditional rules the alternative turns on that grant the denied access.
    granting: tuple[PolicyRule, ...]
    #: (type, class, permission) accesses the alternative turns on for the domain; -1 when unknown.
    extra: int

    def key(self) -> tuple[int, int, int, tuple[BoolSetting, ...]]:
        return (len(self.alt), int(self.scope), self.extra if self.extra >= 0 else 1 << 30, self.alt)


def _small_source(rule: PolicyRule) -> bool:
    return not rule.source_is_attr or rule.source_size <= SMALL_ATTRIBUTE


def _matches(rule: PolicyRule, s: Situation, target: str, facts: Facts) -> bool:
    """The rule grants one of the denied permissions on the denied target."""
    if rule.tclass != s.tclass or not set(s.perms) & set(rule.perms):
        return False
    if rule.target == "self":
        return target in facts.type_members(s.source)
    return target in facts.type_members(rule.target)


def scope_of(rules: Sequence[PolicyRule], target: str) -> Scope:
    """The narrowest scope among the rules that grant the access."""
    best = Scope.UNKNOWN
    for r in rules:
        if not _small_source(r):
            scope = Scope.UNRELATED
        elif not r.target_is_attr and (r.target == target or r.target == "self"):
            scope = Scope.NARROW
        elif not r.target_is_attr or r.target_size <= 1:
            scope = Scope.NARROW
        else:
            scope = Scope.BROAD
        best = min(best, scope)
    return best


def extra_accesses(rules: Sequence[PolicyRule], domain: str, facts: Facts) -> int:
    """The (type, class, permission) accesses ``rules`` allow ``domain``, attributes expanded."""
    by_access: dict[tuple[str, str], set[str]] = {}
    for r in rules:
        targets = facts.type_members(domain) if r.target == "self" else facts.type_members(r.target)
        for p in r.perms:
            by_access.setdefault((r.tclass, p), set()).update(targets or (r.target,))
    return sum(len(types) for types in by_access.values())


def rank(s: Situation) -> list[Ranked]:
    """audit2why's alternatives, narrowest first (see the module docstring)."""
    facts = s.facts
    alts = tuple(dict.fromkeys(s.verdict.booleans))
    if facts is None:
        return sorted((Ranked(alt, Scope.UNKNOWN, (), -1) for alt in alts), key=Ranked.key)
    members = facts.type_members(s.target)
    target = members[0] if len(members) == 1 else s.target
    out = []
    for alt in alts:
        enabled = facts.boolean_rules(alt, s.source)
        granting = tuple(r for r in enabled if _matches(r, s, target, facts))
        scope = scope_of(granting, target)
        granting = tuple(sorted(granting, key=lambda r: (scope_of((r,), target), r.source, r.target)))
        out.append(Ranked(alt, scope, granting, extra_accesses(enabled, s.source, facts) if enabled else -1))
    return sorted(out, key=Ranked.key)


_WHY_SCOPE = {
    Scope.NARROW: "its rule names {source} and {target} exactly",
    Scope.BROAD: "its rule names {source} but reaches {target} only through the large attribute {attr}, "
                 "so it allows far more than this access",
    Scope.UNRELATED: "its rule is for the large attribute {attr} ({size} types), not for {source}: "
                     "a boolean for another subsystem, unlikely to be the intended fix",
    Scope.UNKNOWN: "the policy's conditional rules for it were not found",
}


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    facts = s.facts
    ranked = rank(s)[:MAX_ALTERNATIVES]
    out: list[Advice] = []
    seen: dict[tuple[bool, Scope], int] = {}
    lowest_single = 100
    for r in ranked:
        cmd = commands.setsebool(r.alt)
        if cmd is None:
            continue
        pair = len(r.alt) > 1
        first, step, floor = (_PAIR if pair else _SINGLE)[r.scope]
        n = seen.get((pair, r.scope), 0)
        seen[(pair, r.scope)] = n + 1
        conf = max(first - step * n, floor)
        if pair:
            conf = min(conf, lowest_single - 5)
        else:
            lowest_single = min(lowest_single, conf)
        descs = []
        for name, value in r.alt:
            desc = facts.boolean_description(name) if facts is not None else None
            descs.append(f"{name}={'on' if value else 'off'}" + (f" ({desc})" if desc else ""))
        both = "together " if pair else ""
        rule = r.granting[0] if r.granting else None
        because = _WHY_SCOPE[r.scope].format(
            source=s.source, target=s.target,
            attr=(rule.target if r.scope is Scope.BROAD else rule.source) if rule else "",
            size=(rule.source_size if rule else 0))
        extra = (f"; it turns on {r.extra} access{'es' if r.extra != 1 else ''} "
                 f"(type, class, permission) for {s.source}") if r.extra >= 0 else ""
        evidence = tuple(f"policy: {g.text()}" for g in r.granting[:MAX_EVIDENCE_RULES])
        evidence += (f"audit2why: {' and '.join(f'{b}={v}' for b, v in r.alt)} would allow "
                     f"{s.source} {s.target}:{s.tclass} {' '.join(s.perms)}",)
        out.append(Advice(
            AdviceKind.BOOLEAN, cmd, conf,
            f"the policy already has this rule under a boolean; setting {both}" + "; ".join(descs)
            + f" allows it (and everything else the boolean covers): {because}{extra}.",
            evidence=evidence))
    return out
