"""``avcfix --version``: the version, the state of the C accelerators and the
versions of the SELinux libraries avcfix uses (read from their package
metadata: nothing of setools or libselinux is imported)."""

from __future__ import annotations

import os
import sys
from importlib import metadata


def _pure() -> bool:
    return os.environ.get("AVCFIX_PURE", "") not in ("", "0")


def cscan_state() -> str:
    """The C scanner (avcfix/audit/accel.py): loaded, or why not."""
    from avcfix.audit import accel

    if _pure():
        return "off (AVCFIX_PURE is set): the pure-Python scanner runs"
    try:
        from avcfix.audit import _cscan
    except ImportError as exc:
        return f"not built ({exc}): the pure-Python scanner runs"
    api = getattr(_cscan, "API", None)
    if api != accel.API:
        return f"stale build (API {api}, this code needs {accel.API}; reinstall): the pure-Python scanner runs"
    return f"loaded ({_cscan.__file__})"


def policydump_state() -> str:
    """The C policy reader (avcfix/index/build.py, policy_dumper): loaded, or why not."""
    from avcfix.index.build import DUMP_API

    choice = os.environ.get("AVCFIX_INDEX_READER", "").lower()
    if choice == "setools" or (choice != "sepol" and _pure()):
        return "off (AVCFIX_INDEX_READER=setools or AVCFIX_PURE): setools reads the policy"
    try:
        from avcfix.index import _policydump
    except ImportError as exc:
        return f"not built ({exc}): setools reads the policy"
    api = getattr(_policydump, "API", None)
    if api != DUMP_API:
        return f"stale build (API {api}, this code needs {DUMP_API}; reinstall): setools reads the policy"
    return f"loaded ({_policydump.__file__})"


def _dist_version(*names: str) -> str:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not found"


def version_text() -> str:
    from avcfix import __version__

    py = sys.version_info
    lines = [
        f"avcfix {__version__}",
        f"C scanner (avcfix.audit._cscan): {cscan_state()}",
        f"C policy reader (avcfix.index._policydump): {policydump_state()}",
        f"setools {_dist_version('setools')}",
        f"libselinux (python3-selinux) {_dist_version('selinux')}",
        f"python {py.major}.{py.minor}.{py.micro}",
    ]
    return "\n".join(lines) + "\n"
