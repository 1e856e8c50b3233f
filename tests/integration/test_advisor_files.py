"""The file-label advisors (restorecon, custom_location, home_content, mounton,
dontaudit_hidden) on Debian's reference policy (the host's, read only) and
Fedora's targeted policy (fixture ``fedora_root``).

Logs: tests/data/advisors/*.log, one event each (AVC, SYSCALL, CWD, PATH items
with nametype and the AVC's ino= on the right item, PROCTITLE). How each
expected answer was checked (D = /etc/selinux/default, F = the fedora_root):

- expected types: ``matchpathcon -f ROOT/contexts/files/file_contexts PATH``
  (file_contexts.homedirs is read too for /home paths, as selabel does):
  /var/www/html/index.html, /var/www/html -> httpd_sys_content_t (D, F);
  /srv/site/index.html -> var_t, /data/www -> default_t (D, F);
  /home/alice/.ssh(/authorized_keys) -> ssh_home_t (D, F);
  /home/alice/public_html(/index.html) -> httpd_user_content_t (D, F);
  /mnt/x (-d) -> mnt_t (D, F).
- the policy: ``sesearch -A -s httpd_t -t httpd_sys_content_t -c file -p read``
  (D via httpd_ro_content, F via httpd_content_type: allowed); ``-c dir -p
  add_name``: none on D, only under httpd_unified && ... on F;
  ``sesearch -A -s sshd_t -t ssh_home_t -c file -p read`` (D: ssh_server);
  ``sesearch -A -s httpd_t -t httpd_user_content_t -c file -p read`` (D:
  httpd_ro_content, unconditional; F: only under httpd_enable_homedirs);
  ``sesearch -A -s smbmount_t -t mnt_t -c dir -p mounton`` (D, F) and none on
  default_t; ``sesearch --dontaudit -s httpd_t -t user_tmp_t -c file`` (D:
  dontaudit daemon user_tmp_t); the standard trees with ``grep
  httpd_sys_content_t file_contexts`` (/var/www(/.*)?: 20 tree entries on D,
  18 on F, more than any other type httpd_t may only read).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain import advisors
from avcfix.explain.engine import explain_groups
from avcfix.explain.model import AdviceKind, Reason
from avcfix.explain.objects import DeniedObject, ObjectKind, resolve
from avcfix.facts import open_facts

DATA = Path(__file__).resolve().parents[1] / "data" / "advisors"
EXPLAIN = Path(__file__).resolve().parents[1] / "data" / "explain"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def debian(host_root):
    f = open_facts(None, host_root.root)
    assert f is not None
    return f


@pytest.fixture(scope="module")
def fedora(fedora_root):
    f = open_facts(None, fedora_root.root)
    assert f is not None
    return f


def one(path: Path, facts):
    findings = explain_groups(group_denials(scan([str(path)])), facts)
    assert len(findings) == 1, findings
    return findings[0]


def first(f):
    assert f.advice, f
    return f.advice[0]


@pytest.mark.parametrize("policy, log", [("debian", "restorecon_file_debian.log"),
                                         ("fedora", "restorecon_file_fedora.log")])
def test_restorecon_file_backed_by_policy(request, policy, log):
    f = one(DATA / log, request.getfixturevalue(policy))
    a = first(f)
    assert (a.kind, a.command, a.confidence, a.acts_on) == (
        AdviceKind.RESTORECON, "restorecon -v /var/www/html/index.html", 95, "/var/www/html/index.html")
    assert any("httpd_sys_content_t" in e for e in a.evidence)
    assert any(e.startswith("policy: allow httpd_t httpd_sys_content_t:file") for e in a.evidence)


@pytest.mark.parametrize("policy, log", [("debian", "restorecon_shared_dir_debian.log"),
                                         ("fedora", "restorecon_shared_dir_fedora.log")])
def test_restorecon_shared_directory_restored_once(request, policy, log):
    f = one(DATA / log, request.getfixturevalue(policy))
    a = first(f)
    assert (a.kind, a.command, a.confidence) == (AdviceKind.RESTORECON, "restorecon -Rv /var/www/html", 95)
    assert "restored once" in a.why


def _dir_situation(facts, log):
    """The add_name finding's situation, with the object the kernel's items name
    (PATH item 0, PARENT, inode=393740 = the AVC's ino=): the directory."""
    group = group_denials(scan([str(DATA / log)]))[0]
    obj = resolve(group.example)
    if obj.kind is not ObjectKind.PATH:  # the audit layer without PATH items (before h13-items)
        obj = DeniedObject(ObjectKind.PATH, "/var/www/html/uploads", True, "dir", "/var/www/html/uploads/new.txt",
                           "the AVC's ino=393740 is PATH item 0 (PARENT): /var/www/html/uploads")
    assert obj.path == "/var/www/html/uploads"
    analysis = facts.analyze([advisors_key(group)])
    verdict = dict(next(iter(analysis.values())).verdicts)["add_name"]
    return advisors.Situation(group, ("add_name",), verdict.reason, verdict, obj, facts)


def advisors_key(group):
    from avcfix.explain.engine import access_key
    return access_key(group)


@pytest.mark.parametrize("policy, log", [("debian", "dir_add_name_debian.log"),
                                         ("fedora", "dir_add_name_fedora.log")])
def test_directory_permission_is_answered_on_the_directory(request, policy, log):
    facts = request.getfixturevalue(policy)
    got = advisors.run(_dir_situation(facts, log))
    relabels = [a for a in got if a.acts_on is not None]
    # the directory alone was checked (add_name): restored alone (-R only for a tree read as a tree)
    assert relabels and relabels[0].command == "restorecon -v /var/www/html/uploads"
    assert all(a.acts_on == "/var/www/html/uploads" for a in relabels)
    if policy == "debian":
        # matchpathcon: httpd_sys_content_t; sesearch -s httpd_t -t httpd_sys_content_t -c dir
        # -p add_name: no rule. restorecon alone does not fix it, and says so
        assert relabels[0].confidence < 70 and "does not fix this" in relabels[0].why
    else:
        # matchpathcon: httpd_sys_rw_content_t (/var/www/html(/.*)?/uploads(/.*)?); sesearch:
        # allow httpd_t httpd_sys_rw_content_t:dir add_name (httpd_builtin_scripting, on)
        assert relabels[0].confidence == 95 and "httpd_sys_rw_content_t" in relabels[0].why
    # whatever the audit layer resolves, no advice relabels the file being created
    f = one(DATA / log, facts)
    assert not any(a.acts_on and a.acts_on.endswith("new.txt") for a in f.advice)
    assert not any("new.txt" in a.command for a in f.advice)


@pytest.mark.parametrize("policy", ["debian", "fedora"])
def test_custom_location_takes_the_standard_locations_type(request, policy):
    f = one(DATA / "custom_file.log", request.getfixturevalue(policy))
    got = [(a.kind, a.command, a.confidence) for a in f.advice[:2]]
    # below 70: file_contexts has no tree named "site"; the type is the least privileged
    # one with standard trees (a sound pick, but a judgement)
    assert got == [
        (AdviceKind.FCONTEXT, "semanage fcontext -a -t httpd_sys_content_t '/srv/site(/.*)?' && "
         "restorecon -Rv /srv/site", 60),
        (AdviceKind.FCONTEXT_EQUAL, "semanage fcontext -a -e /var/www /srv/site && restorecon -Rv /srv/site", 55),
    ]
    assert not any("httpd_cache_t" in a.command for a in f.advice)
    assert all(a.acts_on == "/srv/site" for a in f.advice[:2])


@pytest.mark.parametrize("policy", ["debian", "fedora"])
def test_custom_directory_directly_under_root(request, policy):
    f = one(DATA / "custom_dir.log", request.getfixturevalue(policy))
    a = first(f)
    assert a.command == "semanage fcontext -a -t httpd_sys_content_t '/data(/.*)?' && restorecon -Rv /data"
    assert f.advice[1].command == "semanage fcontext -a -e /var/www /data && restorecon -Rv /data"


def test_home_ssh_restores_the_ssh_directory(debian):
    f = one(DATA / "home_ssh.log", debian)
    a = first(f)
    assert (a.kind, a.command, a.confidence, a.advisor) == (
        AdviceKind.RESTORECON, "restorecon -Rv /home/alice/.ssh", 95, "home_content")
    assert sum(a.kind is AdviceKind.RESTORECON for a in f.advice) == 1  # restorecon does not repeat it


def test_home_public_html_debian_needs_no_boolean(debian):
    f = one(DATA / "home_public_html.log", debian)
    a = first(f)
    assert (a.command, a.confidence) == ("restorecon -Rv /home/alice/public_html", 95)


def test_home_public_html_fedora_needs_httpd_enable_homedirs(fedora):
    f = one(DATA / "home_public_html.log", fedora)
    a = first(f)
    assert a.command == "restorecon -Rv /home/alice/public_html && setsebool -P httpd_enable_homedirs on"
    assert a.confidence == 88 and "httpd_enable_homedirs" in a.why
    # above the broad boolean audit2why names for the wrong label
    assert [x.command for x in f.advice].index("setsebool -P httpd_read_user_content on") > 0


@pytest.mark.parametrize("policy", ["debian", "fedora"])
def test_mounton_labels_the_mount_point_mnt_t(request, policy):
    f = one(DATA / "mounton_smbmount.log", request.getfixturevalue(policy))
    a = first(f)
    assert (a.kind, a.command, a.confidence, a.advisor) == (
        AdviceKind.FCONTEXT, "semanage fcontext -a -t mnt_t /data/share && restorecon -v /data/share", 80, "mounton")
    assert not any("(/.*)?" in x.command for x in f.advice)  # the mount point alone, never its tree


def test_dontaudit_hidden_mislabeled_file_gets_restorecon(debian):
    f = one(DATA / "dontaudit_mislabeled.log", debian)
    assert f.reason is Reason.DONTAUDIT
    a = first(f)
    assert (a.command, a.confidence) == ("restorecon -v /var/www/html/report.html", 95)
    assert not any(x.kind is AdviceKind.DONTAUDIT for x in f.advice)


def test_dontaudit_hidden_note_when_nothing_is_mislabeled(debian):
    f = one(EXPLAIN / "dontaudit.log", debian)
    assert f.reason is Reason.DONTAUDIT
    assert [(a.kind, a.command) for a in f.advice] == [(AdviceKind.DONTAUDIT, "semodule -B")]
    assert f.advice[0].confidence < 50 and "semodule -DB" in f.advice[0].why


def test_fcontext_equal_command_is_shell_safe():
    from avcfix.explain import commands
    assert commands.semanage_fcontext_equal("/var/www", "/srv/my site") == (
        "semanage fcontext -a -e /var/www '/srv/my site' && restorecon -Rv '/srv/my site'")
    assert commands.semanage_fcontext_equal("/var/www", "/srv") is None       # a system tree
    assert commands.semanage_fcontext_equal("/var/www", "/var/www/x") is None  # inside itself
    assert commands.semanage_fcontext_equal("/var/www", "/srv/a;rm -rf /\n") is None


def test_no_confident_label_from_a_large_attributes_rule(debian, tmp_path):
    # mysqld_t may search httpd_sys_content_t directories only as a member of the daemon
    # attribute (sesearch -A -s mysqld_t -t httpd_sys_content_t -c dir: "allow daemon
    # httpd_sys_content_t:dir { getattr open search };"): labelling a data directory so
    # is a guess, never 70 or more
    log = (DATA / "custom_dir.log").read_text().replace("httpd_t", "mysqld_t").replace('"httpd"', '"mysqld"')
    (tmp_path / "my.log").write_text(log)
    f = one(tmp_path / "my.log", debian)
    assert all(a.confidence < 70 for a in f.advice if a.advisor == "custom_location")
