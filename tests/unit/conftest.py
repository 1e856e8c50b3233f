"""The unit tier: pure logic, runs anywhere (no SELinux tools, policy or network).

Every test under ``tests/unit`` runs with the doors to the outside shut: an
attempt to start a program (``subprocess``, ``os.system``/``exec*``/
``posix_spawn``, :func:`avcfix.proc.run`), to open a real policy (setools'
``SELinuxPolicy``, libselinux's ``selabel_open``/``matchpathcon``, audit2why,
the policy index build) or to reach the network fails the test loudly, so that
a unit test cannot quietly become an integration test. The guard is also up
while the test's fixtures are set up and torn down, and any attempt is
recorded: a test that catches the :class:`TierViolation` still fails.

The guard is a runtest hook of this conftest that acts on the items under this
directory only: ``make test`` runs unit and integration tests in one session and
the integration tests are not affected. (``AVCFIX_TIER_GUARD_ALL=1`` with
``-p`` on this file guards every test: how the tests were sorted into tiers.)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest


class TierViolation(BaseException):
    """A unit test reached outside (a BaseException: ``except Exception`` does not swallow it)."""


#: What was attempted during the current test phase (message per attempt).
_attempts: list[str] = []


def _blocker(what: str) -> Callable[..., Any]:
    def blocked(*args: Any, **kwargs: Any) -> Any:
        shown = " ".join(str(a) for a in args[:1])[:200]
        msg = f"unit tier: {what} is not allowed here ({shown}); this test belongs in tests/integration"
        _attempts.append(msg)
        raise TierViolation(msg)

    return blocked


def _targets() -> list[tuple[Any, str, str]]:
    """(object, attribute, description) of everything a unit test may not call."""
    out: list[tuple[Any, str, str]] = [
        (subprocess.Popen, "_execute_child", "starting a program (subprocess)"),
        (os, "system", "os.system"),
        (socket.socket, "connect", "a network connection"),
        (socket.socket, "connect_ex", "a network connection"),
        (socket, "getaddrinfo", "a name lookup"),
    ]
    # os.fork stays open: avcfix's own parallel workers (triage_parallel) fork without exec.
    for name in ("execv", "execve", "execvp", "execvpe", "execl", "execlp",
                 "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            out.append((os, name, f"os.{name}"))
    from avcfix import proc
    from avcfix.index import build, cache

    out += [
        (proc, "run", "avcfix.proc.run (an external command)"),
        (build, "build", "building the policy index (reads a real policy)"),
        (build, "policy_dumper", "the policy index's C reader (reads a real policy)"),
        (cache, "open_index", "opening the policy index (reads a real policy)"),
    ]
    # The bindings are optional for the unit tier: guard them when they are installed.
    with contextlib.suppress(ImportError):
        import setools

        out.append((setools, "SELinuxPolicy", "opening a binary policy (setools.SELinuxPolicy)"))
    with contextlib.suppress(ImportError):
        import selinux

        for name in ("selabel_open", "matchpathcon", "selinux_getpolicytype", "security_policyvers"):
            if hasattr(selinux, name):
                out.append((selinux, name, f"libselinux ({name})"))
    with contextlib.suppress(ImportError):
        import selinux.audit2why as a2w

        out.append((a2w, "init", "audit2why (loads a policy)"))
    return out


@contextlib.contextmanager
def guarded() -> Iterator[list[str]]:
    """Shut the doors for the ``with`` body; yields the list of attempts made."""
    targets = _targets()
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in targets]
    _attempts.clear()
    try:
        for obj, attr, what in targets:
            setattr(obj, attr, _blocker(what))
        yield _attempts
    finally:
        for obj, attr, orig in saved:
            setattr(obj, attr, orig)


_HERE = Path(__file__).resolve().parent


def _in_tier(item: pytest.Item) -> bool:
    return os.environ.get("AVCFIX_TIER_GUARD_ALL") == "1" or _HERE in Path(item.path).resolve().parents


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """The doors stay shut from the test's setup to its teardown (the fixtures' too), once:
    a test's own monkeypatch of a guarded name (a fake ``proc.run``) sits on top and is undone first."""
    if not _in_tier(item):
        return (yield)
    with guarded():
        return (yield)


def _check(item: pytest.Item) -> Generator[None, object, object]:
    outcome = yield
    if _attempts and _in_tier(item):
        found = list(_attempts)
        _attempts.clear()
        raise AssertionError(f"{found[0]} ({len(found)} attempt(s) in all)")
    return outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _check(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _check(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _check(item))
