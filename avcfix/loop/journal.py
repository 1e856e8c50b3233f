"""The loop's write-ahead journal: what a run changed, so that a crash can be undone.

Before each change to the system (dontaudit off, a permissive mark, a fix
applied with ``--apply-advice``, a module install) the loop appends an entry
to its journal -- what it is about to change and the value it has now -- and
makes it durable (written to a temporary file, fsynced, renamed over the
journal, the directory fsynced). After the change the entry is marked
``done``; a change the loop takes back itself (the permissive mark removed
before the verify run, dontaudit enabled again) is marked ``undone``.

A fix that did not help (the same denial came back, see
:mod:`avcfix.loop.engine`) is taken back by the loop at once and its entry
marked ``undone`` with ``why`` "did not help"; the fix tried next names it in
``args.fallback_after`` (a module rule tried as the fallback: the module
entry's ``args.fallback_for``). A run killed in between leaves the entry
``done``, and the recovery undoes it like any other (undoing is idempotent).

A run that ends in order (any outcome, an error, Ctrl-C) restores the
permissive mark and dontaudit and deletes its journal: what it applied or
installed is in its report and stays. A run that was killed (SIGKILL, OOM,
power cut) leaves its journal behind; the next ``avcfix loop`` on the same
root (or ``avcfix loop --recover``) finds it -- its owner (pid, boot id and
process start time) is gone -- and undoes every entry not yet undone, newest
first. Undoing is idempotent: each undo compares the state now with the value
before and does nothing when they agree, so an entry written just before a
change that never happened, or a change already taken back, is harmless. The
module the killed run installed is kept (it holds rules for real denials, and
its previous version is kept in ``OUT_DIR/.avcfix-loop/``); the recovery says
so.

Test hook: ``AVCFIX_TEST_KILL_AT=POINT`` makes the process SIGKILL itself at
that point, for the crash tests: ``KIND`` right after the change of that kind
(before it is marked done), ``before:KIND`` right after its entry is written
(before the change), ``undo:KIND`` right after the loop took such a change
back itself (before it is marked undone), ``recovered`` right after a
recovery. KIND is ``dontaudit``, ``permissive``, ``fix`` or ``module``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avcfix.errors import ToolError
from avcfix.explain.fixes import Fix
from avcfix.looptypes.interfaces import PolicyAdmin
from avcfix.toolchain.atomic import fsync_dir, write_json_atomic

#: Version of the journal file format.
JOURNAL_VERSION = 1
#: The test hook's environment variable (see the module docstring).
KILL_ENV = "AVCFIX_TEST_KILL_AT"

KINDS = ("dontaudit", "permissive", "fix", "module")


def kill_point(point: str) -> None:
    """SIGKILL this process when ``AVCFIX_TEST_KILL_AT`` names ``point`` (a test hook)."""
    if os.environ.get(KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------- the owner


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Owner:
    """The run that owns a journal: a pid is only the same process on the same boot, started then."""

    pid: int
    boot_id: str
    start_ticks: int | None
    started: str

    @classmethod
    def me(cls) -> Owner:
        return cls(os.getpid(), _boot_id(), _start_ticks(os.getpid()),
                   time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def alive(self) -> bool:
        if self.boot_id != _boot_id():
            return False  # rebooted since (a power cut): every process of that boot is gone
        ticks = _start_ticks(self.pid)
        return ticks is not None and ticks == self.start_ticks

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "boot_id": self.boot_id, "start_ticks": self.start_ticks,
                "started": self.started}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Owner:
        ticks = doc.get("start_ticks")
        return cls(int(doc.get("pid", 0)), str(doc.get("boot_id", "")),
                   int(ticks) if isinstance(ticks, int) else None, str(doc.get("started", "")))


# ---------------------------------------------------------------- the journal


class Journal:
    """This run's journal (``path=None``: kept in memory only, nothing survives a crash)."""

    def __init__(self, path: Path | None, meta: dict[str, Any] | None = None,
                 owner: Owner | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.meta = dict(meta or {})
        self.owner = owner or Owner.me()
        self.entries: list[dict[str, Any]] = []

    # what the loop calls around each change

    def begin(self, kind: str, args: dict[str, Any], before: dict[str, Any] | None = None) -> int:
        """Record (durably) a change about to be made; returns its index."""
        assert kind in KINDS, kind
        self.entries.append({"kind": kind, "state": "pending", "args": args, "before": before or {}})
        self._save()
        kill_point(f"before:{kind}")
        return len(self.entries) - 1

    def done(self, index: int, **result: Any) -> None:
        """The change was made (``result`` adds what it turned out to be, e.g. a version)."""
        kill_point(self.entries[index]["kind"])
        self.entries[index]["state"] = "done"
        self.entries[index]["args"].update(result)
        self._save()

    def undone(self, index: int, why: str = "") -> None:
        """The change was taken back (or never happened)."""
        kill_point(f"undo:{self.entries[index]['kind']}")
        self.entries[index]["state"] = "undone"
        if why:
            self.entries[index]["why"] = why
        self._save()

    def finish(self, restored: bool) -> None:
        """End of a run in order. ``restored``: the marks are off, the journal goes.

        Otherwise (restoring failed) the fixes and the module are marked kept
        -- the report showed them -- and the journal stays for a recovery to
        retry the rest.
        """
        if self.path is None:
            return
        if restored:
            if self.path.exists():
                self.path.unlink()
                fsync_dir(self.path.parent)
            return
        for e in self.entries:
            if e["kind"] in ("fix", "module") and e["state"] != "undone":
                e["state"] = "kept"
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        doc = {"version": JOURNAL_VERSION, "owner": self.owner.to_json(), "meta": self.meta,
               "entries": self.entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path, doc)
        except OSError as exc:
            raise ToolError(f"cannot write the loop's journal {self.path}: {exc.strerror or exc}") from exc

    @classmethod
    def load(cls, path: Path) -> Journal:
        """Read a journal left on disk; a damaged one is an error naming the file."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or doc.get("version") != JOURNAL_VERSION:
                raise ValueError(f"not a version {JOURNAL_VERSION} journal")
            j = cls(path, doc.get("meta") or {}, Owner.from_json(doc.get("owner") or {}))
            entries = doc.get("entries") or []
            if not all(isinstance(e, dict) and e.get("kind") in KINDS for e in entries):
                raise ValueError("an entry of an unknown kind")
            j.entries = entries
            return j
        except (OSError, ValueError) as exc:
            raise ToolError(f"cannot read the loop's journal {path}: {exc} (look at it, undo what it lists "
                            "by hand, then delete it)") from exc

    def open_entries(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Entries a recovery must look at, newest first."""
        for i in range(len(self.entries) - 1, -1, -1):
            if self.entries[i]["state"] in ("pending", "done"):
                yield i, self.entries[i]


# ---------------------------------------------------------------- recovery


@dataclass(slots=True)
class Recovery:
    """What recovering one journal did."""

    journal: Path
    owner: Owner
    service: str
    recovered: list[str]
    failures: list[str]


def recover(journal: Journal, admin: PolicyAdmin) -> Recovery:
    """Undo every change of a dead run's ``journal`` through ``admin``, newest first.

    Each undone entry is marked so at once (a crash during the recovery
    resumes where it stopped). The journal is deleted when everything is
    undone; failures are returned (and the journal kept) otherwise.
    """
    who = f"pid {journal.owner.pid}, started {journal.owner.started}"
    out = Recovery(journal.path or Path("-"), journal.owner, str(journal.meta.get("service", "")), [], [])
    for i, e in journal.open_entries():
        try:
            lines = _undo(e, admin)
        except Exception as exc:  # keep going: the other changes must be undone too
            out.failures.append(f"could not undo {_describe(e)}: {exc}")
            continue
        out.recovered += [f"{line} (left by an interrupted loop, {who})" for line in lines]
        journal.entries[i]["state"] = "kept" if e["kind"] == "module" else "undone"
        journal._save()
    if not out.failures:
        journal.finish(restored=True)
    return out


def _describe(e: dict[str, Any]) -> str:
    args = e.get("args") or {}
    if e["kind"] == "permissive":
        return f"the permissive mark of {args.get('domain')}"
    if e["kind"] == "dontaudit":
        return "dontaudit off"
    if e["kind"] == "fix":
        return str((args.get("fix") or {}).get("command", "a fix"))
    return f"the install of {args.get('module')}"


def _undo(e: dict[str, Any], admin: PolicyAdmin) -> list[str]:
    kind, args = e["kind"], e.get("args") or {}
    if kind == "permissive":
        domain = str(args["domain"])
        if domain in admin.permissive_domains():
            admin.set_permissive(domain, False)
            return [f"removed the permissive mark of {domain}"]
        return []
    if kind == "dontaudit":
        if not admin.dontaudit_enabled():
            admin.set_dontaudit(True)
            return ["dontaudit rules enabled again (semodule -B)"]
        return []
    if kind == "fix":
        return list(admin.undo_fix(Fix.from_json(args["fix"]), e.get("before") or {}))
    # module: kept on purpose (the loop's product; its previous version is kept in the state dir)
    module = args.get("module")
    if e["state"] == "pending":
        return [f"kept module {module} as semodule left it (the run was killed during its install; "
                f"semodule commits all or nothing; remove it with: semodule -r {module})"]
    return [f"kept module {module} {args.get('version', '')} installed by the run (its rules are for "
            f"denials it saw; remove it with: semodule -r {module})"]


def recover_dir(state_dir: Path, admin_for: Callable[[dict[str, Any]], PolicyAdmin],
                is_busy: Callable[[Journal], None]) -> list[Recovery]:
    """Recover every journal of dead runs in ``state_dir`` (sorted by name)."""
    out: list[Recovery] = []
    for path in sorted(Path(state_dir).glob("*.journal.json")):
        journal = Journal.load(path)
        is_busy(journal)
        out.append(recover(journal, admin_for(journal.meta)))
    return out

