"""The policy index's reasons equal libselinux audit2why's.

The ground truth is :class:`~avcfix.index.setools_facts.PolicyFacts` (setools for
names, ``selinux.audit2why`` for the kernel's access computation, one boolean
flipped at a time as audit2why does it). :class:`~avcfix.index.facts.IndexFacts`
answers the same questions by look-up in the index; both are asked the same
keys and must give, per key and per permission, the same reason, booleans and
differing context parts, and the same ``permissive_domain``.

Two sets of keys, each with both policies (the Debian reference policy of
this host, and Fedora's targeted policy from ``../shared/fedora-policy``):

- every group of the shared corpus, with the keys the engine builds for it
  (:func:`avcfix.explain.engine._all_keys`: the example's contexts and up to
  7 other context pairs);
- a few thousand synthetic keys drawn with a fixed seed from the policy itself
  (setools): accesses near real allow, conditional and dontaudit rules, other
  users, roles and MLS levels (valid, out of the user's range, unknown, a high
  level below the low one), process transitions between roles, ``object_r``
  sources, unknown types, classes, permissions, users and roles; these reach
  constraints, MLS, RBAC, booleans (single and pairs) and dontaudit, which the
  corpus reaches only in part.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import _all_keys
from avcfix.explain.protocol import AccessKey, Analysis
from avcfix.index import open_index_facts
from avcfix.index.cache import temporary_cache
from avcfix.index.setools_facts import PolicyFacts
from tests.unit.test_corpus import corpus_files

#: Synthetic keys per policy (PolicyFacts takes about 4 ms per key and permission).
SYNTHETIC_KEYS = 4000
SEED = 14


@pytest.fixture(scope="module", params=["debian", "fedora"])
def policy(request, tmp_path_factory) -> tuple[str, Path, Path | None]:
    """(name, binary policy, file_contexts) of each policy."""
    if request.param == "debian":
        root = request.getfixturevalue("host_root")
    else:
        root = request.getfixturevalue("fedora_root")
    fc = root.file_contexts if root.file_contexts.is_file() else None
    return request.param, root.policy_file, fc


@pytest.fixture(scope="module")
def both(policy, tmp_path_factory) -> tuple[PolicyFacts, Any]:
    """(ground truth, index) for one policy; the index is built into a private cache."""
    _name, path, fc = policy
    truth = PolicyFacts(path, fc, None)
    with temporary_cache(tmp_path_factory.mktemp("index-cache")):
        index = open_index_facts(path, fc, None)
    yield truth, index
    truth.close()
    index.close()


def _mismatches(keys: list[AccessKey], truth: PolicyFacts, index: Any) -> list[str]:
    want = truth.analyze(keys)
    got = index.analyze(keys)
    bad = []
    for key in keys:
        a: Analysis = want[key]
        b: Analysis = got[key]
        if a.permissive_domain != b.permissive_domain:
            bad.append(f"{key}: permissive_domain {a.permissive_domain} != {b.permissive_domain}")
        assert [p for p, _ in a.verdicts] == [p for p, _ in b.verdicts] == list(key.perms)
        for (perm, va), (_p, vb) in zip(a.verdicts, b.verdicts, strict=True):
            expected = (va.reason, va.booleans, va.differs)
            actual = (vb.reason, vb.booleans, vb.differs)
            if expected != actual:
                bad.append(f"{key} {perm}: audit2why {expected} index {actual} "
                           f"(audit2why detail {va.detail!r}, index detail {vb.detail!r})")
    return bad


def _reasons(keys: list[AccessKey], truth: PolicyFacts) -> Counter:
    found = truth.analyze(keys)
    return Counter(v.reason.value for k in keys for _p, v in found[k].verdicts)


# ---------------------------------------------------------------------- corpus


def test_corpus_reasons_equal_audit2why(both, corpus_dir):
    truth, index = both
    keys: list[AccessKey] = []
    for path in corpus_files(corpus_dir):
        for group in group_denials(scan([str(path)])):
            keys.extend(_all_keys(group))
    keys = sorted(set(keys), key=lambda k: (k.scontext, k.tcontext, k.tclass, k.perms))
    assert len(keys) > 1000
    bad = _mismatches(keys, truth, index)
    assert not bad, f"{len(bad)} mismatches:\n" + "\n".join(bad[:40])
    # the corpus reaches more than one reason (a vacuous comparison would not)
    assert len(_reasons(keys, truth)) >= 4


# ------------------------------------------------------------------- synthetic


class _Drawer:
    """Draws AccessKeys from a policy with a seeded generator (same seed, same keys)."""

    def __init__(self, p: Any, rng: random.Random) -> None:
        from setools.policyrep import TERuletype

        self.p = p
        self.rng = rng
        self.types = sorted(str(t) for t in p.types())
        self.permissive = sorted(str(t) for t in p.types() if t.ispermissive)
        try:
            self.domains = sorted(str(t) for t in p.lookup_typeattr("domain").expand())
        except Exception:  # noqa: BLE001 - a policy without the attribute
            self.domains = self.types
        self.classes: dict[str, list[str]] = {}
        for cls in p.classes():
            perms = {str(x) for x in cls.perms}
            try:
                perms |= {str(x) for x in cls.common.perms}
            except Exception:  # noqa: BLE001 - setools NoCommon
                pass
            self.classes[str(cls)] = sorted(perms)
        self.class_names = sorted(self.classes)
        self.users = {str(u): (sorted(str(r) for r in u.roles), str(u.mls_range) if p.mls else None)
                      for u in p.users()}
        self.user_names = sorted(self.users)
        self.role_types = {str(r): sorted(str(t) for t in r.types()) for r in p.roles()}
        self.role_names = sorted(self.role_types)
        self.roles_of_type: dict[str, list[str]] = {}
        for r, ts in self.role_types.items():
            for t in ts:
                self.roles_of_type.setdefault(t, []).append(r)
        self.users_of_role: dict[str, list[str]] = {}
        for u, (rs, _rng) in self.users.items():
            for r in rs:
                self.users_of_role.setdefault(r, []).append(u)
        self.role_allows = sorted({(str(s), str(t)) for rule in p.rbacrules() if str(rule.ruletype) == "allow"
                                   for s in _expand(rule.source) for t in _expand(rule.target)})
        allow, dontaudit = TERuletype.allow, TERuletype.dontaudit
        self.rules: list[Any] = []
        self.cond_rules: list[Any] = []
        self.dontaudits: list[Any] = []
        for rule in p.terules():
            if rule.ruletype == allow:
                try:
                    _ = rule.conditional
                except Exception:  # noqa: BLE001 - setools RuleNotConditional
                    self.rules.append(rule)
                else:
                    self.cond_rules.append(rule)
            elif rule.ruletype == dontaudit:
                self.dontaudits.append(rule)
        order = lambda r: (str(r.source), str(r.target), str(r.tclass), str(r.ruletype), sorted(map(str, r.perms)))  # noqa: E731
        for rules in (self.rules, self.cond_rules, self.dontaudits):
            rules.sort(key=order)
        self._members: dict[str, list[str]] = {}

    def _member(self, obj: Any) -> str:
        name = str(obj)
        found = self._members.get(name)
        if found is None:
            try:
                found = sorted(str(t) for t in obj.expand())
            except AttributeError:
                found = [name]
            self._members[name] = found or [name]
        return self.rng.choice(self._members[name])

    # ------------------------------------------------------------ contexts

    def level(self) -> str | None:
        """A level: mostly the common valid ones, sometimes random categories,
        sometimes invalid (unknown names, a high level below the low one, a
        category range whose end is not above its start)."""
        if not self.p.mls:
            return None
        r = self.rng
        c = lambda: r.randrange(1024)  # noqa: E731
        a, b = sorted((c(), c()))
        roll = r.random()
        if roll < 0.6:
            return r.choice([None, "s0", "s0", "s0", "s0-s0:c0.c1023", "s0:c0.c1023"])
        if roll < 0.9:
            return r.choice([f"s0:c{a},c{b}", f"s0:c{a}.c{b}" if a < b else f"s0:c{a}", f"s0-s0:c{a}.c{b}",
                             f"s0:c{a}-s0:c{a},c{b}"])
        return r.choice([f"s0:c{a},c{b}-s0", "s1", "s0:c2000", "s0:nocat", "s0:c5.c5",
                         f"s0:c{b}.c{a}" if a != b else "s0:c5.c4"])

    def context(self, typ: str, *, obj: bool) -> str:
        r = self.rng
        roll = r.random()
        if obj and roll < 0.6:
            role = "object_r"
            user = r.choice(["system_u", "system_u", r.choice(self.user_names)])
        elif roll < 0.94:
            # a role that has the type and a user that has the role: a valid context
            roles = [x for x in self.roles_of_type.get(typ, ()) if x in self.users_of_role]
            role = r.choice(roles or self.role_names)
            user = r.choice(self.users_of_role.get(role) or self.user_names)
        elif roll < 0.97:
            role = r.choice(self.role_names)
            user = r.choice(self.user_names)
        else:
            role = r.choice(["object_r", "nosuch_r", self.rng.choice(self.role_names)])
            user = r.choice(["nosuch_u", r.choice(self.user_names)])
        level = self.level()
        return f"{user}:{role}:{typ}" + (f":{level}" if level is not None else "")

    # ---------------------------------------------------------------- keys

    def perms(self, tclass: str, base: list[str]) -> tuple[str, ...]:
        r = self.rng
        pool = self.classes.get(tclass, [])
        chosen = set(r.sample(base, min(len(base), r.choice([1, 1, 2])))) if base else set()
        if pool and (not chosen or r.random() < 0.4):
            chosen.add(r.choice(pool))
        if r.random() < 0.02:
            chosen.add("nosuch_perm")
        return tuple(sorted(chosen))

    def from_rule(self, rules: list[Any]) -> AccessKey:
        rule = self.rng.choice(rules)
        s, t, cls = self._member(rule.source), self._member(rule.target), str(rule.tclass)
        perms = self.perms(cls, sorted(str(x) for x in rule.perms))
        return AccessKey(self.context(s, obj=False), self.context(t, obj=s != t), cls, perms)

    def random_access(self) -> AccessKey:
        r = self.rng
        s = r.choice(self.permissive) if self.permissive and r.random() < 0.2 else r.choice(self.domains)
        t = r.choice(self.types)
        cls = r.choice(self.class_names)
        return AccessKey(self.context(s, obj=False), self.context(t, obj=True), cls, self.perms(cls, []))

    def transition(self) -> AccessKey:
        """A process transition or dyntransition, often between roles."""
        r = self.rng
        with_users = sorted(self.users_of_role)
        allows = [(a, b) for a, b in self.role_allows if a in self.users_of_role and b in self.users_of_role]
        roll = r.random()
        if allows and roll < 0.5:
            src_role, tgt_role = r.choice(allows)  # a role allow rule exists
        elif roll < 0.85:
            src_role, tgt_role = r.choice(with_users), r.choice(with_users)
        else:
            src_role, tgt_role = r.choice(self.role_names), r.choice(self.role_names)
        s = r.choice(self.role_types.get(src_role) or self.domains)
        t = r.choice(self.role_types.get(tgt_role) or self.domains)
        su = r.choice(self.users_of_role.get(src_role) or self.user_names)
        tu_choices = self.users_of_role.get(tgt_role) or self.user_names
        tu = su if su in tu_choices and r.random() < 0.7 else r.choice(tu_choices)
        sl, tl = self.level(), self.level()
        scon = f"{su}:{src_role}:{s}" + (f":{sl}" if sl else "")
        tcon = f"{tu}:{tgt_role}:{t}" + (f":{tl}" if tl else "")
        perms = tuple(sorted(set(r.sample(["transition", "dyntransition", "sigchld", "signal", "setexec"],
                                         r.choice([1, 2])))))
        return AccessKey(scon, tcon, "process", perms)

    def unknown(self) -> AccessKey:
        r = self.rng
        s, t, cls = r.choice(self.domains), r.choice(self.types), r.choice(self.class_names)
        which = r.choice(["stype", "ttype", "class", "perm", "alias"])
        if which == "stype":
            s = "nosuch_t"
        elif which == "ttype":
            t = "nosuch_t"
        elif which == "class":
            cls = "nosuch_class"
        alias = sorted(str(a) for ty in [self.p.lookup_type(t)] for a in ty.aliases()) if t != "nosuch_t" else []
        if which == "alias" and alias:
            t = alias[0]
        perms = ("nosuch_perm",) if which == "perm" else self.perms(cls, [])
        return AccessKey(self.context(s, obj=False), self.context(t, obj=True), cls, perms or ("read",))

    def draw(self, n: int) -> list[AccessKey]:
        kinds = [(0.30, lambda: self.from_rule(self.rules)),
                 (0.22, lambda: self.from_rule(self.cond_rules)),
                 (0.15, lambda: self.from_rule(self.dontaudits)),
                 (0.13, self.random_access),
                 (0.15, self.transition),
                 (0.05, self.unknown)]
        keys: set[AccessKey] = set()
        while len(keys) < n:
            roll = self.rng.random()
            for weight, make in kinds:
                if roll < weight:
                    keys.add(make())
                    break
                roll -= weight
            else:
                keys.add(kinds[-1][1]())
        return sorted(keys, key=lambda k: (k.scontext, k.tcontext, k.tclass, k.perms))


def _expand(obj: Any) -> list[str]:
    try:
        return [str(r) for r in obj.expand()]
    except AttributeError:
        return [str(obj)]


def test_synthetic_reasons_equal_audit2why(both):
    truth, index = both
    drawer = _Drawer(truth._policy, random.Random(SEED))
    keys = drawer.draw(SYNTHETIC_KEYS)
    drawer.rng = random.Random(SEED)
    assert drawer.draw(SYNTHETIC_KEYS) == keys  # deterministic
    bad = _mismatches(keys, truth, index)
    assert not bad, f"{len(bad)} mismatches:\n" + "\n".join(bad[:40])
    # the draw reaches every reason the policy can give (else the comparison proves little)
    seen = _reasons(keys, truth)
    expected = {"allowed_now", "te_rule", "boolean", "dontaudit", "constraint", "rbac",
                "unknown_type", "unknown_class", "unknown_perm"}
    assert expected <= set(seen), seen
