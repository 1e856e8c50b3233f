"""Files in places where they are created at run time (/tmp: ``tmp_t``) get no
file context advice: a label there does not last. The rule is the fix, with a
confidence that says it opens every file of the generic type.

Checked on Debian's reference policy (2026-12-06): ``matchpathcon -f
/etc/selinux/default/contexts/files/file_contexts /tmp/ntp.conf`` gives
``tmp_t`` (no specific entry); ``sesearch -A -s ntpd_t -t tmp_t -c file -p read``
prints nothing. The old custom_location advisor advised labelling the file
``locale_t`` (a type ntpd_t may read, chosen among many).
"""

from __future__ import annotations

import pytest
from advisor_helpers import explain_one

from avcfix.explain.model import AdviceKind

pytestmark = pytest.mark.slow


def test_a_tmp_file_gets_no_file_context_and_a_tempered_rule(host_root):
    from avcfix.facts import open_facts

    facts = open_facts(None, host_root.root)
    f = explain_one("transient_tmp_read.log", facts)
    assert [a.kind for a in f.advice] == [AdviceKind.MODULE]
    assert f.advice[0].command == "allow ntpd_t tmp_t:file read;"
    assert f.advice[0].confidence < 70 and "every file labelled" in f.advice[0].why
