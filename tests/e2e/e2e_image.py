"""Build the SELinux-enforcing Debian image for the end-to-end proof (``make e2e``).

Two cached layers under ``~/.cache/avcfix/e2e/`` (``AVCFIX_E2E_CACHE`` overrides):

* ``base-KEY/rootfs``: a debootstrapped Debian bookworm with the kernel, auditd
  (Debian's default ``auditd.conf``, untouched), the reference policy and the
  SELinux userspace. KEY hashes the suite, the mirror and the package list.
  Building it takes 3-4 minutes and needs the mirror of the host's apt sources.
* ``image-KEY/``: ``disk.img`` (ext4, labelled on the host), ``vmlinuz`` and
  ``initrd.img``. KEY hashes the base key and every file that goes into the
  image: avcfix's package inputs (the sources, setup.py, debian/, the lab data,
  man/ and completions/, the Makefile that builds the .deb), the eucanetd
  stand-in and its unit, the guest runner and this builder. About two minutes:
  ``make deb`` on the host, then ``apt install ./avcfix_*.deb`` in the chroot
  (every dependency is in the base layer: no download), so the guest's checks
  run the installed ``/usr/bin/avcfix``; the eucalyptus module is built from the
  package's copy (``avcfix/lab/policies``).

Run as root (debootstrap, chroot, setfiles). ``python3 tests/e2e/e2e_image.py``
builds (or finds) the image and prints its directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
SUITE = "bookworm"
# Bump when the way a layer is built changes (not its inputs: those are hashed).
BASE_FORMAT = 1
IMAGE_FORMAT = 2  # 2: avcfix from its .deb (1: a wheel in /opt/avcfix)
IMAGE_SIZE = "4G"
PACKAGES = (
    "linux-image-amd64", "initramfs-tools", "systemd-sysv", "udev", "kmod",
    "auditd", "selinux-basics", "selinux-policy-default", "selinux-policy-dev",
    "policycoreutils", "policycoreutils-python-utils", "checkpolicy",
    "semodule-utils", "setools", "python3", "python3-setools", "python3-selinux",
    "python3-semanage", "python3-venv", "e2fsprogs", "procps", "iproute2",
    "make", "less",
    # avcfix's own dependencies (its .deb's Depends), so that `apt install ./avcfix_*.deb` needs no download.
    "python3-typer", "python3-rich", "python3-pexpect", "python3-pyparsing", "python3-audit",
    # /etc/protocols: semanage (socket.getprotobyname) fails without it in minbase.
    "netbase",
)
# avcfix itself, as its Debian package (`make deb`): from the working tree, or with
# AVCFIX_E2E_SOURCE=head from the last commit (a consistent snapshot while others
# edit the tree). What the image is keyed on: what goes into the .deb (the README
# goes in only as the wheel's long description, so a documentation change does
# not rebuild the image).
KEYED_PACKAGE_INPUTS = ("pyproject.toml", "setup.py", "Makefile", "avcfix", "debian", "man", "completions")
PACKAGE_GLOBS = ("pyproject.toml", "setup.py", "Makefile", "avcfix/**/*.py", "avcfix/**/*.c",
                 "avcfix/lab/scenarios/*", "avcfix/lab/policies/*", "debian/**/*", "man/**/*", "completions/*")
# The rest of what goes into the image, always from the working tree.
IMAGE_INPUT_GLOBS = (
    "tests/e2e/eucanetd/*", "tests/e2e/tinyd/*", "tests/e2e/guest/runner.sh",
    "tests/e2e/guest/avcfix-e2e.service", "tests/e2e/e2e_image.py",
)
# The port the stand-in binds: eucalyptus_eucanetd_port_t exists but no port is
# labelled (see the README's "End-to-end proof" section).
EUCANETD_STATE = '<network-data version="e2e"><vpc/></network-data>\n'


@dataclass(frozen=True, slots=True)
class Image:
    """A built image: the disk (pristine; runs use a qcow2 overlay) and the boot files."""

    directory: Path
    disk: Path
    kernel: Path
    initrd: Path
    timings: tuple[tuple[str, float], ...]


def cache_dir() -> Path:
    """Where layers are cached."""
    env = os.environ.get("AVCFIX_E2E_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "avcfix" / "e2e"


def apt_mirror() -> str:
    """The first Debian mirror of this machine's apt sources (deb822 or one-line)."""
    env = os.environ.get("AVCFIX_E2E_MIRROR")
    if env:
        return env
    candidates: list[str] = []
    for src in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in src.read_text(errors="replace").splitlines():
            if line.startswith("URIs:"):
                candidates.extend(line.split()[1:])
    lst = Path("/etc/apt/sources.list")
    if lst.is_file():
        for line in lst.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                candidates.append(next(p for p in parts[1:] if not p.startswith("[")))
    for uri in candidates:
        if "security" not in uri:
            return uri
    raise RuntimeError("no Debian mirror found in /etc/apt/sources.list(.d)")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def base_key(mirror: str) -> str:
    """Cache key of the debootstrapped rootfs."""
    spec = {"suite": SUITE, "mirror": mirror, "packages": sorted(PACKAGES),
            "format": BASE_FORMAT, "variant": "minbase"}
    return _sha(json.dumps(spec, sort_keys=True).encode())


