"""Shared fixtures: the corpus, the reference policy and private policy stores.

Tests never touch the machine's own /etc/selinux or /var/lib/selinux: every
install goes into a copy under a temporary root (``semodule -p ROOT``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from avcfix.toolchain.store import PolicyRoot, copy_root, host_policy_name

PROJECT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT / "fixtures"
POLICIES = PROJECT / "policies"  # test-only fixture modules (avcfix_explain)
#: The lab's fixture modules (eucalyptus): package data, as the lab itself reads them.
LAB_POLICIES = PROJECT / "avcfix" / "lab" / "policies"
CORPUS = PROJECT.parent / "shared" / "corpus"
FEDORA_POLICY = PROJECT.parent / "shared" / "fedora-policy"
DEVEL_MAKEFILE = Path("/usr/share/selinux/devel/Makefile")

#: The policy index cache of this test session (never the user's ~/.cache):
#: every avcfix run in the tests, in process or as a child, uses it.
_INDEX_CACHE = Path(tempfile.mkdtemp(prefix="avcfix-test-index-"))
os.environ["AVCFIX_CACHE_DIR"] = str(_INDEX_CACHE)


#: Property tests assert behaviour, never speed: no per-example deadline (a
#: loaded 2-core CI machine made a 200 ms deadline fail at random).
settings.register_profile("avcfix", deadline=None)
settings.load_profile("avcfix")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_INDEX_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``../shared/corpus``; the test is skipped when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def fedora_root() -> PolicyRoot:
    """Fedora's targeted policy, built from ``../shared/fedora-policy`` (about
    3 minutes once, then cached in ``~/.cache/fedora-policy``); read only.
    Skipped when the sources are absent."""
    script = FEDORA_POLICY / "build.sh"
    if not script.is_file():
        pytest.skip(f"no {script}")
    cp = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False, timeout=1800)
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    root = Path(os.environ.get("FEDPOL_ROOT") or Path.home() / ".cache" / "fedora-policy" / "root")
    return PolicyRoot(root, "targeted")


@pytest.fixture(scope="session")
def host_root() -> PolicyRoot:
    """The machine's own policy root: read only, never written by tests."""
    root = PolicyRoot(Path("/"), host_policy_name())
    if not root.store_dir.is_dir():
        pytest.skip(f"no SELinux policy store at {root.store_dir}")
    return root


@pytest.fixture(scope="session")
def ref_policy(host_root: PolicyRoot) -> Path:
    """The installed reference policy binary (for example policy.33)."""
    return host_root.policy_file


@pytest.fixture(scope="session")
def pristine_root(host_root: PolicyRoot, tmp_path_factory) -> PolicyRoot:
    """A session-wide copy of the host store. Do not install into it."""
    return copy_root(host_root, tmp_path_factory.mktemp("pristine-root"))


def _copy(src: PolicyRoot, dest: Path) -> PolicyRoot:
    return copy_root(src, dest)


@pytest.fixture
def store_root(pristine_root: PolicyRoot, tmp_path: Path) -> PolicyRoot:
    """A private, writable copy of the reference store for one test."""
    return _copy(pristine_root, tmp_path / "root")


def build_fixture_module(name: str, out_dir: Path) -> Path:
    """Compile ``NAME.te`` (+ .if/.fc) from ``avcfix/lab/policies`` (the lab's
    fixture modules) or ``policies/`` (test-only ones) with refpolicy's devel Makefile."""
    if not DEVEL_MAKEFILE.is_file():
        pytest.skip("selinux-policy-dev's Makefile is not installed")
    out_dir.mkdir(parents=True, exist_ok=True)
    where = LAB_POLICIES if (LAB_POLICIES / f"{name}.te").is_file() else POLICIES
    for ext in (".te", ".if", ".fc"):
        src = where / f"{name}{ext}"
        if src.exists():
            shutil.copy(src, out_dir / src.name)
    cp = subprocess.run(
        ["make", "-f", str(DEVEL_MAKEFILE), f"{name}.pp"],
        cwd=out_dir, capture_output=True, text=True, check=False,
    )
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return out_dir / f"{name}.pp"


@pytest.fixture(scope="session")
def euca_root(pristine_root: PolicyRoot, tmp_path_factory) -> PolicyRoot:
    """Reference store plus ``avcfix/lab/policies/eucalyptus`` installed (one install per session).

    Read-only for tests: copy it with :func:`copy_root` before installing more.
    """
    base = tmp_path_factory.mktemp("euca")
    root = _copy(pristine_root, base / "root")
    pp = build_fixture_module("eucalyptus", base / "build")
    cp = subprocess.run(root.semodule_argv("-i", str(pp)), capture_output=True, text=True, check=False)
    assert cp.returncode == 0, cp.stderr
    return root


@pytest.fixture
def lab_dir(euca_root: PolicyRoot, tmp_path: Path) -> Path:
    """A lab workspace whose policy root already holds the fixture module (no setup install)."""
    copy_root(euca_root, tmp_path / "lab" / "root")
    return tmp_path / "lab"


@pytest.fixture(scope="session")
def euca_policy(euca_root: PolicyRoot) -> Path:
    """Binary policy with the Eucalyptus fixture domains."""
    return euca_root.policy_file


SPECIAL_TE = PROJECT / "tests" / "data" / "advisors" / "avcfix_special.te"


@pytest.fixture(scope="session")
def special_root(pristine_root: PolicyRoot, tmp_path_factory) -> PolicyRoot:
    """Reference store plus ``tests/data/advisors/avcfix_special.te`` (an
    allowxperm restriction and a bare domain transition, which neither test
    policy has), compiled with checkmodule and installed once. Read only:
    copy it with :func:`copy_root` before installing more."""
    base = tmp_path_factory.mktemp("special")
    root = _copy(pristine_root, base / "root")
    build = base / "build"
    build.mkdir()
    shutil.copy(SPECIAL_TE, build / SPECIAL_TE.name)
    for argv in (["checkmodule", "-M", "-m", "-o", "avcfix_special.mod", "avcfix_special.te"],
                 ["semodule_package", "-o", "avcfix_special.pp", "-m", "avcfix_special.mod"]):
        cp = subprocess.run(argv, cwd=build, capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stdout + cp.stderr
    cp = subprocess.run(root.semodule_argv("-i", str(build / "avcfix_special.pp")),
                        capture_output=True, text=True, check=False)
    assert cp.returncode == 0, cp.stderr
    return root
