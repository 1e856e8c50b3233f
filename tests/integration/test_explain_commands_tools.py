"""Fix commands are shell-safe: a real shell sees each hostile path as one word
(the pure tests: tests/unit/test_explain_commands.py)."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from hostile_paths import HOSTILE

from avcfix.explain import commands


@pytest.mark.parametrize("path", HOSTILE)
def test_paths_are_one_shell_word(path):
    cmd = commands.restorecon(path)
    if "\t" in path:
        assert cmd is None  # control characters never reach a command
        return
    assert shlex.split(cmd) == ["restorecon", "-v", path]
    # and a real shell sees the same single argument
    out = subprocess.run(["sh", "-c", cmd.replace("restorecon -v", "printf %s", 1)],
                         capture_output=True, text=True, check=True).stdout
    assert out == path
