"""The write_content advisor on both real policies: a web server that may read
its content was denied writing it; the fix is the rw type of the same family
for that path, not a rule letting it write all content.

How the expected answers were checked (2026-12-06):
- Debian (refpolicy, /etc/selinux/default/policy/policy.33):
  ``sesearch -A -s httpd_t -t httpd_sys_content_t -c file`` lists only
  ``{ getattr ioctl lock map open read }`` unconditionally;
  ``sesearch -A -s httpd_t -c file -p write`` lists ``httpd_rw_content`` (which
  holds httpd_sys_rw_content_t) only under ``[ httpd_builtin_scripting ]:True``,
  and ``seinfo -b httpd_builtin_scripting -x`` says ``false``;
  ``seinfo -a httpdcontent -x`` holds both httpd_sys_content_t and
  httpd_sys_rw_content_t; file_contexts gives httpd_sys_rw_content_t 12
  times under /var/www (``grep -c``), httpd_cache_t twice (/var/www/uploads,
  /var/www/sessions).
- Fedora targeted (../shared/fedora-policy): ``sesearch -A -s httpd_t -t
  httpd_sys_rw_content_t -c file -p write`` under ``httpd_builtin_scripting``,
  which ``seinfo -b`` says is ``true``: no boolean is needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from advisor_helpers import explain_one, policy_facts

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import explain_groups
from avcfix.explain.labelfiles import fc_literal_dir
from avcfix.explain.model import AdviceKind

DATA = Path(__file__).resolve().parents[1] / "data" / "advisors"

pytestmark = pytest.mark.slow


@pytest.fixture
def debian(request):
    return policy_facts(request, "debian")


@pytest.fixture
def fedora(request):
    return policy_facts(request, "fedora")


_finding = explain_one


def test_debian_write_to_content_labels_the_path_rw_with_the_boolean(debian):
    f = _finding("write_content_file.log", debian)
    first = f.advice[0]
    assert first.kind is AdviceKind.FCONTEXT and first.advisor == "write_content"
    assert first.command == ("semanage fcontext -a -t httpd_sys_rw_content_t '/var/www/html/data/counter\\.txt' "
                             "&& restorecon -v /var/www/html/data/counter.txt "
                             "&& setsebool -P httpd_builtin_scripting on")
    assert first.acts_on == "/var/www/html/data/counter.txt"
    assert first.confidence < 70  # a judgement: should the server write here at all?
    assert "httpdcontent" in " ".join(first.evidence)
    # never the cache type chosen by a name prefix, and the allow rule is last and low
    assert not any("httpd_cache_t" in a.command for a in f.advice)
    assert f.advice[-1].kind is AdviceKind.MODULE and f.advice[-1].confidence < 50


def test_fedora_write_to_content_needs_no_boolean(fedora):
    f = _finding("write_content_file.log", fedora)
    ours = [a for a in f.advice if a.advisor == "write_content"]
    assert [a.command for a in ours] == [
        "semanage fcontext -a -t httpd_sys_rw_content_t '/var/www/html/data/counter\\.txt' "
        "&& restorecon -v /var/www/html/data/counter.txt"]


def test_no_advice_for_a_type_the_domain_does_not_read(debian, tmp_path):
    # sshd_t reading nothing of httpd content: not its family, the advisor stays quiet
    log = (DATA / "write_content_file.log").read_text().replace("httpd_t", "sshd_t")
    (tmp_path / "x.log").write_text(log)
    f = explain_groups(group_denials(scan([str(tmp_path / "x.log")])), debian)[0]
    assert not any(a.advisor == "write_content" for a in f.advice)


@pytest.mark.parametrize(("regex", "literal"), [
    ("/var/www(/.*)?", "/var/www"),
    ("/var/www/html/[^/]*/cgi-bin(/.*)?", "/var/www/html"),
    ("/srv/.*", "/srv"),
    ("/srv/([^/]*/)?www(/.*)?", "/srv"),
    ("/etc/foo\\.conf", "/etc/foo.conf"),
    ("/", "/"),
])
def test_fc_literal_dir(regex, literal):
    assert fc_literal_dir(regex) == literal
