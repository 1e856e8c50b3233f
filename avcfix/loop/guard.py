"""Put the system back as it was: the permissive mark and the dontaudit state.

:class:`StateGuard` remembers every change the loop makes to the policy's
modes and undoes them in :meth:`StateGuard.restore`, which the loop calls in a
``finally``; with a :class:`~avcfix.loop.journal.Journal` each change is
journaled first, so that a crash that skips the ``finally`` can be undone by
the next run. :func:`interrupts_as_keyboard` turns SIGTERM and SIGHUP into
:class:`KeyboardInterrupt` while the loop runs, so a ``kill`` or a closed
terminal takes the same restoring path as Ctrl-C; while restoring, further
Ctrl-C are ignored so that the restore cannot be cut in half.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from avcfix.loop.journal import Journal
from avcfix.looptypes.interfaces import PolicyAdmin


class StateGuard:
    """Records the permissive marks and dontaudit switch made, and undoes them."""

    def __init__(self, admin: PolicyAdmin, journal: Journal | None = None) -> None:
        self.admin = admin
        self.journal = journal if journal is not None else Journal(None)
        self.marked: list[str] = []
        self.dontaudit_disabled = False
        self.restored: list[str] = []
        self.failures: list[str] = []
        self._entries: dict[str, int] = {}  # "dontaudit" / a domain -> its journal entry

    def disable_dontaudit(self) -> None:
        """``semodule -DB`` unless dontaudit rules are already off (then leave them)."""
        if self.admin.dontaudit_enabled():
            self._entries["dontaudit"] = self.journal.begin("dontaudit", {})
            self.dontaudit_disabled = True  # set first: a failure half-way still restores
            self.admin.set_dontaudit(False)
            self.journal.done(self._entries["dontaudit"])

    def mark_permissive(self, domain: str) -> bool:
        """Mark ``domain`` permissive; False when it already was (then it stays so)."""
        if domain in self.admin.permissive_domains():
            return False
        self._entries[domain] = self.journal.begin("permissive", {"domain": domain})
        self.marked.append(domain)
        self.admin.set_permissive(domain, True)
        self.journal.done(self._entries[domain])
        return True

    def unmark(self, domain: str) -> None:
        """Remove a mark this guard made (the verify run is enforcing again)."""
        if domain in self.marked:
            self.admin.set_permissive(domain, False)
            self.marked.remove(domain)
            self._journal_undone(domain)
            self.restored.append(f"removed the permissive mark of {domain}")

    def _journal_undone(self, key: str, why: str = "") -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.journal.undone(entry, why)

    def restore(self) -> None:
        """Undo everything still changed; never raises (failures are kept in ``failures``)."""
        with _ignore_interrupts():
            for domain in list(reversed(self.marked)):
                try:
                    if domain not in self.admin.permissive_domains():
                        self.marked.remove(domain)  # the mark never took effect: nothing to undo
                        self._journal_undone(domain, "never took effect")
                        continue
                    self.unmark(domain)
                except Exception as exc:  # keep going: the other states must be restored too
                    self.failures.append(f"could not remove the permissive mark of {domain}: {exc} "
                                         f"(run: semanage permissive -d {domain})")
            if self.dontaudit_disabled:
                try:
                    self.admin.set_dontaudit(True)
                    self.dontaudit_disabled = False
                    self._journal_undone("dontaudit")
                    self.restored.append("dontaudit rules enabled again (semodule -B)")
                except Exception as exc:
                    self.failures.append(f"could not enable dontaudit rules again: {exc} (run: semodule -B)")


def _handler(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """SIGTERM/SIGHUP raise KeyboardInterrupt inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _ignore_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.signal(s, signal.SIG_IGN) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
