"""One loop at a time per machine, and the recovery of a run that was killed.

:class:`LoopSession` is what the CLI wraps a run in:

1. it takes the loop's lock, ``STATE_DIR/loop.lock``, with a non-blocking
   ``flock``: a second ``avcfix loop`` on the same root (or lab dir) fails
   at once with :class:`BusyError` (exit 12) naming the holder's pid. The
   kernel drops the lock when its holder dies, even by SIGKILL, so a crash
   never leaves a stale lock; the lock file itself is never removed (removing
   it would let two runs lock two different files);
2. it recovers what an interrupted run left: every ``*.journal.json`` in the
   state dir whose owner is dead is undone (:func:`avcfix.loop.journal.recover`);
3. it hands the loop this run's journal, ``STATE_DIR/SERVICE.journal.json``.

Where the state dir is (:func:`state_dir_for`), as an admin expects it:
``/var/lib/avcfix/loop`` for the live system, ``ROOT/var/lib/avcfix/loop``
for ``--root ROOT``, ``LAB_DIR/var/lib/avcfix/loop`` for a lab (the lab dir
is the simulated machine).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avcfix.errors import AvcfixError, ExitCode
from avcfix.loop.journal import Journal, Owner, Recovery, kill_point, recover_dir
from avcfix.looptypes.interfaces import PolicyAdmin

#: Below the machine's root (``/``, ``--root`` or the lab dir).
STATE_SUBDIR = Path("var/lib/avcfix/loop")
LOCK_NAME = "loop.lock"


class BusyError(AvcfixError):
    """Another avcfix loop holds the lock on this root or lab dir."""

    exit_code = ExitCode.BUSY


class StateDirError(AvcfixError):
    """The loop's state dir cannot be made or locked (no right to change this root): nothing changed."""

    exit_code = ExitCode.PREFLIGHT


def state_dir_for(machine_root: Path) -> Path:
    """``/var/lib/avcfix/loop`` under the machine's root (``/``, ``--root DIR`` or the lab dir)."""
    return Path(machine_root) / STATE_SUBDIR


def machine_of(state_dir: Path) -> Path:
    """The inverse of :func:`state_dir_for`: a journal undoes changes on the machine it lies in
    (a lab dir or a root copied or moved elsewhere takes its journal along)."""
    p = Path(state_dir)
    for _ in STATE_SUBDIR.parts:
        p = p.parent
    return p


def journal_name(service: str) -> str:
    """``SERVICE.journal.json`` with anything but ``[A-Za-z0-9@._-]`` made ``_``."""
    return re.sub(r"[^A-Za-z0-9@._-]", "_", service).lstrip(".") + ".journal.json"


class LoopLock:
    """``flock(LOCK_EX | LOCK_NB)`` on ``STATE_DIR/loop.lock``; the holder's pid written in it."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self, what: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateDirError(f"cannot make the loop's lock {self.path}: {exc.strerror or exc} "
                                "(does this user have the right to change that policy root?); "
                                "nothing was changed") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise BusyError(f"another avcfix loop holds {self.path} ({holder}): wait for it to end, or "
                            "stop it (Ctrl-C or kill PID restores what it changed); nothing was changed") from None
        except OSError as exc:
            os.close(fd)
            raise StateDirError(f"cannot lock {self.path}: {exc.strerror or exc}; nothing was changed") from exc
        me = Owner.me()
        info = json.dumps({"pid": me.pid, "started": me.started, "what": what}) + "\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode("utf-8"), 0)
        self.fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            doc = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
            return (f"pid {int(doc['pid'])}, {str(doc.get('what', ''))[:200]}, "
                    f"since {str(doc.get('started', ''))[:40]}")
        except (OSError, ValueError, KeyError, TypeError):
            return "pid unknown"

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = None


class LoopSession:
    """The lock, the recovery of interrupted runs, and this run's journal (a context manager)."""

    def __init__(self, state_dir: Path, meta: dict[str, Any],
                 admin_for: Callable[[dict[str, Any], Path], PolicyAdmin] | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.meta = dict(meta)
        self.admin_for = admin_for or admin_for_meta
        self.lock = LoopLock(self.state_dir)
        self.recoveries: list[Recovery] = []
        self.journal: Journal | None = None

    def __enter__(self) -> LoopSession:
        what = (f"avcfix loop --lab {self.meta.get('scenario_name')}" if self.meta.get("kind") == "lab"
                else f"avcfix loop --service {self.meta.get('service')}" if self.meta.get("service")
                else "avcfix loop --recover")
        self.lock.acquire(what)
        try:
            machine = machine_of(self.state_dir)
            self.recoveries = recover_dir(self.state_dir, lambda meta: self.admin_for(meta, machine), _not_alive)
            kill_point("recovered")
            if self.meta.get("service"):
                self.journal = Journal(self.state_dir / journal_name(str(self.meta["service"])), self.meta)
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()

    @property
    def recovered(self) -> tuple[str, ...]:
        return tuple(line for r in self.recoveries for line in r.recovered)

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(line for r in self.recoveries for line in r.failures)


def _not_alive(journal: Journal) -> None:
    """A journal whose owner still runs is not ours to undo (only if its lock file was replaced)."""
    if journal.owner.alive() and journal.owner.pid != os.getpid():
        raise BusyError(f"the loop journal {journal.path} belongs to a running process (pid "
                        f"{journal.owner.pid}); nothing was changed")


def admin_for_meta(meta: dict[str, Any], machine: Path) -> PolicyAdmin:
    """The PolicyAdmin a journal's changes were made through: the lab or the root ``machine``."""
    from avcfix.toolchain.store import PolicyRoot

    if meta.get("kind") == "lab":
        from avcfix.lab.backends import Lab
        from avcfix.lab.scenario import find_scenario, load_scenario

        workdir = machine
        path = Path(str(meta.get("scenario", "")))
        scenario = load_scenario(path if path.is_file() else find_scenario(str(meta["scenario_name"])))
        return Lab(scenario, workdir, PolicyRoot(workdir / "root", str(meta.get("policy_name") or "default"))).admin()
    from avcfix.system.semanage import SemanageAdmin

    return SemanageAdmin(PolicyRoot(machine, str(meta.get("policy_name") or "default")))
