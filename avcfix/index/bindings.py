"""The distribution's SELinux bindings, imported where a policy is read.

setools (python3-setools) and libselinux's ``selinux`` (python3-selinux) are
not on PyPI under those names (PyPI's ``setools`` is another project), so an
avcfix installed with pip into a plain virtualenv may run without them. Only
reading a binary policy needs them; everything else (scan, group, the
report without a policy, build's .te) works without. Where they are needed
and missing, the user gets a :class:`~avcfix.errors.PolicyError` naming the
package to install, never an ImportError's traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from avcfix.errors import PolicyError

#: The module, the Debian/Fedora package that provides it.
_PACKAGES = {
    "setools": "python3-setools",
    "selinux": "python3-selinux (Fedora: python3-libselinux)",
    "selinux.audit2why": "python3-selinux (Fedora: python3-libselinux)",
}


def require(module: str, why: str) -> ModuleType:
    """``import module``; a PolicyError saying ``why`` it is needed and what to install when it fails."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PolicyError(
            f"{why} needs the {module} module of {_PACKAGES.get(module, module)}, which is not importable "
            f"here ({exc}); install it, and run avcfix with the system's python3 or a virtualenv made "
            "with --system-site-packages"
        ) from None
