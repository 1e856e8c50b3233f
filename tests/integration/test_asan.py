"""``make test-asan`` really tests the sanitized C accelerator.

``make test-asan`` builds ``avcfix/audit/_cscan.c`` with AddressSanitizer and
UBSan into a copy of the package (``build/asan``, first on the import path),
preloads libasan and runs these tests, tests/test_accel.py,
tests/test_fuzz_cli.py and tests/test_index_dump.py (the policy index's C
reader ``avcfix/index/_policydump.c``, sanitized too when libsepol.a is there). Without the checks here a wrong path would silently
test the normal build: they fail unless the loaded ``_cscan`` is the sanitized
one and the ASan runtime is live in this process and in the subprocesses the
tests start. Skipped outside ``make test-asan`` (no ``AVCFIX_ASAN_BUILD``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ASAN_BUILD = os.environ.get("AVCFIX_ASAN_BUILD")

pytestmark = pytest.mark.skipif(not ASAN_BUILD, reason="only under make test-asan (AVCFIX_ASAN_BUILD)")

#: Prints where avcfix and its accelerator come from, and whether libasan is mapped.
PROBE = """
import avcfix
from avcfix.audit.accel import cscan
maps = open("/proc/self/maps").read()
print(avcfix.__file__)
print(cscan.__file__ if cscan is not None else "none")
print("libasan" in maps, "libubsan" in maps)
"""


def test_the_sanitized_accelerator_is_loaded():
    import avcfix
    from avcfix.audit.accel import cscan

    build = Path(ASAN_BUILD).resolve()
    assert cscan is not None, "the accelerator did not load (AVCFIX_PURE set, or an API mismatch)"
    so = Path(cscan.__file__).resolve()
    assert so.is_relative_to(build), f"{so} is not the sanitized build under {build}"
    assert Path(avcfix.__file__).resolve().is_relative_to(build)
    data = so.read_bytes()
    assert b"__asan_report_load" in data, "the .so is not instrumented by AddressSanitizer"
    assert b"__ubsan_handle_" in data, "the .so is not instrumented by UBSan"
    maps = Path("/proc/self/maps").read_text()
    assert "libasan" in maps and "libubsan" in maps


def test_subprocesses_load_it_too():
    """test_accel.py and test_fuzz_cli.py also run avcfix in subprocesses."""
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    avcfix_file, cscan_file, mapped = r.stdout.splitlines()
    build = Path(ASAN_BUILD).resolve()
    assert Path(avcfix_file).resolve().is_relative_to(build)
    assert Path(cscan_file).resolve().is_relative_to(build)
    assert mapped == "True True"


def test_asan_is_live():
    """A heap overflow in a child process is caught and reported (the runtime
    intercepts memory accesses; a preload that silently failed would not)."""
    code = ("import ctypes; libc = ctypes.CDLL(None); libc.malloc.restype = ctypes.c_void_p; "
            "p = libc.malloc(16); buf = ctypes.create_string_buffer(64); ctypes.memmove(buf, p, 64)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode != 0
    assert "heap-buffer-overflow" in r.stderr, r.stderr[-2000:]


def test_the_sanitized_policy_reader_is_loaded():
    """The policy index's C reader, when make test-asan built it (libsepol.a present)."""
    import shutil

    from avcfix.index.build import policy_dumper

    dumper = policy_dumper()
    if dumper is None:
        assert not shutil.which("gcc") or not Path("/usr/include/sepol").is_dir(), \
            "libsepol-dev is installed but the sanitized _policydump did not load"
        pytest.skip("no libsepol.a: the C reader is not built")
    so = Path(dumper.__file__).resolve()
    assert so.is_relative_to(Path(ASAN_BUILD).resolve()), f"{so} is not the sanitized build"
    data = so.read_bytes()
    assert b"__asan_report_load" in data and b"__ubsan_handle_" in data
