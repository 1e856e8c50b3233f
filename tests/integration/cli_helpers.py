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


PROJECT = Path(__file__).resolve().parents[2]


def run_loop(*args: str, kill_at: str | None = None):
    """``avcfix loop ARGS`` as a real process from the project directory, with the
    crash hook ``AVCFIX_TEST_KILL_AT`` set to ``kill_at`` (and only then)."""
    import os
    import subprocess

    env = dict(os.environ)
    env.pop("AVCFIX_TEST_KILL_AT", None)
    if kill_at:
        env["AVCFIX_TEST_KILL_AT"] = kill_at
    return subprocess.run([avcfix_exe(), "loop", *args], capture_output=True, text=True, cwd=PROJECT,
                          timeout=600, check=False, env=env)


def lab_settings(lab: Path) -> dict:
    """The lab machine's policy settings on disk (not the kernel's clock, serial and pid counters)."""
    import json

    doc = json.loads((lab / "lab-state.json").read_text())["state"]
    return {k: v for k, v in doc.items() if k not in ("clock", "serial", "next_pid")}
