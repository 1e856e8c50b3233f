"""The loop's lab state and journal on a real policy store (the pieces:
tests/unit/test_loop_journal.py; the crash tests: test_loop_crash.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avcfix.errors import UsageError
from avcfix.loop.guard import StateGuard
from avcfix.loop.journal import Journal
from avcfix.loop.session import LoopSession, state_dir_for
from avcfix.system.semanage import SemanageAdmin
from avcfix.toolchain.store import PolicyRoot


def test_a_damaged_lab_state_is_a_usage_error_naming_it(euca_root: PolicyRoot, tmp_path: Path) -> None:
    from avcfix.lab.backends import Lab
    from avcfix.lab.scenario import LABS_DIR, load_scenario

    (tmp_path / "lab-state.json").write_text('{"scenario": "eucanetd", "state": {"ports": 3}}')
    with pytest.raises(UsageError, match="lab-state.json is damaged"):
        Lab(load_scenario(LABS_DIR / "eucanetd.toml"), tmp_path, euca_root)


@pytest.mark.slow
def test_a_permissive_mark_left_in_a_private_store_is_found_and_removed(store_root: PolicyRoot) -> None:
    """The real backend: semanage's permissive_ntpd_t module in a --root store, left by a "killed" run."""
    import setools

    state = state_dir_for(store_root.root)
    admin = SemanageAdmin(store_root)
    journal = Journal(state / "ntpd.journal.json", {"kind": "system", "service": "ntpd",
                                                     "root": str(store_root.root), "policy_name": store_root.name})
    StateGuard(admin, journal).mark_permissive("ntpd_t")  # and no restore: the run died here
    assert setools.SELinuxPolicy(str(store_root.policy_file)).lookup_type("ntpd_t").ispermissive

    with LoopSession(state, {"kind": "recover"}) as session:  # what `avcfix loop --recover --root ROOT` does
        pass
    assert [line.split(" (left by")[0] for line in session.recovered] == ["removed the permissive mark of ntpd_t"]
    assert "ntpd_t" not in SemanageAdmin(store_root).permissive_domains()
    assert not setools.SELinuxPolicy(str(store_root.policy_file)).lookup_type("ntpd_t").ispermissive
    assert not (state / "ntpd.journal.json").exists()
