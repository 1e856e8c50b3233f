"""exec_memory: execmem / execstack / execheap / execmod (setroubleshoot's
allow_execmem, allow_execstack, allow_execheap, allow_execmod).

How checked, on both policies (sesearch -A -s S -t T -c C -p P POLICY):
- ntpd_t ntpd_t:process execmem / execstack / execheap: no rule in either -> te_rule;
  ``seinfo POLICY -b``: Debian has allow_execmem, allow_execstack, allow_execheap; Fedora
  deny_execmem, selinuxuser_execstack, selinuxuser_execheap (user domains only);
- httpd_t httpd_t:process execmem: ``allow httpd_t httpd_t:process { execmem execstack };
  [ httpd_execmem ]:True`` in both -> boolean (the boolean advisor's, not duplicated);
- httpd_t lib_t:file execmod: nothing; ``seinfo -t textrel_shlib_t`` exists in both and
  ``allow domain textrel_shlib_t:file { execmod ... }`` -> the relabel is backed (>= 70).
"""

from __future__ import annotations

import pytest
from advisor_helpers import facts_for, module_confidence, one

from avcfix.explain.model import AdviceKind, Reason

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["debian", "fedora"])
def facts(request):
    root = request.getfixturevalue("host_root" if request.param == "debian" else "fedora_root")
    return facts_for(root)


def test_execmem_rule_stays_low(facts):
    f = one("execmem.log", facts)
    assert f.reason is Reason.TE_RULE
    assert [a.kind for a in f.advice] == [AdviceKind.MODULE]
    assert f.advice[0].advisor == "exec_memory" and f.advice[0].confidence < 50
    assert "JIT" in f.advice[0].why
    assert "no boolean grants it to ntpd_t" in f.advice[0].why


def test_execmem_boolean_is_not_duplicated(facts):
    f = one("execmem_boolean.log", facts)
    assert f.reason is Reason.BOOLEAN
    assert f.advice[0].command == "setsebool -P httpd_execmem on"
    assert not any(a.advisor == "exec_memory" for a in f.advice)


def test_execstack_program_fix(facts):
    f = one("execstack.log", facts)
    first = f.advice[0]
    assert first.kind is AdviceKind.PROGRAM and first.command == "execstack -c /usr/sbin/ntpd"
    assert 50 <= first.confidence < 70
    assert module_confidence(f) < 50


def test_execheap_almost_never(facts):
    f = one("execheap.log", facts)
    assert module_confidence(f) < 50
    assert "almost never" in f.advice[0].why


def test_execmod_textrel_label(facts):
    f = one("execmod.log", facts)
    first = f.advice[0]
    lib = "/usr/lib/x86_64-linux-gnu/liblegacy.so.1"
    assert first.kind is AdviceKind.FCONTEXT
    assert first.command == ("semanage fcontext -a -t textrel_shlib_t '/usr/lib/x86_64-linux-gnu/liblegacy\\.so\\.1'"
                             f" && restorecon -v {lib}")
    assert first.acts_on == lib and first.confidence >= 70
    assert module_confidence(f) < 50
