"""``avcfix loop --apply-advice`` follows the advice: aimed at the denied object, and a fallback
when the same denial comes back after a fix (issue 13, "The loop follows").

The lab is a simulated kernel deciding with the real policy (Debian's
reference policy + avcfix/lab/policies/eucalyptus, fixture ``euca_root``). How the
expected answers were checked against that policy:

- ``sesearch -A -s httpd_t -t user_home_t -c file -p read policy.33`` gives only
  ``allow httpd_t user_home_t:file { getattr ioctl lock open read }; [ httpd_read_user_content ]:True``:
  the boolean is the one policy-backed fix for the denial, and the only alternative;
- ``matchpathcon -f .../file_contexts /var/www/html/style.css`` -> ``httpd_sys_content_t``
  (what ``restorecon`` sets), ``/etc/eucalyptus/eucanetd.conf`` -> ``etc_t``;
- ``sesearch -A -s eucalyptus_eucanetd_t -t tmp_t -c file`` is empty before the loop: the
  module rule is the only fix left once the relabel did not stick (checked after the loop
  with setools on the lab root's rebuilt policy).

Every test here fails on the code before the fallback: that loop stopped at the second
iteration with ``no_progress`` ("the same denials came back after the last fix").
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import signal
from pathlib import Path

import pytest
import setools
from cli_helpers import lab_settings, run_loop

from avcfix.audit.group import group_denials
from avcfix.explain.fixes import Fix, aimed_at_object, fix_for, fix_from_advice
from avcfix.explain.model import Advice, AdviceKind, Finding, Reason
from avcfix.explain.objects import DeniedObject, ObjectKind
from avcfix.lab.backends import Lab
from avcfix.lab.kernel import LabState
from avcfix.lab.scenario import LABS_DIR, Access, Check, FileLabel, Target, load_scenario
from avcfix.loop.backends import BuilderInstaller
from avcfix.loop.engine import EventKind, Loop
from avcfix.loop.journal import Journal
from avcfix.looptypes.model import LoopOptions, Outcome
from avcfix.system import auditlog
from avcfix.toolchain.store import PolicyRoot, copy_root

HTTPD = "httpd-fallback"
INDEX = "/var/www/html/index.html"
STYLE = "/var/www/html/style.css"


def _loop(lab: Lab, module: str, events: list | None = None, journal: Journal | None = None, **opts) -> Loop:
    options = LoopOptions(service=lab.scenario.service, module=module, **opts)
    return Loop(options, lab.service(), lab.trail(), lab.admin(), BuilderInstaller(module, lab.module_dir, lab.root),
                lab.explainer(), progress=(events.append if events is not None else (lambda e: None)),
                lab=True, journal=journal)


# ---------------------------------------------------------------- the shipped scenario


def test_httpd_fallback_without_apply_advice_needs_a_decision(euca_root: PolicyRoot, tmp_path: Path) -> None:
    lab = Lab(load_scenario(LABS_DIR / f"{HTTPD}.toml"), tmp_path, euca_root)
    report = _loop(lab, "apache2_local").run()
    assert report.outcome is Outcome.NEEDS_DECISION
    # the first advice: restore the file's label (file_contexts: httpd_sys_content_t), before the boolean
    assert report.decisions == (f"restorecon -v {STYLE}",)
    assert report.fallbacks == ()


def test_httpd_fallback_converges_through_the_next_advice(euca_root: PolicyRoot, tmp_path: Path) -> None:
    """style.css is restored for good; index.html is re-copied with user_home_t before every start,
    so its restorecon does not help: taken back, then the boolean (the next advice) converges."""
    lab = Lab(load_scenario(LABS_DIR / f"{HTTPD}.toml"), tmp_path, euca_root)
    events: list = []
    journal = Journal(tmp_path / "state" / "apache2.journal.json", {"service": "apache2"})
    report = _loop(lab, "apache2_local", events, journal, apply_advice=True).run()

    assert report.outcome is Outcome.CONVERGED, report.message  # the old loop: no_progress at iteration 2
    assert len(report.iterations) == 4
    assert [it.applied for it in report.iterations] == [
        (f"restorecon -v -- {STYLE} (in the lab)",),
        (f"restorecon -v -- {INDEX} (in the lab)",),
        ("setsebool -P httpd_read_user_content on (in the lab)",),
        (),
    ]
    # iterations 1-3: the same denial key, twice on index.html
    keys = [{(d.source, d.target, d.tclass, d.perms, d.path) for d in it.denials} for it in report.iterations[:3]]
    assert keys == [{("httpd_t", "user_home_t", "file", ("open", "read"), p)} for p in (STYLE, INDEX, INDEX)]
    assert report.iterations[3].denials == () and report.iterations[3].healthy

    # one fallback: in iteration 3, the restorecon of index.html did not help; next: the boolean
    [fb] = report.fallbacks
    assert report.iterations[2].fallbacks == (fb,)
    assert (fb.source, fb.target, fb.tclass, fb.perms, fb.path) == ("httpd_t", "user_home_t", "file",
                                                                   ("open", "read"), INDEX)
    assert fb.did_not_help == f"restorecon -v {INDEX}"
    assert (fb.next, fb.next_kind) == ("setsebool -P httpd_read_user_content on", "boolean")
    assert fb.undone == () and fb.kept == ""  # taken back, but the deploy hook had put the label back already
    doc = report.to_json()
    assert doc["fallbacks"] == [fb.to_json()] == doc["iterations"][2]["fallbacks"]
    assert doc["fallbacks"][0]["did_not_help"] == f"restorecon -v {INDEX}"
    assert [e.message for e in events if e.kind is EventKind.FALLBACK] == [fb.line()]

    # the lab machine: style.css restored (kept: it helped), index.html as the hook copies it, the boolean on
    st = lab.kernel.state
    assert st.files[STYLE].split(":")[2] == "httpd_sys_content_t"
    assert st.files[INDEX].split(":")[2] == "user_home_t"
    assert st.booleans == {"httpd_read_user_content": True}
    assert not (lab.module_dir / "apache2_local.te").exists()  # no module was needed

    # the write-ahead journal: every fix, the one that did not help marked undone, the next one
    # naming what it replaces
    fixes = [e for e in journal.entries if e["kind"] == "fix"]
    assert [(e["args"]["fix"]["command"], e["state"]) for e in fixes] == [
        (f"restorecon -v {STYLE}", "done"),
        (f"restorecon -v {INDEX}", "undone"),
        ("setsebool -P httpd_read_user_content on", "done"),
    ]
    assert fixes[1]["why"] == "did not help: the same denial came back"
    assert fixes[2]["args"]["fallback_after"] == [f"restorecon -v {INDEX}"]
    assert fixes[2]["args"]["for"] == [["httpd_t", "user_home_t", "file", ["open", "read"]]]


def _pristine() -> dict:
    sc = load_scenario(LABS_DIR / f"{HTTPD}.toml")
    st = LabState(ports={(p.proto, p.port): p.context for p in sc.ports}, files={f.path: f.context for f in sc.files})
    return {k: v for k, v in st.to_json().items() if k not in ("clock", "serial", "next_pid")}


def test_cli_json_and_text_report_the_fallback(lab_dir: Path) -> None:
    cp = run_loop("--lab", HTTPD, "--lab-dir", str(lab_dir), "--apply-advice", "--yes", "--json")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "converged" and len(doc["iterations"]) == 4
    [fb] = doc["fallbacks"]
    assert fb["did_not_help"] == f"restorecon -v {INDEX}" and fb["next_kind"] == "boolean"
    assert fb["denial"] == {"source": "httpd_t", "target": "user_home_t", "tclass": "file",
                            "perms": ["open", "read"], "path": INDEX}
    assert "fallback" in cp.stderr and "did not help" in cp.stderr


def test_a_loop_killed_while_taking_back_a_fix_is_recovered(lab_dir: Path) -> None:
    """SIGKILL right after the loop took back the restorecon that did not help (before the journal
    says so): --recover undoes everything the run applied, that restorecon included (idempotently)
    and the one that helped."""
    cp = run_loop("--lab", HTTPD, "--lab-dir", str(lab_dir), "--apply-advice", "--yes", "--json",
                  kill_at="undo:fix")
    assert cp.returncode == -signal.SIGKILL, cp.stderr
    dirty = lab_settings(lab_dir)
    assert dirty["files"][STYLE].split(":")[2] == "httpd_sys_content_t" and dirty["booleans"] == {}
    [journal] = sorted((lab_dir / "var/lib/avcfix/loop").glob("*.journal.json"))
    entries = json.loads(journal.read_text())["entries"]
    assert [(e["args"]["fix"]["command"], e["state"]) for e in entries] == [
        (f"restorecon -v {STYLE}", "done"), (f"restorecon -v {INDEX}", "done")]

    cp = run_loop("--recover", "--lab-dir", str(lab_dir), "--json")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert [line.split(" (left by")[0] for line in doc["recovered"]] == [
        f"{STYLE} relabelled back to unconfined_u:object_r:user_home_t:s0 (in the lab)"]
    assert lab_settings(lab_dir) == _pristine()


# ---------------------------------------------------------------- the module rule as the last fallback


def _granted(policy: Path, source: str, target: str, tclass: str, perms: set[str]) -> bool:
    p = setools.SELinuxPolicy(str(policy))
    q = setools.TERuleQuery(p, ruletype=[setools.TERuletype.allow], source=source, target=target,
                            tclass=[tclass], perms=perms, perms_subset=True)
    q.source_indirect = False
    q.target_indirect = False
    return any(True for _ in q.results())


@pytest.mark.slow
def test_a_relabel_that_does_not_stick_falls_back_to_the_module_rule(euca_root: PolicyRoot,
                                                                     tmp_path: Path) -> None:
    """eucanetd's config is generated in /tmp and moved into place before every start (tmp_t):
    restorecon (file_contexts: etc_t) does not stick; no other advice applies: the module rule."""
    conf = "/etc/eucalyptus/eucanetd.conf"
    base = load_scenario(LABS_DIR / "eucanetd.toml")
    tmp_t = "system_u:object_r:tmp_t:s0"
    scenario = dataclasses.replace(
        base, name="eucanetd-conf",
        files=base.files + (FileLabel(conf, tmp_t, None, "file", tmp_t),),
        accesses=(base.accesses[0],
                  Access("read its config", "openat", (Check("file", ("open", "read"), Target("path", path=conf),
                                                             "eucanetd.conf"),), (conf,), 4)))
    root = copy_root(euca_root, tmp_path / "root")
    assert not _granted(root.policy_file, "eucalyptus_eucanetd_t", "tmp_t", "file", {"open", "read"})
    lab = Lab(scenario, tmp_path, root)
    report = _loop(lab, "eucanetd_local", apply_advice=True).run()

    assert report.outcome is Outcome.CONVERGED, report.message  # the old loop: no_progress at iteration 2
    applied = [a for it in report.iterations for a in it.applied]
    # the restorecon first (file_contexts: etc_t), then whatever other relabel the advisors offer
    # (on main: a file context from custom_location, tmp_t being generic), each tried once
    assert applied[0] == f"restorecon -v -- {conf} (in the lab)"
    assert len(report.iterations) == len(applied) + 2  # one per fix, the module, the clean run
    fbs = report.fallbacks
    assert len(fbs) == len(applied)
    assert fbs[0].did_not_help == f"restorecon -v {conf}"
    for before, after in itertools.pairwise(fbs):
        assert after.did_not_help == before.next  # each fallback names the fix tried by the one before
    assert fbs[-1].next_kind == "module"
    assert fbs[-1].next == "allow eucalyptus_eucanetd_t tmp_t:file { open read };"
    assert report.rules_added == ("+ allow eucalyptus_eucanetd_t tmp_t:file { open read };",)
    assert _granted(root.policy_file, "eucalyptus_eucanetd_t", "tmp_t", "file", {"open", "read"})
    # every fix that did not help was taken back: no file-context rule of the loop is left
    assert lab.kernel.state.fcontexts == [] and lab.kernel.state.files[conf] == tmp_t


# ---------------------------------------------------------------- fixes: aimed at the object, fcontext_equal


def _finding(obj: DeniedObject | None, advice: tuple[Advice, ...] = (), booleans=(),
             reason: Reason = Reason.TE_RULE) -> Finding:
    """A finding over a real denial the lab kernel wrote (its group is only carried along)."""
    line = ('type=AVC msg=audit(1700002001.001:6102): avc:  denied  { read } for  pid=4101 comm="apache2" '
            'name="index.html" dev="vda1" ino=123456 scontext=system_u:system_r:httpd_t:s0 '
            'tcontext=unconfined_u:object_r:user_home_t:s0 tclass=file permissive=0\n')
    [group] = group_denials(auditlog.denials_in(line.encode(), "t"))
    return Finding(group, ("read",), reason, advice, booleans=booleans, object=obj)


SITE = DeniedObject(ObjectKind.PATH, "/srv/site/index.html", False, "file", None, "name= match")


def _advice(kind: AdviceKind, command: str, acts_on: str | None) -> Advice:
    return Advice(kind, command, 80, "test", acts_on=acts_on)


@pytest.mark.parametrize("obj, kind, command, acts_on, aimed", [
    (SITE, AdviceKind.RESTORECON, "restorecon -v /srv/site/index.html", "/srv/site/index.html", True),
    (SITE, AdviceKind.RESTORECON, "restorecon -Rv /srv/site", "/srv/site", True),
    # a tree holding the object, but not recursive: the file is not relabelled
    (SITE, AdviceKind.RESTORECON, "restorecon -v /srv/site", "/srv/site", False),
    # another object (the directory's sibling), or acts_on that lies about the command
    (SITE, AdviceKind.RESTORECON, "restorecon -v /srv/site/other.html", "/srv/site/other.html", False),
    (SITE, AdviceKind.RESTORECON, "restorecon -v /srv/site/other.html", "/srv/site/index.html", False),
    (SITE, AdviceKind.FCONTEXT, "semanage fcontext -a -t httpd_sys_content_t '/srv/site(/.*)?' && "
     "restorecon -Rv /srv/site", "/srv/site", True),
    # the rule's regex does not match the object
    (SITE, AdviceKind.FCONTEXT, "semanage fcontext -a -t httpd_sys_content_t '/srv/site/x\\.html' && "
     "restorecon -v /srv/site/index.html", "/srv/site/index.html", False),
    (SITE, AdviceKind.FCONTEXT_EQUAL, "semanage fcontext -a -e /var/www /srv/site && restorecon -Rv /srv/site",
     "/srv/site", True),
    (SITE, AdviceKind.FCONTEXT_EQUAL, "semanage fcontext -a -e /var/www /srv/other && restorecon -Rv /srv/other",
     "/srv/other", False),
    # the object is not known: never a relabel
    (DeniedObject(ObjectKind.UNKNOWN, None, False, "file", None, "no PATH"), AdviceKind.RESTORECON,
     "restorecon -v /srv/site/index.html", "/srv/site/index.html", False),
    (None, AdviceKind.RESTORECON, "restorecon -v /srv/site/index.html", "/srv/site/index.html", False),
    # a boolean or a port label changes policy, not a path
    (None, AdviceKind.PORT_LABEL, "semanage port -a -t http_port_t -p tcp 8080", None, True),
])
def test_a_relabel_is_applied_only_when_aimed_at_the_object(obj, kind, command, acts_on, aimed) -> None:
    a = _advice(kind, command, acts_on)
    f = _finding(obj, (a,))
    fx = fix_from_advice(f, a)
    assert fx is not None
    assert aimed_at_object(f, a, fx) is aimed
    assert (fix_for(f) is not None) is aimed


def test_fcontext_equal_is_validated_and_journaled() -> None:
    cmd = "semanage fcontext -a -e /var/www /srv/site && restorecon -Rv /srv/site"
    a = _advice(AdviceKind.FCONTEXT_EQUAL, cmd, "/srv/site")
    fx = fix_from_advice(_finding(SITE, (a,)), a)
    assert fx is not None and fx.equal == ("/var/www", "/srv/site")
    assert fx.argv == (("semanage", "fcontext", "-a", "-e", "/var/www", "/srv/site"),
                       ("restorecon", "-R", "-v", "--", "/srv/site"))
    assert Fix.from_json(json.loads(json.dumps(fx.to_json()))) == fx
    bad = {**fx.to_json(), "equal": ["/var/www", "srv/site"]}
    with pytest.raises(ValueError):
        Fix.from_json(bad)
    for text in (
        "semanage fcontext -a -e /var/www /srv/site",                                   # no restorecon
        "semanage fcontext -a -e /var/www /srv/site && restorecon -Rv /srv/elsewhere",  # another tree
        "semanage fcontext -a -e /var/www /srv && restorecon -Rv /srv",                 # a system tree
        "semanage fcontext -a -e /var/www /var/www/x && restorecon -Rv /var/www/x",     # its own subtree
        "semanage fcontext -a -e var/www /srv/site && restorecon -Rv /srv/site",        # relative
        "semanage fcontext -a -e /var/www /srv/../site && restorecon -Rv /srv/../site",
        "semanage fcontext -a -f a -e /var/www /srv/site && restorecon -Rv /srv/site",  # another option
        "semanage fcontext -a -e /var/www /srv/site; rm -rf / && restorecon -Rv /srv/site",
        "semanage fcontext -a -e /var/www /srv/site | sh && restorecon -Rv /srv/site",
    ):
        a = _advice(AdviceKind.FCONTEXT_EQUAL, text, "/srv/site")
        assert fix_from_advice(_finding(SITE, (a,)), a) is None, text


def test_each_boolean_alternative_is_its_own_fix() -> None:
    """audit2why's alternatives (a OR b): applying one advice sets that one only, so the
    fallback can try the other; a boolean audit2why did not name is not applied."""
    alts = (("httpd_enable_homedirs", True), ("httpd_read_user_content", True))
    first = _advice(AdviceKind.BOOLEAN, "setsebool -P httpd_read_user_content on", None)
    pair = _advice(AdviceKind.BOOLEAN, "setsebool -P httpd_enable_homedirs=on httpd_read_user_content=on", None)
    other = _advice(AdviceKind.BOOLEAN, "setsebool -P allow_ypbind on", None)
    f = _finding(None, (first, pair, other), booleans=alts, reason=Reason.BOOLEAN)
    assert fix_from_advice(f, first).booleans == (("httpd_read_user_content", True),)
    assert fix_from_advice(f, pair).booleans == alts
    assert fix_from_advice(f, other) is None
