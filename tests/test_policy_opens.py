"""How often one loop iteration and one ``avcfix build`` open the policy (issue 14).

The policy facts (:func:`avcfix.explain.facts.open_facts`: the policy index,
or setools and libselinux) are opened ONCE per loop iteration and shared by
everything that asks the policy then (the explainer and, in the lab, the
simulated kernel and its relabels), and closed when the iteration ends; an
install makes a new policy, which the next iteration opens. The toolchain's
setools view of the target policy (:class:`avcfix.toolchain.target.TargetPolicy`)
is opened once per policy file: the verification after an install opens the
rebuilt policy, which is the next install's target. ``avcfix build`` opens
the facts once for the whole command and reads MLS/MCS from them.

The counts are of real runs (real policy, real toolchain, real lab kernel):
``open_facts`` and ``TargetPolicy.__init__`` are wrapped to count, nothing
else is changed. The old code opened the facts 2-3 times per iteration
(kernel, explain, relabel) and the target policy twice per install, and
``avcfix build`` opened the target policy once per module just for MLS.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avcfix.cli import main
from avcfix.explain import facts as facts_module
from avcfix.toolchain import target as target_module
from avcfix.toolchain.store import PolicyRoot, copy_root

PROJECT = Path(__file__).resolve().parents[1]
EUCA_LOG = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")


class Counter:
    def __init__(self) -> None:
        self.facts = 0
        self.targets = 0
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
def count(monkeypatch) -> Counter:
    c = Counter()
    real_open = facts_module.open_facts
    real_init = target_module.TargetPolicy.__init__

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
    return c


def _main(capsys, *argv: str) -> dict:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_a_lab_loop_with_relabels_opens_the_facts_once_per_iteration(capsys, lab_dir: Path, count: Counter) -> None:
    # httpd-fallback (test_loop_fallback.py): 4 iterations, a restorecon in the first three, no install;
    # the kernel, the explainer and the relabels ask the policy: the old code opened it 9 times (measured)
    doc = _main(capsys, "loop", "--lab", "httpd-fallback", "--lab-dir", str(lab_dir), "--apply-advice", "--yes",
                "--json")
    assert doc["outcome"] == "converged" and len(doc["iterations"]) == 4
    assert [len(it["applied"]) for it in doc["iterations"]] == [1, 1, 1, 0]
    assert count.facts == 4
    assert count.targets == 0  # nothing installed: the target policy is never read
    assert count.closed_all()


@pytest.mark.slow
def test_a_lab_loop_with_installs_opens_each_policy_once(capsys, lab_dir: Path, count: Counter) -> None:
    # eucanetd (test_loop_lab.py): 6 iterations, 5 installs. Facts: one per iteration (the old code: 6
    # kernel runs + 5 explains = 11). Target policy: the first install's target, then each install's
    # rebuilt policy, which the next install checks against (the old code: 2 per install = 10; measured)
    doc = _main(capsys, "loop", "--lab", "eucanetd", "--lab-dir", str(lab_dir), "--yes", "--json")
    assert doc["outcome"] == "converged" and len(doc["iterations"]) == 6
    installs = sum(1 for it in doc["iterations"] if it["rules_added"])
    assert installs == 5
    assert count.facts == 6
    assert count.targets == installs + 1
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
    assert count.facts == 1
    assert count.targets == len(installed) + 1
    assert count.closed_all()
