"""The installed console script, for tests that run avcfix as a real process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def avcfix_exe() -> str:
    """``avcfix`` next to this interpreter (the venv's console script); skip when absent."""
    exe = Path(sys.executable).with_name("avcfix")
    if not exe.exists():
        pytest.skip("the avcfix console script is not installed in this environment")
    return str(exe)
