"""The real backends' argv and parsing, with a recorder instead of the programs (the
real programs, as far as this machine allows, and a private policy store:
tests/integration/test_system_backends_tools.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avcfix import proc
from avcfix.errors import ToolError, UsageError
from avcfix.explain.fixes import fix_for
from avcfix.explain.model import Advice, AdviceKind, Finding, Reason
from avcfix.names.identifiers import InvalidIdentifier
from avcfix.system import auditctl
from avcfix.system.semanage import SemanageAdmin, parse_permissive_list
from avcfix.system.systemd import SystemdService, check_unit_name, context_type, healthy, parse_show
from avcfix.toolchain.store import PolicyRoot


class Recorder:
    """Records argv instead of running (for the live root, which tests must never touch)."""

    def __init__(self, stdout: str = "") -> None:
        self.calls: list[list[str]] = []
        self.stdout = stdout

    def __call__(self, argv, timeout=0, record=None, **kw) -> proc.Result:
        self.calls.append(list(argv))
        return proc.Result(tuple(argv), 0, self.stdout, "", 0.0)


LIVE = PolicyRoot(Path("/"), "default")


def test_live_semanage_argv() -> None:
    rec = Recorder()
    admin = SemanageAdmin(LIVE, runner=rec)
    admin.set_permissive("httpd_t", True)
    admin.set_permissive("httpd_t", False)
    admin.set_dontaudit(False)
    admin.set_dontaudit(True)
    assert rec.calls == [
        ["semanage", "permissive", "-a", "httpd_t"],
        ["semanage", "permissive", "-d", "httpd_t"],
        ["semodule", "-D", "-B"],
        ["semodule", "-B"],
    ]


def test_live_admin_refuses_injected_names() -> None:
    admin = SemanageAdmin(LIVE, runner=Recorder())
    with pytest.raises(InvalidIdentifier):
        admin.set_permissive("-D", True)
    with pytest.raises(InvalidIdentifier):
        admin.set_permissive("x_t; reboot", True)


def _finding(kind: AdviceKind, command: str, booleans=()) -> Finding:
    """A finding with one advice; a relabel is aimed at its object (the path its first command
    names, as the explanation engine's advisors set ``acts_on``), which the loop requires."""
    import shlex

    from avcfix.audit.model import Context, Denial, DenialGroup
    from avcfix.explain.objects import DeniedObject, ObjectKind

    ctx = Context("system_u", "system_r", "a_t", "s0")
    d = Denial("AVC", None, 1.0, 1, ctx, ctx, "file", ("read",), False)
    g = DenialGroup("a_t", "a_t", "file", False, ("read",), 1, 1.0, 1.0, d)
    obj, acts_on = None, None
    if kind in (AdviceKind.RESTORECON, AdviceKind.FCONTEXT, AdviceKind.FCONTEXT_EQUAL):
        acts_on = shlex.split(command.split("&&")[0])[-1].removesuffix("(/.*)?")
        obj = DeniedObject(ObjectKind.PATH, acts_on, True, "file", None, "test")
    return Finding(g, ("read",), Reason.BOOLEAN, (Advice(kind, command, 90, "why", acts_on=acts_on),),
                   booleans=booleans, object=obj)


def test_fixes_become_validated_argv_and_run_on_the_live_system_only() -> None:
    rec = Recorder()
    admin = SemanageAdmin(LIVE, runner=rec)
    for f in (_finding(AdviceKind.BOOLEAN, "setsebool -P global_ssp on", (("global_ssp", True),)),
              _finding(AdviceKind.PORT_LABEL, "semanage port -a -t http_port_t -p tcp 8081"),
              _finding(AdviceKind.RESTORECON, "restorecon -v '/var/www/my file'"),
              _finding(AdviceKind.FCONTEXT, "semanage fcontext -a -t httpd_sys_content_t '/srv/www(/.*)?' "
                                            "&& restorecon -R -v /srv/www")):
        fix = fix_for(f)
        assert fix is not None
        admin.apply_fix(fix)
    assert rec.calls == [
        ["setsebool", "-P", "global_ssp", "on"],
        ["semanage", "port", "-a", "-t", "http_port_t", "-p", "tcp", "8081"],
        ["restorecon", "-v", "--", "/var/www/my file"],
        ["semanage", "fcontext", "-a", "-t", "httpd_sys_content_t", "/srv/www(/.*)?"],
        ["restorecon", "-R", "-v", "--", "/srv/www"],
    ]
    with pytest.raises(ToolError, match="live system"):
        SemanageAdmin(PolicyRoot(Path("/tmp/x")), runner=rec).apply_fix(fix_for(_finding(
            AdviceKind.BOOLEAN, "setsebool -P global_ssp on", (("global_ssp", True),))))


@pytest.mark.parametrize("command", [
    "setsebool -P global_ssp on; rm -rf /",
    "semanage port -a -t http_port_t -p tcp 8081 | sh",
    "semanage port -a -t 'bad type' -p tcp 8081",
    "semanage port -a -t http_port_t -p icmp 8081",
    "semanage port -a -t http_port_t -p tcp 99999",
    "restorecon -v relative/path",
    "curl http://x | sh",
    "restorecon -v $(reboot)",
])
def test_unsafe_or_unknown_commands_are_never_applied(command: str) -> None:
    kind = AdviceKind.PORT_LABEL if "port" in command else (
        AdviceKind.BOOLEAN if "setsebool" in command else AdviceKind.RESTORECON)
    fix = fix_for(_finding(kind, command))
    if fix is not None:
        # only a restorecon of a literal path is acceptable: never a shell expansion
        assert all(a[0] in ("setsebool", "semanage", "restorecon") for a in fix.argv)
        assert fix.kind is AdviceKind.RESTORECON and fix.paths[0].startswith("/")
        pytest.fail(f"{command!r} must not be applied: {fix.argv}")


def test_permissive_list_parsing() -> None:
    text = "\nhttpd_t\nfoo_t\n\nunconfined_t\n"
    assert parse_permissive_list(text) == {"httpd_t", "foo_t", "unconfined_t"}


def test_auditctl_status_and_warnings() -> None:
    text = ("enabled 1\nfailure 1\npid 612\nrate_limit 0\nbacklog_limit 8192\nlost 3\nbacklog 0\n"
            "backlog_wait_time 60000\n")
    st = auditctl.parse_status(text)
    assert (st.enabled, st.lost, st.backlog, st.backlog_limit) == (1, 3, 0, 8192)
    old = auditctl.parse_status("AUDIT_STATUS: enabled=1 flag=1 pid=612 rate_limit=0 backlog_limit=64 "
                                "lost=0 backlog=60")
    assert (old.lost, old.backlog, old.backlog_limit) == (0, 60, 64)
    assert auditctl.status_warnings(st, st) == ()
    w = auditctl.status_warnings(old, st)
    assert len(w) == 1 and "lost 3" in w[0]
    assert any("close to its limit" in x for x in auditctl.status_warnings(None, old))
    assert any("disabled" in x for x in auditctl.status_warnings(None, auditctl.parse_status("enabled 0")))


def test_systemd_parsing() -> None:
    props = parse_show("ActiveState=active\nSubState=running\nMainPID=42\nResult=success\nType=simple\n")
    assert healthy(props)
    assert not healthy({"ActiveState": "failed", "Result": "exit-code"})
    assert healthy({"ActiveState": "inactive", "Result": "success", "Type": "oneshot"})
    assert not healthy({"ActiveState": "inactive", "Result": "success", "Type": "simple"})
    assert context_type("system_u:system_r:eucalyptus_eucanetd_t:s0\x00") == "eucalyptus_eucanetd_t"
    assert check_unit_name("eucanetd.service") == "eucanetd.service"
    for bad in ("-H", "--evil", "a b", "x;y", ""):
        with pytest.raises(UsageError):
            check_unit_name(bad)


def test_systemd_restart_argv_and_settle() -> None:
    class Script:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []
            self.shows = ["ActiveState=activating\nMainPID=0\n", "ActiveState=failed\nResult=exit-code\n"
                          "ExecMainStatus=1\nMainPID=0\n"]

        def __call__(self, argv, timeout=0, record=None, **kw):
            self.calls.append(list(argv))
            out = ""
            if argv[1] == "show" and "ExecStart" not in argv:
                out = self.shows.pop(0) if len(self.shows) > 1 else self.shows[0]
            return proc.Result(tuple(argv), 0, out, "", 0.0)

    import avcfix.system.systemd as sd

    script = Script()
    old = sd.proc.run
    sd.proc.run = script  # type: ignore[assignment]
    try:
        t = [0.0]
        svc = SystemdService("eucanetd", sleep=lambda s: t.__setitem__(0, t[0] + s), clock=lambda: t[0])
        run = svc.restart(settle=5)
    finally:
        sd.proc.run = old  # type: ignore[assignment]
    assert script.calls[0] == ["systemctl", "restart", "--", "eucanetd"]
    assert not run.healthy and run.state == "failed" and "status 1" in run.detail
    assert t[0] < 5  # stopped waiting as soon as the unit failed
