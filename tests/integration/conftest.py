"""The integration tier's fixtures: the reference policy, Fedora's targeted
policy, private policy stores and the fixture modules (tests/conftest.py holds
what every tier shares: the corpus, the session's index cache).

Tests never touch the machine's own /etc/selinux or /var/lib/selinux: every
install goes into a copy under a temporary root (``semodule -p ROOT``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from policy_helpers import install_modules

from avcfix.toolchain.store import PolicyRoot, copy_root, host_policy_name

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "fixtures"
POLICIES = PROJECT / "policies"  # test-only fixture modules (avcfix_explain)
#: The lab's fixture modules (eucalyptus): package data, as the lab itself reads them.
LAB_POLICIES = PROJECT / "avcfix" / "lab" / "policies"
FEDORA_POLICY = PROJECT.parent / "shared" / "fedora-policy"
DEVEL_MAKEFILE = Path("/usr/share/selinux/devel/Makefile")


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


#: Where the checkmodule-style fixture modules (plain require blocks, no devel
#: headers) live: ``avcfix_xperm`` and the advice cases' modules, ``avcfix_special``.
DATA_MODULE_DIRS = (PROJECT / "tests" / "data" / "advice", PROJECT / "tests" / "data" / "advisors")


def _compile_fixture_module(name: str, out_dir: Path, mls: bool) -> Path:
    """Compile one fixture module into ``out_dir``: ``NAME.te`` (+ .if/.fc) from
    ``avcfix/lab/policies`` (the lab's: eucalyptus) or ``policies/`` (test-only:
    avcfix_explain) with refpolicy's devel Makefile, or ``NAME.te`` from
    :data:`DATA_MODULE_DIRS` with checkmodule [-M] -m and semodule_package."""
    out_dir.mkdir(parents=True, exist_ok=True)
    where = next((d for d in (LAB_POLICIES, POLICIES) if (d / f"{name}.te").is_file()), None)
    if where is not None:
        if not DEVEL_MAKEFILE.is_file():
            pytest.skip("selinux-policy-dev's Makefile is not installed")
        for ext in (".te", ".if", ".fc"):
            src = where / f"{name}{ext}"
            if src.exists():
                shutil.copy(src, out_dir / src.name)
        cp = subprocess.run(["make", "-f", str(DEVEL_MAKEFILE), f"{name}.pp"],
                            cwd=out_dir, capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        return out_dir / f"{name}.pp"
    te = next((d / f"{name}.te" for d in DATA_MODULE_DIRS if (d / f"{name}.te").is_file()), None)
    assert te is not None, f"no fixture module {name}.te"
    shutil.copy(te, out_dir / te.name)
    for argv in (["checkmodule", *(["-M"] if mls else []), "-m", "-o", f"{name}.mod", te.name],
                 ["semodule_package", "-o", f"{name}.pp", "-m", f"{name}.mod"]):
        cp = subprocess.run(argv, cwd=out_dir, capture_output=True, text=True, check=False)
        assert cp.returncode == 0, (argv, cp.stdout + cp.stderr)
    return out_dir / f"{name}.pp"


@pytest.fixture(scope="session")
def fixture_pp(tmp_path_factory) -> Callable[..., Path]:
    """``fixture_pp(NAME, mls=True)``: the fixture module NAME compiled once per
    session (see :func:`_compile_fixture_module`); the same .pp for every store
    it goes into. Read only."""
    built: dict[tuple[str, bool], Path] = {}
    base = tmp_path_factory.mktemp("fixture-modules")

    def get(name: str, mls: bool = True) -> Path:
        if (name, mls) not in built:
            built[name, mls] = _compile_fixture_module(name, base / (name if mls else f"{name}-nomls"), mls)
        return built[name, mls]

    return get


@pytest.fixture(scope="session")
def euca_root(pristine_root: PolicyRoot, fixture_pp, tmp_path_factory) -> PolicyRoot:
    """Reference store plus ``avcfix/lab/policies/eucalyptus`` installed (one install per session).

    Read-only for tests: copy it with :func:`copy_root` before installing more.
    """
    root = _copy(pristine_root, tmp_path_factory.mktemp("euca") / "root")
    install_modules(root, fixture_pp("eucalyptus"))
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


@pytest.fixture(scope="session")
def special_root(pristine_root: PolicyRoot, fixture_pp, tmp_path_factory) -> PolicyRoot:
    """Reference store plus ``tests/data/advisors/avcfix_special.te`` (an
    allowxperm restriction and a bare domain transition, which neither test
    policy has), compiled with checkmodule and installed once. Read only:
    copy it with :func:`copy_root` before installing more."""
    root = _copy(pristine_root, tmp_path_factory.mktemp("special") / "root")
    install_modules(root, fixture_pp("avcfix_special", mls=False))
    return root