def from_head() -> bool:
    """True when avcfix goes into the image from HEAD rather than the working tree."""
    return os.environ.get("AVCFIX_E2E_SOURCE", "worktree") == "head"


def image_inputs(project: Path = PROJECT) -> list[Path]:
    """Every working-tree file that goes into the image, sorted."""
    globs = IMAGE_INPUT_GLOBS if from_head() else IMAGE_INPUT_GLOBS + PACKAGE_GLOBS
    files: set[Path] = set()
    for pattern in globs:
        files.update(p for p in project.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(files)


def image_key(bkey: str, project: Path = PROJECT) -> str:
    """Cache key of the image: the base key and the content of every input."""
    h = hashlib.sha256(f"{bkey}:{IMAGE_FORMAT}:{IMAGE_SIZE}".encode())
    if from_head():
        for name in KEYED_PACKAGE_INPUTS:
            cp = subprocess.run(["git", "-C", str(project), "rev-parse", f"HEAD:{name}"],
                                capture_output=True, text=True, check=False)
            h.update(f"{name}@{cp.stdout.strip() if cp.returncode == 0 else '-'}\0".encode())
    for path in image_inputs(project):
        h.update(str(path.relative_to(project)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _run(argv: list[str], log: Path, **kw) -> None:
    """Run a build command, appending its output to LOG; raise with the log tail on failure."""
    with log.open("ab") as fh:
        fh.write(("\n$ " + " ".join(argv) + "\n").encode())
        fh.flush()
        cp = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, check=False, **kw)
    if cp.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(f"{argv[0]} exited {cp.returncode}; log {log}:\n" + "\n".join(tail))


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below PATH (/proc/self/mountinfo), deepest first."""
    prefix = str(path.resolve())
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """rmtree a (partial) rootfs, unmounting first what an interrupted debootstrap or
    chroot left mounted in it (its /proc, /sys, /dev): rmtree must never reach the host's."""
    if not path.exists():
        return
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], check=False)
    left = _mounts_under(path)
    if left:
        raise RuntimeError(f"{path}: still mounted after umount, not removed: {', '.join(left)}")
    shutil.rmtree(path)


def build_base(cache: Path, log_dir: Path) -> tuple[Path, str, float]:
    """Debootstrap the base rootfs unless cached; return (rootfs, key, seconds spent)."""
    mirror = apt_mirror()
    key = base_key(mirror)
    final = cache / f"base-{key}"
    if (final / "complete").is_file():
        return final / "rootfs", key, 0.0
    t0 = time.monotonic()
    tmp = cache / f"base-{key}.partial"
    if tmp.exists():
        remove_tree(tmp)
    tmp.mkdir(parents=True)
    _run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
          SUITE, str(tmp / "rootfs"), mirror], log_dir / "debootstrap.log")
    (tmp / "complete").write_text(json.dumps({"mirror": mirror, "packages": PACKAGES}) + "\n")
    if final.exists():
        remove_tree(final)
    tmp.rename(final)
    for old in cache.glob("base-*"):
        if old.is_dir() and old != final:
            try:
                remove_tree(old)
            except (OSError, RuntimeError):
                pass  # an old layer: left for the next run
    return final / "rootfs", key, time.monotonic() - t0


