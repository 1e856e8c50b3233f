"""Where avcfix keeps its caches: one rule for every cache (the policy index, the
refpolicy interface database).

``$AVCFIX_CACHE_DIR`` when set (every cache in it, as the tests use it), else
``$XDG_CACHE_HOME/avcfix/NAME`` (``~/.cache`` when XDG_CACHE_HOME is unset or
not an absolute path, as the XDG base directory specification says).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    """The directory of the cache ``name`` (not created here)."""
    explicit = os.environ.get("AVCFIX_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "avcfix" / name
