"""transition_noise: noatsecure / rlimitinh / siginh at a domain transition get a
dontaudit, never an allow rule at 50 or more (setroubleshoot's ``noatsecure``).

How checked:
- ``sesearch -A -s avcfix_launcher_t -c process`` on the special store (Debian +
  tests/data/advisors/avcfix_special.te) shows only ``allow avcfix_launcher_t
  avcfix_worker_t:process transition;`` and ``sesearch --dontaudit -s avcfix_launcher_t``
  nothing -> te_rule, and the transition is in the policy (confidence 85);
- ``sesearch --dontaudit -s postfix_master_t -t postfix_pickup_t -c process``: Debian
  ``dontaudit postfix_master_t postfix_pickup_t:process { noatsecure rlimitinh siginh }``,
  Fedora ``dontaudit domain domain:process { noatsecure rlimitinh siginh }`` -> reason dontaudit;
- Debian: ``allow httpd_t httpd_sys_script_t:process transition; [ httpd_enable_cgi ]:True``
  and ``seinfo -b httpd_enable_cgi -x``: false in the policy file -> te_rule.
"""

from __future__ import annotations

import pytest
from advisor_helpers import facts_for, module_confidence, one

from avcfix.explain.model import AdviceKind, Reason

pytestmark = pytest.mark.slow


def test_custom_transition_gets_dontaudit(special_root):
    f = one("noise_custom.log", facts_for(special_root))
    assert f.reason is Reason.TE_RULE
    first = f.advice[0]
    assert first.kind is AdviceKind.DONTAUDIT and first.advisor == "transition_noise"
    assert first.command == "dontaudit avcfix_launcher_t avcfix_worker_t:process { noatsecure rlimitinh };"
    assert first.confidence >= 70 and first.why
    assert any("process transition" in e for e in first.evidence)
    assert module_confidence(f) < 50


@pytest.mark.parametrize("root", ["host_root", "fedora_root"])
def test_dontaudited_noise_gets_no_rule(request, root):
    f = one("noise_postfix.log", facts_for(request.getfixturevalue(root)))
    assert f.reason is Reason.DONTAUDIT
    assert not any(a.kind is AdviceKind.MODULE and a.confidence >= 50 for a in f.advice)


def test_conditional_transition_debian(host_root):
    f = one("noise_httpd_cgi.log", facts_for(host_root))
    assert f.reason is Reason.TE_RULE
    assert f.advice[0].command == "dontaudit httpd_t httpd_sys_script_t:process { noatsecure rlimitinh siginh };"
    assert module_confidence(f) < 50


def test_fedora_dontaudits_every_domain(fedora_root):
    f = one("noise_httpd_cgi.log", facts_for(fedora_root))
    assert f.reason is Reason.DONTAUDIT
    assert module_confidence(f) is None


def test_no_policy():
    f = one("noise_custom.log", None)
    assert f.reason is Reason.NO_POLICY
    assert f.advice[0].kind is AdviceKind.DONTAUDIT and f.advice[0].confidence < 70
    assert module_confidence(f) < 50
