"""The target policy from the policy index (IndexTarget) answers as setools' TargetPolicy.

:class:`avcfix.index.setools_target.TargetPolicy` (setools) is the reference:
every question the builder asks before an install (which names and class
permissions a module requires the policy lacks; which names it defines, for
semodule's error message) and after it (which permissions the allow and
allowxperm ioctl rules grant, and so which of a module's rules are missing)
is asked of both, on real policies and real modules, and the answers must
be equal. The modules: the Eucalyptus fixture module (``avcfix/lab/policies/eucalyptus.te``,
installed in ``euca_root``), the modules ``avcfix build`` makes from the
fixture log (the lab's eucanetd module among them; not installed, so their
verification must fail, then installed into a copy, so it must pass), and
``tests/data/advisors/avcfix_special.te`` (an allowxperm rule). Besides,
keys sampled from the policy's own rules (attributes, their members,
conditional rules on and off, aliases, ``self``, unknown names).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from avcfix.builder import _allow_rules, _ioctl_rules, required_names
from avcfix.cli import main
from avcfix.index import open_index_facts
from avcfix.index.setools_target import Names, RuleKey, TargetCache, TargetPolicy
from avcfix.index.target import IndexTarget
from avcfix.policy.te_parse import parse_te
from avcfix.toolchain.store import PolicyRoot, copy_root
from avcfix.toolchain.verify import IoctlRule, missing_ioctls, missing_rules

PROJECT = Path(__file__).resolve().parents[2]
EUCA_LOG = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")
FIXTURE_TE = PROJECT / "avcfix" / "lab" / "policies" / "eucalyptus.te"
SPECIAL_TE = PROJECT / "tests" / "data" / "advisors" / "avcfix_special.te"


def _both(root: PolicyRoot):
    facts = open_index_facts(root.policy_file, root.file_contexts, None)
    return TargetPolicy(root.policy_file), IndexTarget(facts), facts


def _module(path: Path):
    return parse_te(path.read_text(encoding="utf-8"), str(path))


def _sample_keys(ref: TargetPolicy, every: int = 211, every_cond: int = 23) -> set[RuleKey]:
    """Keys from the policy's own allow rules: every ``every``-th unconditional and every
    ``every_cond``-th conditional rule's names as written (attributes too), a member type
    of each, and that member with ``self``."""
    pol = ref._pol
    plain, cond = [], []
    for r in pol.terules():
        if str(r.ruletype) == "allow":
            (cond if _is_conditional(r) else plain).append((str(r.source), str(r.target), str(r.tclass)))
    members: dict[str, str] = {}

    def member(name: str) -> str:
        if name not in members:
            try:
                members[name] = sorted(str(t) for t in pol.lookup_typeattr(name).expand())[0]
            except Exception:  # a type (or an empty attribute): itself
                members[name] = name
        return members[name]

    keys: set[RuleKey] = set()
    for src, tgt, cls in sorted(set(plain))[::every] + sorted(set(cond))[::every_cond]:
        keys.add(RuleKey(src, tgt, cls))
        keys.add(RuleKey(member(src), member(tgt), cls))
        keys.add(RuleKey(member(src), "self", cls))
    return keys


def _is_conditional(rule) -> bool:
    try:
        _ = rule.conditional
    except Exception:  # setools' RuleNotConditional
        return False
    return True


def _aliases(ref: TargetPolicy) -> list[tuple[str, str]]:
    return sorted((str(a), str(t)) for t in ref._pol.types() for a in t.aliases())


def test_granted_equals_setools_on_the_policys_own_rules(euca_root: PolicyRoot) -> None:
    ref, idx, facts = _both(euca_root)
    with facts:
        keys = _sample_keys(ref)
        alias, real = _aliases(ref)[0]
        keys |= {RuleKey(alias, real, "file"), RuleKey(real, alias, "file"), RuleKey(alias, "self", "process"),
                 RuleKey("no_such_t", "etc_t", "file"), RuleKey("init_t", "etc_t", "no_such_class"),
                 RuleKey("domain", "etc_t", "file"), RuleKey("init_t", "file_type", "file")}
        assert len(keys) > 1000
        # conditional rules both in force and not (booleans off by default)
        want = ref.granted(keys)
        got = idx.granted(keys)
        assert got == want
        # not an empty comparison: most keys are granted something, conditional ones included
        assert sum(1 for v in want.values() if v) > len(keys) // 2
        for kind in ("dontaudit", "auditallow"):
            some = sorted(keys, key=lambda k: (k.source, k.target, k.tclass))[::7]
            assert idx.granted(some, kind) == ref.granted(some, kind)


def test_names_equal_setools(euca_root: PolicyRoot) -> None:
    ref, idx, facts = _both(euca_root)
    with facts:
        pol = ref._pol
        aliases = [a for a, _t in _aliases(ref)][:20]
        tokens = (sorted(str(t) for t in pol.types())[::50] + sorted(str(a) for a in pol.typeattributes())[::20]
                  + aliases + sorted(str(c) for c in pol.classes())[::5] + sorted(ref.permissions())[::9]
                  + [str(r) for r in pol.roles()] + [str(u) for u in pol.users()]
                  + sorted(str(b) for b in pol.bools())[::10] + ["self", "no_such_t", "", "s0", "c1"])
        assert [idx.defines(t) for t in tokens] == [ref.defines(t) for t in tokens]
        assert sum(idx.defines(t) for t in tokens) > len(tokens) // 2
        assert idx.permissions() == ref.permissions()
        names = Names(types=("init_t", "self", "no_such_t", aliases[0], "domain"),
                      attributes=("domain", "no_such_attr", "init_t"),
                      classes=("file", "no_such_class"), roles=("system_r", "object_r", "no_such_r"))
        assert idx.missing(names) == ref.missing(names)
        assert idx.missing(names)  # an alias is not a type here, as setools' types() has none
        wanted = [("file", ("read", "ioctl", "nope")), ("dir", ("search",)), ("no_such_class", ("read",)),
                  ("capability", ("dac_read_search", "sys_nope"))]
        assert idx.missing_permissions(wanted) == ref.missing_permissions(wanted)
        assert idx.mls == ref.mls is True


def _built_modules(tmp: Path, policy: Path) -> list[Path]:
    """The modules ``avcfix build --all-domains`` makes from the fixture log (one per domain)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["build", "--all-domains", EUCA_LOG, "--out-dir", str(tmp), "--policy", str(policy), "--json"])
    assert code == 0
    doc = json.loads(out.getvalue())
    paths = [Path(m["te"]) for m in doc["modules"] if m.get("te")]
    assert len(paths) >= 2 and (tmp / "eucalyptus_eucanetd_local.te") in paths
    return paths