def _deb(project: Path, dest: Path, log: Path) -> Path:
    """avcfix's .deb built by ``make deb`` (docs/packaging.md) from the working tree, or
    from HEAD (``git archive``) with AVCFIX_E2E_SOURCE=head; returns its path in DEST."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = project
        if from_head():
            src = Path(tmp) / "src"
            src.mkdir()
            archive = subprocess.run(["git", "-C", str(project), "archive", "HEAD"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        _run(["make", "-s", "-C", str(src), "deb", f"DEB_DIR={Path(tmp) / 'deb'}"], log)
        debs = sorted((Path(tmp) / "deb").glob("avcfix_*.deb"))
        if len(debs) != 1:
            raise RuntimeError(f"make deb left {[d.name for d in debs]}; log {log}")
        shutil.copy2(debs[0], dest / debs[0].name)
        return dest / debs[0].name


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _configure(root: Path, project: Path, work: Path, log: Path) -> None:
    """Everything the image needs on top of the base rootfs (before labelling)."""
    _write(root / "etc/hostname", "avcfix-e2e\n")
    _write(root / "etc/hosts", "127.0.0.1 localhost\n127.0.1.1 avcfix-e2e\n")
    _write(root / "etc/fstab", "/dev/vda / ext4 rw,relatime 0 1\n")
    cfg = root / "etc/selinux/config"
    lines = [("SELINUX=enforcing" if ln.startswith("SELINUX=") else ln)
             for ln in cfg.read_text().splitlines()]
    _write(cfg, "\n".join(lines) + "\n")
    # The job runner: a oneshot unit (unconfined_t) that runs the job from the 9p share.
    sbin = root / "usr/local/sbin"
    shutil.copy(HERE / "guest" / "runner.sh", sbin / "avcfix-e2e-runner")
    (sbin / "avcfix-e2e-runner").chmod(0o755)
    unit = root / "etc/systemd/system/avcfix-e2e.service"
    shutil.copy(HERE / "guest" / "avcfix-e2e.service", unit)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "avcfix-e2e.service"
    if not link.exists():
        link.symlink_to("/etc/systemd/system/avcfix-e2e.service")
    # The eucanetd stand-in: static binary, unit (not enabled), its state file.
    _run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
          str(root / "usr/sbin/eucanetd"), str(HERE / "eucanetd" / "eucanetd.c")], log)
    shutil.copy(HERE / "eucanetd" / "eucanetd.service", root / "etc/systemd/system/eucanetd.service")
    _write(root / "var/lib/eucalyptus/global_network_info.xml", EUCANETD_STATE)
    # tinyd, a service without a domain (loop --new-domain): static binary (bin_t), unit (not enabled).
    _run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
          str(root / "usr/sbin/tinyd"), str(HERE / "tinyd" / "tinyd.c")], log)
    shutil.copy(HERE / "tinyd" / "tinyd.service", root / "etc/systemd/system/tinyd.service")
    # avcfix, its Debian package installed as an admin would: apt resolves its
    # Depends from the base layer's packages (nothing to download; see PACKAGES).
    # (Not --no-download: apt 2.6 then fails on a local .deb, "Pathname to install
    # is not absolute".)
    deb = _deb(project, root / "tmp/avcfix-deb", log)
    _run(["chroot", str(root), "env", "DEBIAN_FRONTEND=noninteractive", "apt", "install", "-y",
          f"/tmp/avcfix-deb/{deb.name}"], log)
    shutil.rmtree(deb.parent)
    _run(["chroot", str(root), "/usr/bin/python3", "-c",
          "import avcfix, setools, selinux; from avcfix.audit.accel import cscan; "
          "assert avcfix.__file__.startswith('/usr/lib/python3/dist-packages/'), avcfix.__file__; "
          "assert cscan is not None, 'the .deb has no C accelerator'"], log)
    if not (root / "usr/bin/avcfix").is_file():
        raise RuntimeError("the .deb did not install /usr/bin/avcfix")
    # The eucalyptus module (refpolicy-style) from the package's copy, built and
    # installed with the image's own tools.
    mod = root / "tmp/eucalyptus-module"
    mod.mkdir(parents=True, exist_ok=True)
    lab_policies = root / "usr/lib/python3/dist-packages/avcfix/lab/policies"
    for ext in ("te", "if", "fc"):
        shutil.copy(lab_policies / f"eucalyptus.{ext}", mod / f"eucalyptus.{ext}")
    _run(["chroot", str(root), "make", "-C", "/tmp/eucalyptus-module", "-f",
          "/usr/share/selinux/devel/Makefile", "eucalyptus.pp"], log)
    _run(["chroot", str(root), "semodule", "-i", "/tmp/eucalyptus-module/eucalyptus.pp"], log)
    shutil.rmtree(mod)


def _label(root: Path, log: Path) -> None:
    """Label the rootfs with the image's own policy (setfiles needs /proc in the chroot)."""
    proc = root / "proc"
    _run(["mount", "-t", "proc", "proc", str(proc)], log)
    try:
        _run(["chroot", str(root), "/sbin/setfiles", "-F", "-c",
              "/etc/selinux/default/policy/policy.33",
              "/etc/selinux/default/contexts/files/file_contexts", "/"], log)
    finally:
        subprocess.run(["umount", str(proc)], check=False)


