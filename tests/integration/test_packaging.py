"""The distribution packages (docs/packaging.md): the wheel, ``make deb``, ``make srpm``.

Everything is built with the real tools (setuptools, dpkg-buildpackage with
pybuild, rpmbuild, rpmlint, lintian) from a copy of this tree, and what is
built is run: the wheel in a fresh venv and the .deb's files (``dpkg-deb -x``)
with the distribution's own python3 and Debian's typer/rich/pexpect, from a
directory outside the source tree. The Debian build and its lab loop take about
1.5 minutes (marked slow; make test runs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import avcfix

PROJECT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.name for p in (PROJECT / "avcfix" / "lab" / "scenarios").glob("*.toml"))
LAB_POLICIES = sorted(p.name for p in (PROJECT / "avcfix" / "lab" / "policies").iterdir() if p.is_file())
#: A PATH with the distribution's python3 first (not a pyenv shim or a venv).
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _copy_tree(dest: Path) -> Path:
    """The tree as ``make deb`` copies it: tracked and new files, not the ignored ones."""
    files = subprocess.run(["git", "-C", str(PROJECT), "ls-files", "-z", "-co", "--exclude-standard"],
                           capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        src = PROJECT / os.fsdecode(name)
        if src.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(name))
    return dest


def test_one_version_everywhere() -> None:
    """avcfix/__init__.py's __version__ is the one version: the installed metadata
    (pyproject's dynamic version), the spec's Version and changelog entry, and
    debian/changelog's top entry (read with dpkg-parsechangelog when it is there)."""
    from importlib import metadata

    v = avcfix.__version__
    assert metadata.version("avcfix") == v
    pyproject = (PROJECT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]$', pyproject, re.M)
    assert 'version = {attr = "avcfix.__version__"}' in pyproject
    assert not re.search(r"^version\s*=", pyproject.split("[project]", 1)[1].split("\n[", 1)[0], re.M)
    spec = (PROJECT / "avcfix.spec").read_text()
    assert re.search(rf"^Version:\s+{re.escape(v)}$", spec, re.M)
    release = re.search(r"^Release:\s+(\d+)%\{\?dist\}$", spec, re.M).group(1)
    top = spec.split("%changelog", 1)[1].strip().splitlines()[0]
    assert top.endswith(f" - {v}-{release}"), top
    head = (PROJECT / "debian" / "changelog").read_text().splitlines()[0]
    assert head.startswith(f"avcfix ({v}) "), head
    if shutil.which("dpkg-parsechangelog"):
        cp = subprocess.run(["dpkg-parsechangelog", "-l", str(PROJECT / "debian" / "changelog"), "-S", "Version"],
                            capture_output=True, text=True, check=True)
        assert cp.stdout.strip() == v


def test_wheel_carries_the_lab(tmp_path: Path) -> None:
    """A wheel built from the tree, installed into a fresh venv, finds the lab's
    scenarios and fixture modules inside the install (not in a source tree):
    ``loop --lab`` lists the shipped scenarios from there. Fails when they are not
    package data (the old ``parents[2] / "fixtures/labs"`` pointed into lib/)."""
    src = _copy_tree(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(wheels), str(src)], check=True, cwd=tmp_path)
    (whl,) = wheels.glob("avcfix-*.whl")
    assert whl.name.startswith(f"avcfix-{avcfix.__version__}-")
    names = set(zipfile.ZipFile(whl).namelist())
    for s in SCENARIOS:
        assert f"avcfix/lab/scenarios/{s}" in names
    for p in LAB_POLICIES:
        assert f"avcfix/lab/policies/{p}" in names
    assert not [n for n in names if n.endswith(".c")]
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    # --no-deps: typer/rich/pexpect/pyparsing from the system site (Debian's, as the .deb uses).
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index",
                    "--disable-pip-version-check", str(whl)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = ("from avcfix.lab.scenario import find_scenario; from avcfix.lab.backends import POLICIES_DIR; "
             "print(find_scenario('eucanetd')); print(POLICIES_DIR / 'eucalyptus.te')")
    cp = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=work, capture_output=True, text=True,
                        check=True, env={**os.environ, "PYTHONSAFEPATH": "1"})
    scenario, te = map(Path, cp.stdout.split())
    assert scenario.is_file() and scenario.is_relative_to(venv), scenario
    assert te.is_file() and te.is_relative_to(venv), te
    cp = subprocess.run([str(venv / "bin" / "avcfix"), "loop", "--lab", "no-such-lab", "--yes"], cwd=work,
                        capture_output=True, text=True, check=False)
    assert cp.returncode != 0 and "Traceback" not in cp.stderr
    listed = re.search(r"known: (.*)", " ".join(cp.stderr.split()))
    assert listed, cp.stderr
    assert sorted(n.strip() + ".toml" for n in listed.group(1).split(",")) == SCENARIOS