def _compare_module(ref, idx, module) -> tuple:
    """Every question the builder asks about ``module``, asked of both; the index's answers."""
    names = required_names(module)
    assert idx.missing(names) == ref.missing(names)
    wanted = [(c.name, c.perms) for c in module.require.classes]
    assert idx.missing_permissions(wanted) == ref.missing_permissions(wanted)
    rules = _allow_rules(module)
    keys = {RuleKey(r.source, r.target, r.tclass) for r in rules}
    assert idx.granted(keys) == ref.granted(keys)
    ioctls = _ioctl_rules(module)
    assert missing_ioctls(idx, ioctls) == missing_ioctls(ref, ioctls)
    got = missing_rules(idx, rules)
    assert got == missing_rules(ref, rules)
    return got


@pytest.mark.slow
def test_verification_of_real_modules_equals_setools(euca_root: PolicyRoot, tmp_path: Path) -> None:
    # the fixture module is installed in euca_root: only its refpolicy permission sets (list_dir_perms...,
    # which the parser keeps as names and m4 expanded at build time) are not permissions of the policy; the
    # built modules are not installed: their rules (what the denials of the log lacked) are missing
    ref, idx, facts = _both(euca_root)
    with facts:
        fixture = _compare_module(ref, idx, _module(FIXTURE_TE))
        assert fixture and all(p.endswith("_perms") for r in fixture for p in r.perms)
        built = _built_modules(tmp_path / "out", euca_root.policy_file)
        for path in built:
            assert _compare_module(ref, idx, _module(path)), f"{path.name}: the policy lacks its rules"
    # installed into a copy: the rebuilt policy grants them all, by both
    root = copy_root(euca_root, tmp_path / "root")
    lab = _module(tmp_path / "out" / "eucalyptus_eucanetd_local.te")
    cp = subprocess.run(root.semodule_argv("-i", str(tmp_path / "out" / "eucalyptus_eucanetd_local.pp")),
                        capture_output=True, text=True, check=False)
    assert cp.returncode == 0, cp.stderr
    ref, idx, facts = _both(root)
    with facts:
        assert _compare_module(ref, idx, lab) == ()
        others = [p for p in built if p.name != "eucalyptus_eucanetd_local.te"]
        assert all(_compare_module(ref, idx, _module(p)) for p in others)