def _check_label(disk: Path, path: str, expected: str) -> None:
    cp = subprocess.run(["debugfs", "-R", f"ea_get {path} security.selinux", str(disk)],
                        capture_output=True, text=True, check=False)
    if expected not in cp.stdout:
        raise RuntimeError(f"{path} in {disk} is not labelled {expected}: {cp.stdout!r} {cp.stderr!r}")


def build_image(project: Path = PROJECT, cache: Path | None = None) -> Image:
    """Build (or find in the cache) the image for the current working tree."""
    if os.geteuid() != 0:
        raise RuntimeError("building the e2e image needs root (debootstrap, chroot, setfiles)")
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    logs = cache / "logs"
    logs.mkdir(exist_ok=True)
    base, bkey, t_base = build_base(cache, logs)
    key = image_key(bkey, project)
    final = cache / f"image-{key}"
    timings = [("debootstrap (cached)" if t_base == 0.0 else "debootstrap", t_base)]
    if (final / "complete").is_file():
        timings.append(("image build (cached)", 0.0))
        return Image(final, final / "disk.img", final / "vmlinuz", final / "initrd.img", tuple(timings))
    work = cache / f"image-{key}.partial"
    if work.exists():
        remove_tree(work)
    work.mkdir()
    log = work / "build.log"
    root = work / "rootfs"
    t0 = time.monotonic()
    _run(["cp", "-a", "--reflink=auto", str(base), str(root)], log)
    timings.append(("image: copy base rootfs", time.monotonic() - t0))
    t0 = time.monotonic()
    _configure(root, project, work, log)
    timings.append(("image: configure + make deb + apt install + eucalyptus module", time.monotonic() - t0))
    t0 = time.monotonic()
    _label(root, log)
    timings.append(("image: label (setfiles)", time.monotonic() - t0))
    t0 = time.monotonic()
    disk = work / "disk.img"
    _run(["truncate", "-s", IMAGE_SIZE, str(disk)], log)
    _run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "avcfix-e2e", "-d", str(root), str(disk)], log)
    _check_label(disk, "/usr/sbin/eucanetd", "eucalyptus_eucanetd_exec_t")
    _check_label(disk, "/var/lib/eucalyptus/global_network_info.xml", "eucalyptus_var_lib_t")
    _check_label(disk, "/usr/sbin/tinyd", "bin_t")  # no domain of its own until loop --new-domain
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    initrds = sorted((root / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise RuntimeError(f"no kernel/initrd in {root}/boot")
    shutil.copy(kernels[-1], work / "vmlinuz")
    shutil.copy(initrds[-1], work / "initrd.img")
    timings.append(("image: mke2fs -d", time.monotonic() - t0))
    remove_tree(root)
    (work / "complete").write_text(key + "\n")
    for old in cache.glob("image-*"):
        if old.is_dir() and old.name not in (final.name, work.name):
            try:
                remove_tree(old)
            except (OSError, RuntimeError):
                pass  # an old layer: left for the next run
    work.rename(final)
    return Image(final, final / "disk.img", final / "vmlinuz", final / "initrd.img", tuple(timings))


def main() -> int:
    """Build the image; print its directory and the build timings."""
    img = build_image()
    for step, secs in img.timings:
        print(f"{step:50s} {secs:8.1f} s")
    print(img.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