def test_spec_rpmlint_and_srpm(tmp_path: Path) -> None:
    """``make srpm``: rpmlint finds nothing in avcfix.spec (with avcfix.rpmlintrc) and
    rpmbuild -bs makes the source RPM, whose tarball is the tree (with the lab data)."""
    for tool in ("rpmbuild", "rpmlint"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed (make setup installs rpm and rpmlint)")
    out = tmp_path / "rpm"
    cp = subprocess.run(["make", "-s", "-C", str(PROJECT), "srpm", f"RPM_DIR={out}"],
                        capture_output=True, text=True, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert re.search(r"\b0 errors, 0 warnings\b", cp.stdout), cp.stdout
    v = avcfix.__version__
    (srpm,) = (out / "SRPMS").glob("*.src.rpm")
    assert srpm.name == f"avcfix-{v}-1.src.rpm"
    q = subprocess.run(["rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{LICENSE}", str(srpm)],
                       capture_output=True, text=True, check=True).stdout
    assert q == f"avcfix {v} GPL-2.0-or-later"
    listing = subprocess.run(["rpm", "-qlp", str(srpm)], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listing) == sorted(["avcfix.spec", f"avcfix-{v}.tar.gz"])
    with tarfile.open(out / "SOURCES" / f"avcfix-{v}.tar.gz") as tf:
        members = set(tf.getnames())
    top = f"avcfix-{v}"
    for need in ("pyproject.toml", "setup.py", "avcfix/audit/_cscan.c", "avcfix/index/_policydump.c",
                 *(f"avcfix/lab/scenarios/{s}" for s in SCENARIOS)):
        assert f"{top}/{need}" in members, need
    assert not [m for m in members if "/.venv/" in m or m.endswith(".so") or "/build/" in m]


def _deb_contents(deb: Path) -> set[str]:
    out = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    return {line.split(None, 5)[5].split(" -> ")[0].removeprefix(".") for line in out.splitlines()}


@pytest.mark.slow
def test_make_deb_builds_a_package_that_runs(tmp_path: Path) -> None:
    """``make deb`` (dpkg-buildpackage, pybuild) builds avcfix_VERSION_ARCH.deb with the
    entry point, both C extensions, the lab data, the man pages and completions the
    tree has; lintian finds at most the listed tags; and the package's avcfix, run by
    /usr/bin/python3 with Debian's typer/rich from outside the source tree, converges
    ``loop --lab eucanetd`` (the fixture module built from the package's own copy)."""
    if not (shutil.which("dpkg-buildpackage") and shutil.which("dpkg-deb")):
        pytest.skip("not a Debian system (dpkg-buildpackage)")
    if not Path("/usr/share/selinux/devel/Makefile").is_file():
        pytest.skip("selinux-policy-dev's Makefile is not installed")
    out = tmp_path / "deb"
    cp = subprocess.run(["make", "-s", "-C", str(PROJECT), "deb", f"DEB_DIR={out}"],
                        capture_output=True, text=True, check=False, timeout=600)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    deb = out / f"avcfix_{avcfix.__version__}_{arch}.deb"
    assert deb.is_file(), sorted(p.name for p in out.iterdir())
    assert not (out / f"avcfix-{avcfix.__version__}").exists()  # the build copy is removed

    files = _deb_contents(deb)
    site = "/usr/lib/python3/dist-packages/avcfix"
    assert "/usr/bin/avcfix" in files
    for ext in ("audit/_cscan", "index/_policydump"):
        assert [f for f in files if f.startswith(f"{site}/{ext}.cpython-") and f.endswith(".so")], ext
    for s in SCENARIOS:
        assert f"{site}/lab/scenarios/{s}" in files
    for p in LAB_POLICIES:
        assert f"{site}/lab/policies/{p}" in files
    assert not [f for f in files if f.endswith(".c")]
    pages = sorted(p.name.removesuffix(".scd") for p in (PROJECT / "man").glob("*.8.scd"))
    assert "avcfix.8" in pages and "avcfix-why.8" in pages
    for page in pages:  # rendered at build time (make man, scdoc) and installed
        assert f"/usr/share/man/man8/{page}.gz" in files, page
    completions = {"avcfix.bash": "/usr/share/bash-completion/completions/avcfix",
                   "_avcfix": "/usr/share/zsh/vendor-completions/_avcfix",
                   "avcfix.fish": "/usr/share/fish/vendor_completions.d/avcfix.fish"}
    for path in completions.values():
        assert path in files, path

    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends", "Recommends"],
                            capture_output=True, text=True, check=True).stdout
    depends = {d.split()[0] for d in fields.split("Recommends:")[0].removeprefix("Depends:").split(",")}
    for need in ("python3-setools", "python3-selinux", "python3-semanage", "policycoreutils",
                 "policycoreutils-python-utils", "python3-audit", "checkpolicy", "semodule-utils",
                 "python3-typer", "python3-rich", "python3-pexpect", "python3-pyparsing", "libc6"):
        assert need in depends, (need, fields)

    if shutil.which("lintian"):
        tags = set(re.findall(r"^[EW]: avcfix[^:]*: (\S+)", (out / "lintian.txt").read_text(), re.M))
        assert not tags, tags

    root = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PATH": SYSTEM_PATH, "PYTHONPATH": str(root / "usr/lib/python3/dist-packages")}
    env.pop("VIRTUAL_ENV", None)
    probe = ("import avcfix, typer; from avcfix.audit.accel import cscan; from avcfix.index.build import "
             "policy_dumper; print(avcfix.__file__, typer.__file__, bool(cscan), bool(policy_dumper()))")
    cp = subprocess.run(["/usr/bin/python3", "-c", probe], cwd=work, env=env, capture_output=True, text=True, check=True)
    mod, typer_file, c1, c2 = cp.stdout.split()
    assert Path(mod).is_relative_to(root) and typer_file.startswith("/usr/lib/python3/dist-packages/"), cp.stdout
    assert (c1, c2) == ("True", "True"), cp.stdout
    cp = subprocess.run([str(root / "usr/bin/avcfix"), "loop", "--lab", "eucanetd", "--yes", "--json",
                         "--lab-dir", str(tmp_path / "lab")],
                        cwd=work, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert cp.returncode == 0, cp.stderr[-3000:]
    import json

    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "converged", doc.get("message")
    # The lab built its fixture module from the package's copy (the note may wrap: compare unspaced).
    te = root / "usr/lib/python3/dist-packages/avcfix/lab/policies/eucalyptus.te"
    assert f"fixturemodule{te}" in "".join(cp.stderr.split()), cp.stderr
