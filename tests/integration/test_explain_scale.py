"""A 1,000,000-line log costs no more policy lookups than its distinct groups.

Asserted through PolicyFacts' lookup counter, never a timer. The log is
generated in a temporary directory: 100,000 AVC denials over a handful of
distinct accesses (several domains, an unknown type, a permissive one),
interleaved with 900,000 unrelated records, as in a real audit.log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avcfix.audit.api import scan
from avcfix.audit.group import group_denials
from avcfix.explain.engine import access_key, explain_groups
from avcfix.explain.model import Reason
from avcfix.facts import open_facts

LINES = 1_000_000
EVERY = 10  # one AVC every EVERY lines

ACCESSES = [
    ("eucalyptus_eucanetd_t", "eucalyptus_var_lib_t", "file", "read", 0),
    ("eucalyptus_eucanetd_t", "eucalyptus_var_lib_t", "dir", "search", 0),
    ("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "dir", "write", 0),
    ("eucalyptus_eucanetd_t", "unreserved_port_t", "udp_socket", "name_bind", 0),
    ("eucalyptus_cloud_t", "eucalyptus_cloud_t", "capability", "dac_override", 0),
    ("eucalyptus_cloud_t", "eucalyptus_missing_t", "file", "read", 0),
    ("httpd_t", "user_home_t", "file", "read", 0),
    ("httpd_t", "user_home_t", "file", "read", 1),
]

AVC = ('type=AVC msg=audit({ts}.{ms:03d}:{serial}): avc:  denied  {{ {perm} }} for  pid={pid} comm="d{pid}" '
       'name="f{serial}" dev="vda1" ino={serial} scontext=system_u:system_r:{s}:s0 '
       'tcontext=system_u:object_r:{t}:s0 tclass={c} permissive={p}\n')
NOISE = ('type=USER_ACCT msg=audit({ts}.{ms:03d}:{serial}): pid=1822 uid=0 auid=1000 ses=3 '
         'subj=system_u:system_r:local_login_t:s0-s0:c0.c1023 msg=\'op=PAM:accounting grantors=pam_permit '
         'acct="admin" exe="/usr/bin/sudo" hostname=? addr=? terminal=/dev/pts/0 res=success\'\n')


def _write_log(path: Path) -> int:
    denials = 0
    with path.open("w") as f:
        for i in range(LINES):
            ts, ms = 1700000000 + i // 1000, i % 1000
            if i % EVERY == 0:
                s, t, c, perm, p = ACCESSES[(i // EVERY) % len(ACCESSES)]
                f.write(AVC.format(ts=ts, ms=ms, serial=i + 1, perm=perm, pid=1000 + i % 13,
                                   s=s, t=t, c=c, p=p))
                denials += 1
            else:
                f.write(NOISE.format(ts=ts, ms=ms, serial=i + 1))
    return denials


@pytest.mark.slow
def test_million_line_log_costs_one_lookup_per_group(tmp_path, euca_root):
    log = tmp_path / "million.log"
    denials = _write_log(log)
    assert sum(1 for _ in log.open()) == LINES
    groups = group_denials(scan([str(log)]))
    assert sum(g.count for g in groups) == denials == LINES // EVERY
    assert len(groups) == len(ACCESSES)

    facts = open_facts(None, euca_root.root)
    assert facts is not None
    findings = explain_groups(groups, facts)
    # one lookup per distinct (scontext, tcontext, class, perms): the enforcing
    # and the permissive httpd groups ask the same question, so they share one
    distinct = {access_key(g) for g in groups}
    assert len(distinct) == len(groups) - 1
    assert facts.lookups == len(distinct)
    reasons = {(f.group.source, f.group.target, f.group.permissive): f.reason for f in findings}
    assert reasons[("eucalyptus_cloud_t", "eucalyptus_missing_t", False)] is Reason.UNKNOWN_TYPE
    assert reasons[("httpd_t", "user_home_t", True)] is Reason.PERMISSIVE
    # explaining again costs nothing more
    explain_groups(groups, facts)
    assert facts.lookups == len(distinct)
