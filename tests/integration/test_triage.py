"""The triage service (avcfix/triage.py) closes the policy facts it opens, on every path.

A spy wraps :func:`avcfix.facts.open_facts` (the real function, over
the host's reference policy): it counts the opens and the closes of the real
facts object. Every command that reads logs (``why`` in each format, in
parallel, ``build``, ``bundle``), and the error paths (a source that cannot
be read, a build that fails), ends with as many closes as opens. Checked to
fail on the code before the service: ``why`` never closed its facts (1 open,
0 closes per run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avcfix import facts as facts_module
from avcfix.cli import main
from avcfix.triage import Triage

PROJECT = Path(__file__).resolve().parents[2]
EUCA = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")


class Spy:
    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0


@pytest.fixture
def spy(monkeypatch) -> Spy:
    s = Spy()
    real_open = facts_module.open_facts

    def open_facts(*args, **kw):
        facts = real_open(*args, **kw)
        if facts is not None:
            s.opened += 1
            real_close = facts.close

            def close() -> None:
                s.closed += 1
                real_close()

            facts.close = close
        return facts

    monkeypatch.setattr(facts_module, "open_facts", open_facts)
    return s


def _run(capsys, *argv: str) -> int:
    code = main(list(argv))
    capsys.readouterr()
    return code


@pytest.mark.parametrize("argv", [
    ("why", "--json"),
    ("why", "--format", "text"),
    ("why", "--format", "rich"),
    ("why", "--brief", "--format", "json"),
    ("why", "--json", "-j", "2"),
    ("why", "--format", "text", "-j", "2"),
    ("bundle", "--markdown"),
    ("bundle", "--format", "json", "-o", "{tmp}/b.tar.gz"),
    ("build", "--json", "--all-domains", "-o", "{tmp}"),
    ("build", "--format", "text", "--all-domains", "-o", "{tmp}"),
], ids=lambda a: " ".join(a))
def test_every_command_closes_the_facts_it_opens(capsys, spy: Spy, ref_policy: Path, tmp_path: Path, argv):
    argv = tuple(a.replace("{tmp}", str(tmp_path)) for a in argv)
    assert _run(capsys, *argv, "--policy", str(ref_policy), EUCA) == 0
    assert spy.opened == 1 and spy.closed == 1


def test_an_unreadable_source_opens_nothing_or_closes_it(capsys, spy: Spy, ref_policy: Path, tmp_path: Path):
    missing = str(tmp_path / "no.log")
    for argv in (("why", "--json"), ("why", "--format", "text"), ("build", "--json", "--all-domains"),
                 ("bundle", "--markdown")):
        assert _run(capsys, *argv, "--policy", str(ref_policy), missing) == 3  # ExitCode.INPUT
    assert spy.opened == spy.closed  # bundle opens the policy first: then it is closed too


def test_a_failed_build_closes_the_facts(capsys, spy: Spy, ref_policy: Path, tmp_path: Path):
    out = tmp_path / "ro"
    out.write_text("a file where the out dir should be")  # every module's write fails
    assert _run(capsys, "build", "--json", "--all-domains", "-o", str(out), "--policy", str(ref_policy), EUCA) != 0
    assert spy.opened == 1 and spy.closed == 1


def test_an_exception_inside_the_block_closes_the_facts(spy: Spy, ref_policy: Path):
    with pytest.raises(RuntimeError):
        with Triage([EUCA], policy=ref_policy) as t:
            t.explain(t.acc.groups())
            raise RuntimeError("boom")
    assert spy.opened == 1 and spy.closed == 1


def test_lent_facts_are_never_closed(spy: Spy, ref_policy: Path):
    facts = facts_module.open_facts(ref_policy, None)
    with Triage([EUCA], facts=facts) as t:
        list(t.scan())
        findings = t.explain(t.acc.groups())
    assert findings and spy.opened == 1 and spy.closed == 0
    facts.close()


def test_no_explanation_opens_no_policy(capsys, spy: Spy, ref_policy: Path):
    assert _run(capsys, "why", "--raw", EUCA) == 0
    with Triage([EUCA], policy=ref_policy, explain=False) as t:
        assert list(t.scan()) and t.explain(t.acc.groups()) is None
    assert spy.opened == 0
