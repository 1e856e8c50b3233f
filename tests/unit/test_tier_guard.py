"""The unit tier's guard (tests/unit/conftest.py) really shuts the doors: a program,
a real policy or the network is refused with TierViolation, and an attempt the
code under test swallows is still recorded (the guard then fails the test)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from avcfix import proc
from avcfix.index import cache

HERE = Path(__file__).resolve().parent


@pytest.fixture
def guard(request: pytest.FixtureRequest):
    """The conftest module of this directory (its TierViolation and attempt list)."""
    for plugin in request.config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "/").resolve() == HERE / "conftest.py":
            return plugin
    raise AssertionError("tests/unit/conftest.py is not loaded")


def _refused(guard, call) -> str:
    with pytest.raises(guard.TierViolation) as exc:
        call()
    assert guard._attempts, "the attempt was not recorded"
    guard._attempts.clear()  # expected here: the test would fail on it otherwise
    return str(exc.value)


def test_programs_are_refused(guard) -> None:
    assert "subprocess" in _refused(guard, lambda: subprocess.run(["true"], check=False))
    assert "avcfix.proc.run" in _refused(guard, lambda: proc.run(["checkmodule", "-V"]))
    assert "os.system" in _refused(guard, lambda: os.system("true"))
    assert "posix_spawn" in _refused(guard, lambda: os.posix_spawn("/bin/true", ["true"], {}))


def test_a_swallowed_attempt_is_still_recorded(guard) -> None:
    try:
        proc.run(["semodule", "-l"])
    except BaseException:  # noqa: BLE001 - what careless code under test might do
        pass
    assert len(guard._attempts) == 1 and "semodule" in guard._attempts[0]
    guard._attempts.clear()


def test_real_policies_are_refused(guard, tmp_path: Path) -> None:
    setools = pytest.importorskip("setools")
    assert "SELinuxPolicy" in _refused(guard, lambda: setools.SELinuxPolicy("/etc/selinux/default/policy/policy.33"))
    from avcfix.index.build import Inputs

    assert "policy index" in _refused(guard, lambda: cache.open_index(Inputs(tmp_path / "policy.33", None, None)))
    selinux = pytest.importorskip("selinux")
    assert "libselinux" in _refused(guard, lambda: selinux.selabel_open(selinux.SELABEL_CTX_FILE, None, 0))


def test_the_network_is_refused(guard) -> None:
    with socket.socket() as s:
        assert "network" in _refused(guard, lambda: s.connect(("127.0.0.1", 9)))
    assert "name lookup" in _refused(guard, lambda: socket.getaddrinfo("example.org", 80))
