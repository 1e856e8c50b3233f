"""How often one loop and one ``avcfix build`` open the policy (issue 14).

The policy facts (:func:`avcfix.facts.open_facts`: the policy index,
or setools and libselinux) are opened once per policy and shared by
everything that asks it (the explainer, the installer's check before an
install and its verification after it, and in the lab the simulated kernel
and its relabels); they are reopened when a file they were read from
changed, and closed when the loop ends. An install makes a new policy: its
verification opens it (its index is built once), and the next iteration
explains with the same facts. The toolchain's setools view of the target
policy (:class:`avcfix.index.setools_target.TargetPolicy`) is not opened at all
then: setools reads each policy once, inside the index build. ``avcfix
build`` opens the facts once for the explain and reads MLS/MCS from them;
with ``--install``, each rebuilt policy's index is opened once, for its
verification and the next module's check.

The counts are of real runs (real policy, real toolchain, real lab kernel):
``open_facts``, ``TargetPolicy.__init__``, ``setools.SELinuxPolicy`` and the
index build are wrapped to count, nothing else is changed. Measured on the
code before (h14-loopidx): the relabel lab opened the facts 4 times (once per
iteration, for nothing changed), the install lab opened ``TargetPolicy`` 6
times besides the 6 index builds (12 setools opens), and ``build --install``
one ``TargetPolicy`` per installed module plus one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avcfix import facts as facts_module
from avcfix.cli import main
from avcfix.index import build as index_build
from avcfix.index import setools_target as target_module
from avcfix.index.cache import temporary_cache
from avcfix.toolchain.store import PolicyRoot, copy_root

PROJECT = Path(__file__).resolve().parents[2]
EUCA_LOG = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")


class Counter:
    def __init__(self) -> None:
        self.facts = 0
        self.targets = 0
        self.setools = 0  # setools.SELinuxPolicy(...) calls, wherever
        self.setools_in_builds = 0  # ... of which inside an index build
        self.builds = 0
        self.building = False
        self.open_now: list[object] = []

    def closed_all(self) -> bool:
        """Every facts object opened was closed (an IndexFacts' database refuses queries then)."""
        import sqlite3

        for f in self.open_now:
            db = getattr(f, "db", None)
            if db is None:
                continue
            try:
                db.execute("SELECT 1")
            except sqlite3.ProgrammingError:
                continue
            return False
        return True


@pytest.fixture
def count(monkeypatch, tmp_path: Path):
    import setools

    c = Counter()
    real_open = facts_module.open_facts
    real_init = target_module.TargetPolicy.__init__
    real_policy = setools.SELinuxPolicy
    real_build = index_build.build

    def selinux_policy(*args, **kw):
        c.setools += 1
        c.setools_in_builds += c.building
        return real_policy(*args, **kw)

    def build(*args, **kw):
        c.builds += 1
        c.building = True
        try:
            return real_build(*args, **kw)
        finally:
            c.building = False

    def open_facts(*args, **kw):
        c.facts += 1
        facts = real_open(*args, **kw)
        c.open_now.append(facts)
        return facts

    def init(self, *args, **kw):
        c.targets += 1
        real_init(self, *args, **kw)

    monkeypatch.setattr(facts_module, "open_facts", open_facts)
    monkeypatch.setattr(target_module.TargetPolicy, "__init__", init)
    monkeypatch.setattr(setools, "SELinuxPolicy", selinux_policy)
    monkeypatch.setattr(index_build, "build", build)
    monkeypatch.delenv("AVCFIX_FACTS", raising=False)
    with temporary_cache(tmp_path / "index-cache"):  # a cold cache: every policy's index is built here
        yield c


def _main(capsys, *argv: str) -> dict:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_a_lab_loop_with_relabels_opens_the_facts_once(capsys, lab_dir: Path, count: Counter) -> None:
    # httpd-fallback (test_loop_fallback.py): 4 iterations, a restorecon in the first three, no install;
    # the kernel, the explainer and the relabels ask the policy, which no iteration changes (the lab's
    # relabels change its own state, not the root's files): one open for the loop (the old code: 4; before
    # that 9, measured)
    doc = _main(capsys, "loop", "--lab", "httpd-fallback", "--lab-dir", str(lab_dir), "--apply-advice", "--yes",
                "--json")
    assert doc["outcome"] == "converged" and len(doc["iterations"]) == 4
    assert [len(it["applied"]) for it in doc["iterations"]] == [1, 1, 1, 0]
    assert count.facts == 1
    assert count.targets == 0  # nothing installed: the target policy is never read
    assert count.builds == 1 and count.setools == count.setools_in_builds == 1
    assert count.closed_all()


@pytest.mark.slow
def test_a_lab_loop_with_installs_opens_each_policy_once(capsys, lab_dir: Path, count: Counter) -> None:
    # eucanetd with --exact (test_loop_lab.py): 6 iterations, 5 installs. Facts: one per iteration (the
    # old code: 6 kernel runs + 5 explains = 11). Target policy: the first install's target, then each
    # install's rebuilt policy, which the next install checks against (the old code: 2 per install = 10;
    # measured). (Completion, the default, asks setools for type_transition and nodecon once per policy:
    # the index has no such table yet.)
    doc = _main(capsys, "loop", "--lab", "eucanetd", "--lab-dir", str(lab_dir), "--yes", "--json", "--exact")
    assert doc["outcome"] == "converged" and len(doc["iterations"]) == 6
    installs = sum(1 for it in doc["iterations"] if it["rules_added"])
    assert installs == 5
    assert all(it["rules_added"] for it in doc["iterations"][:5]) and not doc["iterations"][5]["rules_added"]
    # the first policy, then each install's rebuilt policy: opened (and its index built) by the verification,
    # then explained with by the next iteration; no other setools open
    assert count.facts == installs + 1
    assert count.targets == 0
    assert count.builds == installs + 1
    assert count.setools == count.setools_in_builds == count.builds
    assert count.closed_all()


def test_build_opens_the_policy_once(capsys, tmp_path: Path, euca_policy: Path, count: Counter) -> None:
    # every domain of the fixture log, one module each: the facts are opened once for the command and
    # MLS is read from them (the old code opened the target policy once more per module)
    doc = _main(capsys, "build", "--all-domains", EUCA_LOG, "--out-dir", str(tmp_path), "--policy",
                str(euca_policy), "--json")
    modules = [m for m in doc["modules"] if m["compiled"]]
    assert len(modules) >= 2
    # the reference policy is MCS: checked with `seinfo POLICY` ("Policy Type: mls" / MLS true)
    assert all(m["mls"] is True for m in modules)
    assert count.facts == 1
    assert count.targets == 0
    assert count.builds == 1 and count.setools == count.setools_in_builds == 1
    assert count.closed_all()


@pytest.mark.slow
def test_build_install_opens_each_policy_once(capsys, tmp_path: Path, euca_root: PolicyRoot,
                                              count: Counter) -> None:
    # --install of every domain into a copy of the store: one target policy to check the first module,
    # then each module's rebuilt policy (the verification), which the next module is checked against
    root = copy_root(euca_root, tmp_path / "root")
    doc = _main(capsys, "build", "--all-domains", EUCA_LOG, "--out-dir", str(tmp_path / "out"), "--root",
                str(root.root), "--install", "--json")
    installed = [m for m in doc["modules"] if m["installed"]]
    assert len(installed) >= 2 and all(m["missing_after_install"] == [] for m in installed)
    # the explain's facts are the first module's target; each rebuilt policy's index is opened once, for its
    # verification and the next module's check
    assert count.facts == len(installed) + 1
    assert count.targets == 0
    assert count.builds == len(installed) + 1
    assert count.setools == count.setools_in_builds == count.builds
    assert count.closed_all()
