"""module_load: module_request / sys_module (setroubleshoot's ``kernel_modules``).

How checked:
- ``seinfo POLICY -b domain_kernel_load_modules``: Fedora has it (true in the policy
  file); Debian has no such boolean;
- ``sesearch -A -s httpd_t -t kernel_t -c system -p module_request``: Debian nothing ->
  te_rule; Fedora ``allow domain kernel_t:system module_request; [ domain_kernel_load_modules ]:True``
  and the boolean is on -> allowed_now;
- ``sesearch -A -s ntpd_t -t ntpd_t -c capability -p sys_module``: nothing on Debian (te_rule);
  Fedora ``dontaudit ntpd_t ntpd_t:capability { ... sys_module ... }`` -> dontaudit.
"""

from __future__ import annotations

import pytest
from advisor_helpers import facts_for, module_confidence, one

from avcfix.explain.model import AdviceKind, Reason

pytestmark = pytest.mark.slow


def test_module_request_debian(host_root):
    facts = facts_for(host_root)
    assert facts.boolean_state("domain_kernel_load_modules") is None
    f = one("module_request.log", facts)
    assert f.reason is Reason.TE_RULE
    # net-pf-10 is IPv6, usually disabled on purpose: silence the request first (refpolicy's
    # kernel_dontaudit_request_load_module), loading it at boot second
    first = f.advice[0]
    assert first.kind is AdviceKind.DONTAUDIT
    assert first.command == "dontaudit httpd_t kernel_t:system module_request;"
    assert f.advice[1].kind is AdviceKind.PROGRAM
    assert f.advice[1].command == "echo net-pf-10 > /etc/modules-load.d/net-pf-10.conf"
    assert module_confidence(f) < 50
    rule = next(a for a in f.advice if a.kind is AdviceKind.MODULE)
    assert "no domain_kernel_load_modules boolean" in rule.why


def test_module_request_fedora_boolean_on(fedora_root):
    facts = facts_for(fedora_root)
    assert facts.boolean_state("domain_kernel_load_modules") is True
    f = one("module_request.log", facts)
    # allowed by the policy file only because the boolean is on by default: the denial
    # shows it was off where it was logged (advisor allowed_now)
    assert f.reason is Reason.ALLOWED_NOW
    assert [a.command for a in f.advice] == ["setsebool -P domain_kernel_load_modules on"]


def test_sys_module(host_root, fedora_root):
    f = one("sys_module.log", facts_for(host_root))
    assert f.reason is Reason.TE_RULE
    assert f.advice[0].kind is AdviceKind.PROGRAM and "modules-load.d" in f.advice[0].command
    assert module_confidence(f) < 50
    f = one("sys_module.log", facts_for(fedora_root))
    assert f.reason is Reason.DONTAUDIT
    assert module_confidence(f) is None
