"""The index answers every advisor question exactly as setools and libselinux do.

For Debian's reference policy (the host's, read only) and Fedora's targeted
policy (``fedora_root``), :class:`~avcfix.index.facts.IndexFacts` and
:class:`~avcfix.index.setools_facts.PolicyFacts` are opened on the same policy file,
file_contexts and policy.xml, and asked the same questions over a broad,
deterministic set of inputs: the domains, targets, classes, permissions, paths
and ioctl commands of every group of the shared corpus (``../shared/corpus``,
left out when absent) and of every log of ``tests/data/advice``, the
attributes and aliases of those types, every boolean, and the boolean changes
the rules found name. PolicyFacts (setools + libselinux's selabel) is the
ground truth: no expected answer is written here.

The last test checks that answering never opens the policy with setools
(before the port, every advisor question went through a setools PolicyFacts).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from policy_helpers import install_modules

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.index import open_index_facts
from avcfix.index.cache import temporary_cache
from avcfix.index.setools_facts import DEFAULT_POLICY_XML, PolicyFacts
from avcfix.toolchain.store import PolicyRoot, copy_root

HERE = Path(__file__).resolve().parents[1]  # tests/
PROJECT = HERE.parent
ADVICE = HERE / "data" / "advice"
CORPUS = PROJECT.parent / "shared" / "corpus"
FILE_CLASSES = (None, "file", "dir", "lnk_file", "sock_file", "chr_file")
#: Extra ioctl commands asked about (TCGETS, SIOCGIFCONF, FIONREAD, a made-up one).
IOCTLS = (0x5401, 0x8912, 0x541B, 0xABCD)


def _logs() -> list[Path]:
    logs = sorted(ADVICE.glob("*.log"))
    if CORPUS.is_dir():
        from tests.unit.test_corpus import corpus_files

        logs += corpus_files(CORPUS)
    return logs


def _groups() -> list[Any]:
    out = []
    for log in _logs():
        out.extend(group_denials(scan([str(log)])))
    return out


class Inputs:
    """What the questions are asked about, from the groups and one policy."""

    def __init__(self, groups: list[Any], truth: PolicyFacts, index: Any) -> None:
        self.triples = sorted({(g.source, g.target, g.tclass, g.perms) for g in groups})
        self.paths = sorted({p for g in groups for p in g.paths} | {"/etc/shadow", "/var/www/html/index.html",
                                                                     "/home/user/public_html", "relative/x"})
        self.path_classes = sorted({(p, g.tclass) for g in groups for p in g.paths})
        self.ioctls = sorted({(g.source, g.target, g.tclass, tuple(g.ioctlcmds) + IOCTLS)
                              for g in groups if "ioctl" in g.perms})
        types = {g.source for g in groups} | {g.target for g in groups} | {"no_such_t", "self"}
        attrs = {a for t in types for a in truth.type_attributes(t)}
        aliases = {a for (a,) in index.db.execute("SELECT alias FROM aliases ORDER BY alias LIMIT 200")}
        self.names = sorted(types | attrs | aliases | {"unconfined_domain_type", "file_type", "port_type"})
        self.booleans = sorted({n for (n,) in index.db.execute("SELECT name FROM booleans")}
                               | {n for (n,) in index.db.execute("SELECT name FROM descriptions")}
                               | {"no_such_boolean"})
        self.fc_types = sorted({t for (t,) in index.db.execute("SELECT type FROM fc")} | set(self.names))


@pytest.fixture(scope="module")
def groups() -> list[Any]:
    return _groups()


def _pair(root: PolicyRoot, xml: Path | None, cache: Path) -> tuple[Any, PolicyFacts]:
    policy, fc = root.policy_file, root.file_contexts
    with temporary_cache(cache):
        index = open_index_facts(policy, fc, xml)
    return index, PolicyFacts(policy, fc, xml)


@pytest.fixture(scope="module", params=["debian", "fedora"])
def pair(request, tmp_path_factory, groups):
    if request.param == "debian":
        root = request.getfixturevalue("host_root")
        xml = DEFAULT_POLICY_XML if DEFAULT_POLICY_XML.is_file() else None
    else:
        root = request.getfixturevalue("fedora_root")
        candidate = root.root / DEFAULT_POLICY_XML.relative_to("/")
        xml = candidate if candidate.is_file() else None
    cache = tmp_path_factory.mktemp(f"index-{request.param}")
    index, truth = _pair(root, xml, cache)
    yield index, truth, Inputs(groups, truth, index), (root, xml, cache)
    index.close()
    truth.close()


class Compare:
    """Ask both facts the same question; keep the first differences."""

    def __init__(self, index: Any, truth: PolicyFacts) -> None:
        self.index, self.truth = index, truth
        self.asked = 0
        self.wrong: list[str] = []

    def __call__(self, question: str, *args: Any) -> Any:
        want = getattr(self.truth, question)(*args)
        got = getattr(self.index, question)(*args)
        self.asked += 1
        if got != want or type(got) is not type(want):
            self.wrong.append(f"{question}{args!r}: index {got!r} != setools {want!r}")
        return want

    def check(self, at_least: int) -> None:
        assert not self.wrong, f"{len(self.wrong)} of {self.asked} answers differ:\n" + "\n".join(self.wrong[:20])
        assert self.asked >= at_least


def test_names_and_booleans(pair):
    index, truth, inputs, _ = pair
    same = Compare(index, truth)
    assert index.mls == truth.mls
    for name in inputs.names:
        for q in ("canonical_type", "has_type", "type_attributes", "attribute_size", "type_members",
                  "is_unconfined", "fixed_label", "port_ranges"):
            same(q, name)
    for b in inputs.booleans:
        same("boolean_state", b)
        same("boolean_description", b)
    same.check(len(inputs.names) * 8)


def test_file_contexts(pair):
    index, truth, inputs, _ = pair
    same = Compare(index, truth)
    same("fc_dirs")
    for t in inputs.fc_types:
        same("fc_entries", t)
    for p in inputs.paths:
        same("expected_type", p)
        for cls in FILE_CLASSES:
            same("expected_file_type", p, cls)
    for p, cls in inputs.path_classes:
        same("expected_file_type", p, cls)
    same.check(len(inputs.fc_types))


def test_access_questions(pair):
    index, truth, inputs, _ = pair
    same = Compare(index, truth)
    for source, target, tclass, perms in inputs.triples:
        same("granted_perms", source, target, tclass)
        same("allows", source, target, tclass, perms)
        same("enabling_booleans", source, target, tclass, perms)
        for perm in perms:
            same("allows", source, target, tclass, (perm,))
            same("enabling_booleans", source, target, tclass, (perm,))
    # questions about a domain (not a target): each distinct input once (setools is slow at them)
    for source, tclass, perms in sorted({(s, c, p) for s, _t, c, p in inputs.triples}):
        same("file_types", source, tclass, perms)
        same("types_with_access", source, tclass, perms)
        same("label_candidates", source, tclass, perms)
    for source, tclass, perm in sorted({(s, c, x) for s, _t, c, p in inputs.triples for x in p}):
        if tclass.endswith("_socket"):
            same("port_types", source, tclass, perm)
    for target, tclass, perm in sorted({(t, c, x) for _s, t, c, p in inputs.triples for x in p}):
        same("granted_domains", target, tclass, perm)
    for source, target, tclass, cmds in inputs.ioctls:
        same("xperm_denied", source, target, tclass, cmds)
    same.check(len(inputs.triples) * 5)


def test_rules_as_evidence(pair):
    index, truth, inputs, _ = pair
    same = Compare(index, truth)
    settings: set[tuple[tuple[str, bool], ...]] = set()
    domains = sorted({s for s, _t, _c, _p in inputs.triples})
    for source, target, tclass, perms in inputs.triples:
        for perm in perms:
            for rule in same("allow_rules", source, tclass, perm):
                if rule.booleans:
                    now = [(b, bool(truth.boolean_state(b))) for b in rule.booleans]
                    settings.update(((b, not v),) for b, v in now)
                    settings.update(((b, v),) for b, v in now)
                    settings.add(tuple((b, not v) for b, v in now))
        for setting in same("enabling_booleans", source, target, tclass, perms):
            settings.add((setting,))
    ordered = sorted(settings)
    for domain in domains:
        for setting in ordered[:: max(1, len(ordered) // 40)]:  # a spread of every kind of setting
            same("boolean_rules", setting, domain)
    for source in domains:
        for setting in ordered:
            if len(setting) == 1:
                same("boolean_rules", setting, source)
                break
    same.check(len(inputs.triples))


@pytest.mark.slow
def test_xperm_rules(pristine_root, fixture_pp, tmp_path):
    """Neither base policy has an allowxperm rule (sesearch --allowxperm prints nothing), so
    xperm_denied is asked on a copy of the Debian store with tests/data/advice/avcfix_xperm.te
    installed (allowxperm httpd_t httpd_sys_content_t:file ioctl 0x541b)."""
    root = copy_root(pristine_root, tmp_path / "root")
    install_modules(root, fixture_pp("avcfix_xperm"))
    index, truth = _pair(root, None, tmp_path / "cache")
    same = Compare(index, truth)
    sources = ("httpd_t", "httpd_sys_script_t", "unconfined_t", "no_such_t")
    targets = ("httpd_sys_content_t", "httpd_sys_rw_content_t", "user_home_t", "no_such_t")
    restricted = 0
    for s in sources:
        for t in targets:
            for cls in ("file", "dir", "chr_file", "no_such_class"):
                for cmds in ((), IOCTLS, (0x541B,), (0x5401, 0x5401)):
                    restricted += bool(same("xperm_denied", s, t, cls, cmds))
    index.close()
    truth.close()
    same.check(len(sources) * len(targets) * 16)
    assert restricted  # the module's rule restricts something


_NO_SETOOLS = """
import sys
from pathlib import Path
from avcfix.index import open_index_facts
facts = open_index_facts(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if sys.argv[3] else None)
d, t = "httpd_t", "user_home_t"
facts.granted_perms(d, t, "file"); facts.enabling_booleans(d, t, "file", ("read",))
facts.label_candidates(d, "file", ("read",)); facts.types_with_access(d, "file", ("read",))
facts.allow_rules(d, "tcp_socket", "name_bind"); facts.port_types(d, "tcp_socket", "name_bind")
facts.boolean_rules((("httpd_enable_homedirs", True),), d); facts.granted_domains(t, "file", "read")
facts.xperm_denied(d, t, "file", (0x5401,)); facts.boolean_description("httpd_enable_homedirs")
facts.fixed_label("nfs_t"); facts.fc_entries(t); facts.fc_dirs(); facts.type_members("file_type")
facts.expected_file_type("/etc/shadow", "file"); facts.file_types(d, "file", ("read",))
facts.close()
print(sorted(m for m in sys.modules if m.split(".")[0] == "setools"))
"""


def test_answers_never_open_setools(pair):
    """With the index cached, every question is answered without importing setools
    (before the port, a setools PolicyFacts answered them behind IndexFacts)."""
    _index, _truth, _inputs, (root, xml, cache) = pair
    env = dict(os.environ, AVCFIX_CACHE_DIR=str(cache))
    cp = subprocess.run([sys.executable, "-c", _NO_SETOOLS, str(root.policy_file), str(root.file_contexts),
                         str(xml or "")], capture_output=True, text=True, env=env, cwd=PROJECT, check=False)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == "[]", cp.stdout
