"""The loop's journal, lock and undo steps, piece by piece (the crash tests are in
tests/integration/test_loop_crash.py, the ones on a policy store in
tests/integration/test_loop_journal_tools.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_system_backends import _finding

from avcfix import proc
from avcfix.errors import ExitCode, ToolError
from avcfix.explain.fixes import Fix, fix_for
from avcfix.explain.model import AdviceKind
from avcfix.loop.guard import StateGuard
from avcfix.loop.journal import Journal, Owner, recover
from avcfix.loop.session import BusyError, LoopLock, LoopSession, StateDirError, machine_of, state_dir_for
from avcfix.system.semanage import SemanageAdmin, parse_boolean_list, parse_local_fcontexts, parse_local_ports
from avcfix.toolchain.store import PolicyRoot

LIVE = PolicyRoot(Path("/"), "default")


class Semanage:
    """The live system's semanage tables as a script (tests never touch the host's policy)."""

    def __init__(self) -> None:
        self.booleans = "global_ssp                     (off  ,  off)  Allow global to ssp\n"
        self.ports = ""
        self.fcontexts = ""
        self.calls: list[list[str]] = []

    def __call__(self, argv, timeout=0, record=None, **kw) -> proc.Result:
        argv = list(argv)
        out = ""
        if argv[:3] == ["semanage", "boolean", "-l"]:
            out = self.booleans
        elif argv[:3] == ["semanage", "port", "-l"]:
            out = self.ports
        elif argv[:3] == ["semanage", "fcontext", "-l"]:
            out = self.fcontexts
        else:
            self.calls.append(argv)
        return proc.Result(tuple(argv), 0, out, "", 0.0)


def _fix(kind: AdviceKind, command: str, booleans=()) -> Fix:
    fix = fix_for(_finding(kind, command, booleans))
    assert fix is not None
    return fix


def test_semanage_listings_parse() -> None:
    assert parse_boolean_list("global_ssp   (on   ,  off)  Allow x\nbad line\nhttpd_can_x (off , on) y\n") == {
        "global_ssp": (True, False), "httpd_can_x": (False, True)}
    assert parse_local_ports("http_port_t   tcp   8081, 8082\nx_port_t udp 1000-1010\n") == {
        ("tcp", 8081): "http_port_t", ("tcp", 8082): "http_port_t"}
    assert parse_local_fcontexts("/srv/www(/.*)?     all files     system_u:object_r:httpd_sys_content_t:s0\n"
                                 "/x   directory   system_u:object_r:y_t:s0\n") == {
        "/srv/www(/.*)?": "httpd_sys_content_t"}


def test_live_boolean_is_put_back_to_its_runtime_and_persistent_values() -> None:
    sm = Semanage()
    sm.booleans = "global_ssp   (on  ,  off)  Allow\n"  # on now, off after a reboot
    admin = SemanageAdmin(LIVE, runner=sm)
    fix = _fix(AdviceKind.BOOLEAN, "setsebool -P global_ssp on", (("global_ssp", True),))
    before = admin.fix_before(fix)
    assert before == {"booleans": {"global_ssp": [True, False]}}
    sm.booleans = "global_ssp   (on  ,  on)  Allow\n"  # setsebool -P global_ssp on
    assert admin.undo_fix(fix, before) == ["setsebool -P global_ssp off", "setsebool global_ssp on"]
    assert sm.calls == [["setsebool", "-P", "global_ssp", "off"], ["setsebool", "global_ssp", "on"]]
    sm.calls.clear()
    sm.booleans = "global_ssp   (on  ,  off)  Allow\n"
    assert admin.undo_fix(fix, before) == [] and sm.calls == []  # undone already: nothing to do


def test_live_port_and_fcontext_are_removed_or_put_back() -> None:
    sm = Semanage()
    admin = SemanageAdmin(LIVE, runner=sm)
    port = _fix(AdviceKind.PORT_LABEL, "semanage port -a -t http_port_t -p tcp 8081")
    before = admin.fix_before(port)
    assert before == {"port": ["tcp", 8081, None]}
    assert admin.undo_fix(port, before) == [] and sm.calls == []  # the add never happened
    sm.ports = "http_port_t   tcp   8081\n"
    assert admin.undo_fix(port, before) == ["semanage port -d -p tcp 8081"]
    sm.calls.clear()
    assert admin.undo_fix(port, {"port": ["tcp", 8081, "xyz_port_t"]}) == [
        "semanage port -m -t xyz_port_t -p tcp 8081"]

    sm.calls.clear()
    fc = _fix(AdviceKind.FCONTEXT, "semanage fcontext -a -t httpd_sys_content_t '/srv/www(/.*)?'")
    before = admin.fix_before(fc)
    assert before == {"fcontext": ["/srv/www(/.*)?", None]}
    sm.fcontexts = "/srv/www(/.*)?   all files   system_u:object_r:httpd_sys_content_t:s0\n"
    assert admin.undo_fix(fc, before) == ["semanage fcontext -d /srv/www(/.*)?"]
    assert sm.calls == [["semanage", "fcontext", "-d", "/srv/www(/.*)?"]]


def test_live_file_labels_are_put_back_with_chcon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import avcfix.system.semanage as sem

    f = tmp_path / "my file"
    f.write_text("x")
    labels = {str(f): "system_u:object_r:user_home_t:s0"}
    monkeypatch.setattr(sem, "file_context", lambda p: labels.get(p))
    sm = Semanage()
    admin = SemanageAdmin(LIVE, runner=sm)
    fix = _fix(AdviceKind.RESTORECON, f"restorecon -v '{f}'")
    before = admin.fix_before(fix)
    labels[str(f)] = "system_u:object_r:httpd_sys_content_t:s0"  # restorecon ran
    assert admin.undo_fix(fix, before) == [f"chcon -h -- system_u:object_r:user_home_t:s0 {f}"]
    assert sm.calls == [["chcon", "-h", "--", "system_u:object_r:user_home_t:s0", str(f)]]


def test_a_private_root_journals_no_fix() -> None:
    sm = Semanage()
    admin = SemanageAdmin(PolicyRoot(Path("/tmp/not-live")), runner=sm)
    fix = _fix(AdviceKind.PORT_LABEL, "semanage port -a -t http_port_t -p tcp 8081")
    assert admin.fix_before(fix) == {} and admin.undo_fix(fix, {"port": ["tcp", 8081, None]}) == []
    assert sm.calls == []


def test_a_journaled_fix_reads_back_and_is_checked_again() -> None:
    fix = _fix(AdviceKind.FCONTEXT, "semanage fcontext -a -t httpd_sys_content_t '/srv/www(/.*)?' "
                                    "&& restorecon -R -v /srv/www")
    assert Fix.from_json(json.loads(json.dumps(fix.to_json()))) == fix
    bad = fix.to_json() | {"fcontext": ["/srv/www", "x_t; reboot"]}
    with pytest.raises(ValueError, match="bad name"):
        Fix.from_json(bad)


def test_the_journal_is_written_before_the_change(tmp_path: Path) -> None:
    path = tmp_path / "svc.journal.json"
    j = Journal(path, {"service": "svc"})
    assert not path.exists()  # nothing journaled, nothing left behind
    i = j.begin("permissive", {"domain": "a_t"})
    doc = json.loads(path.read_text())
    assert doc["entries"] == [{"kind": "permissive", "state": "pending", "args": {"domain": "a_t"}, "before": {}}]
    assert doc["owner"]["pid"] == os.getpid()
    j.done(i)
    assert json.loads(path.read_text())["entries"][0]["state"] == "done"
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed over the journal
    j.finish(restored=True)
    assert not path.exists()


def test_restoring_that_fails_keeps_the_journal_but_not_the_fixes(tmp_path: Path) -> None:
    j = Journal(tmp_path / "svc.journal.json")
    j.done(j.begin("permissive", {"domain": "a_t"}))
    j.done(j.begin("fix", {"fix": _fix(AdviceKind.PORT_LABEL, "semanage port -a -t http_port_t -p tcp 8081")
                           .to_json()}))
    j.finish(restored=False)
    states = [e["state"] for e in Journal.load(tmp_path / "svc.journal.json").entries]
    assert states == ["done", "kept"]  # a recovery retries the mark, leaves the reported fix


def test_a_damaged_journal_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "svc.journal.json"
    path.write_text('{"version": 1, "entries": [{"kind": "rm -rf"}]}')
    with pytest.raises(ToolError, match=str(path)) as e:
        Journal.load(path)
    assert e.value.exit_code == ExitCode.INSTALL


def test_owner_of_another_boot_or_a_dead_pid_is_gone() -> None:
    me = Owner.me()
    assert me.alive()
    assert not Owner(me.pid, "another-boot", me.start_ticks, "").alive()
    assert not Owner(me.pid, me.boot_id, (me.start_ticks or 0) + 1, "").alive()  # pid reused
    assert not Owner(2 ** 22 + 1, me.boot_id, 1, "").alive()


class _Admin:
    """A PolicyAdmin over plain values (only the recovery logic is under test here)."""

    def __init__(self) -> None:
        self.permissive: set[str] = set()
        self.dontaudit = True
        self.undone: list[tuple[str, dict]] = []

    def permissive_domains(self) -> frozenset[str]:
        return frozenset(self.permissive)

    def set_permissive(self, domain: str, on: bool) -> None:
        (self.permissive.add if on else self.permissive.discard)(domain)

    def dontaudit_enabled(self) -> bool:
        return self.dontaudit

    def set_dontaudit(self, enabled: bool) -> None:
        self.dontaudit = enabled

    def fix_before(self, fix: Fix) -> dict:
        return {"old": 1}

    def apply_fix(self, fix: Fix) -> str:
        return fix.command

    def undo_fix(self, fix: Fix, before: dict) -> list[str]:
        self.undone.append((fix.command, before))
        return [f"undid {fix.command}"]


def test_recovery_undoes_newest_first_and_keeps_the_module(tmp_path: Path) -> None:
    admin = _Admin()
    j = Journal(tmp_path / "svc.journal.json", {"service": "svc"})
    guard = StateGuard(admin, j)  # as the loop makes its changes, then "crashes" (no restore)
    guard.disable_dontaudit()
    guard.mark_permissive("a_t")
    guard.mark_permissive("b_t")
    guard.unmark("b_t")
    j.done(j.begin("module", {"module": "m_local", "version_before": None}), version="1.0")
    port = _fix(AdviceKind.PORT_LABEL, "semanage port -a -t http_port_t -p tcp 8081")
    j.begin("fix", {"fix": port.to_json()}, {"old": 1})  # killed before it was marked done
    assert admin.permissive == {"a_t"} and admin.dontaudit is False

    r = recover(Journal.load(tmp_path / "svc.journal.json"), admin)
    assert r.failures == [] and r.service == "svc"
    assert [line.split(" (left by")[0] for line in r.recovered] == [
        "undid semanage port -a -t http_port_t -p tcp 8081",
        "kept module m_local 1.0 installed by the run (its rules are for denials it saw; remove it with: "
        "semodule -r m_local)",
        "removed the permissive mark of a_t",
        "dontaudit rules enabled again (semodule -B)",
    ]
    assert admin.undone == [(port.command, {"old": 1})]
    assert admin.permissive == set() and admin.dontaudit is True
    assert not (tmp_path / "svc.journal.json").exists()


def test_a_failed_undo_keeps_the_journal_for_the_next_try(tmp_path: Path) -> None:
    admin = _Admin()
    j = Journal(tmp_path / "svc.journal.json", {"service": "svc"})
    StateGuard(admin, j).mark_permissive("a_t")
    StateGuard(admin, j).disable_dontaudit()

    def broken(domain: str, on: bool) -> None:
        raise ToolError("semanage: cannot commit")

    admin.set_permissive = broken  # type: ignore[method-assign]
    r = recover(Journal.load(j.path), admin)  # type: ignore[arg-type]
    assert r.failures == ["could not undo the permissive mark of a_t: semanage: cannot commit"]
    assert admin.dontaudit is True  # the rest is undone all the same
    left = Journal.load(j.path)  # type: ignore[arg-type]
    assert [(e["kind"], e["state"]) for e in left.entries] == [("permissive", "done"), ("dontaudit", "undone")]


def test_one_lock_per_state_dir(tmp_path: Path) -> None:
    state = state_dir_for(tmp_path / "machine")
    assert machine_of(state) == tmp_path / "machine"
    first = LoopLock(state)
    first.acquire("avcfix loop --service a")
    try:
        with pytest.raises(BusyError, match=rf"another avcfix loop holds .*loop.lock \(pid {os.getpid()},") as e:
            LoopLock(state).acquire("avcfix loop --service b")
        assert e.value.exit_code == ExitCode.BUSY == 12
    finally:
        first.release()
    again = LoopLock(state)
    again.acquire("x")  # released: free again
    again.release()


def test_a_state_dir_that_cannot_be_made_changes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateDirError) as e:
        with LoopSession(blocker / "var/lib/avcfix/loop", {"service": "svc"}):
            pass
    assert e.value.exit_code == ExitCode.PREFLIGHT
