"""Directories that cannot be written, for real (no mocks): for the loop's fault tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """Make ``directory`` refuse new, removed and renamed entries, for real."""
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(mode & 0o7777)
        return
    cp = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, text=True, check=False)
    if cp.returncode != 0:
        pytest.skip(f"chattr +i does not work here: {cp.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


@contextlib.contextmanager
def read_only_mount(directory: Path) -> Iterator[None]:
    """A read-only bind mount of ``directory`` onto itself (EROFS; root only)."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    cp = subprocess.run(["mount", "--bind", str(directory), str(directory)], capture_output=True, text=True,
                        check=False)
    if cp.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {cp.stderr.strip()}")
    try:
        cp = subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], capture_output=True,
                            text=True, check=False)
        if cp.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {cp.stderr.strip()}")
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=True)
