"""One AVC record per serial, for the audit log reader tests of both tiers
(tests/unit/test_system_auditlog.py, tests/integration/test_system_auditlog_tools.py)."""

from __future__ import annotations

AVC = ('type=AVC msg=audit(1700000001.{ms:03d}:{serial}): avc:  denied  {{ read }} for  pid=2 comm="d" '
       'name="f" scontext=system_u:system_r:eucalyptus_eucanetd_t:s0 '
       'tcontext=system_u:object_r:{t}:s0 tclass=file permissive=0\n')


def avc(serial: int, t: str = "etc_t") -> str:
    return AVC.format(ms=serial % 1000, serial=serial, t=t)
