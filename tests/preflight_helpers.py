"""The preflight request and its checks, for the preflight tests of both tiers
(tests/unit/test_preflight.py, tests/integration/test_preflight_tools.py)."""

from __future__ import annotations

from pathlib import Path

from avcfix.looptypes.preflight import PreflightRequest
from avcfix.toolchain.store import PolicyRoot

LOG = Path("/var/log/audit/audit.log")
CHECKS = ["selinux", "systemd", "unit", "audit", "auditd", "audit_log", "rights", "policy_store", "out_dir"]


def _request(**kw) -> PreflightRequest:
    base = dict(service="eucanetd", root=PolicyRoot(Path("/")), log=LOG, out_dir=Path("."))
    return PreflightRequest(**{**base, **kw})