def test_ioctls_equal_setools(special_root: PolicyRoot, euca_root: PolicyRoot) -> None:
    # avcfix_special.te: allowxperm avcfix_xperm_t avcfix_xperm_dev_t:chr_file ioctl 0x5401 only
    # (sesearch --allowxperm on the installed policy shows that one rule)
    module = _module(SPECIAL_TE)
    wanted = [IoctlRule("avcfix_xperm_t", "avcfix_xperm_dev_t", "chr_file", (0x5401, 0x5402, 0x8912)),
              IoctlRule("avcfix_xperm_t", "self", "chr_file", (0x5401,)),
              IoctlRule("avcfix_launcher_t", "avcfix_xperm_dev_t", "chr_file", (0x5401,))]
    for root, installed in ((special_root, True), (euca_root, False)):
        ref, idx, facts = _both(root)
        with facts:
            got = _compare_module(ref, idx, module)
            assert (got == ()) is installed
            assert missing_ioctls(idx, wanted) == missing_ioctls(ref, wanted)
            lacking = {(r.source, r.target): r.cmds for r in missing_ioctls(idx, wanted)}
            # no allowxperm rule at all for the launcher: nothing granted (the verification's meaning)
            assert lacking[("avcfix_launcher_t", "avcfix_xperm_dev_t")] == (0x5401,)
            if installed:
                assert lacking[("avcfix_xperm_t", "avcfix_xperm_dev_t")] == (0x5402, 0x8912)
                assert ("avcfix_xperm_t", "self") in lacking  # the rule is on the device type, not self


def test_the_target_cache_asks_the_shared_index(euca_root: PolicyRoot, monkeypatch) -> None:
    from avcfix.errors import PolicyError

    monkeypatch.delenv("AVCFIX_FACTS", raising=False)
    facts = open_index_facts(euca_root.policy_file, euca_root.file_contexts, None)
    asked: list[Path] = []

    def provider(path: Path):
        asked.append(path)
        return facts if path == euca_root.policy_file else None

    with facts:
        cache = TargetCache(provider)
        got = cache.get(euca_root.policy_file)
        assert isinstance(got, IndexTarget) and got.facts is facts and cache.opens == 0
        assert cache.get(euca_root.policy_file) is got
        with pytest.raises(PolicyError):  # not the shared policy: opened with setools (no such file here)
            cache.get(PROJECT / "nope")
        assert asked == [euca_root.policy_file, euca_root.policy_file, PROJECT / "nope"]
        # AVCFIX_FACTS=setools: the reference, whatever the caller shares
        monkeypatch.setenv("AVCFIX_FACTS", "setools")
        assert isinstance(TargetCache(provider).get(euca_root.policy_file), TargetPolicy)
