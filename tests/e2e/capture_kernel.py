"""Capture real kernel denial records for object resolution (issue 13): ``make capture-kernel``.

A maintainer tool, not part of ``make test``. It boots the cached e2e image
(``e2e_image``; any complete cached image will do: the guest side needs no
avcfix), runs ``kernel/capture_job.sh`` through the 9p share, and cuts each
probe step's audit event out of the guest's audit.log into
``tests/data/kernel/NAME.log`` with a manifest ``NAME.json``.

The probe (``kernel/probe.c``, static) and the policy module
(``kernel/avcfix_probe.te``, compiled with the image's own reference policy
devel Makefile, in a chroot of the cached base rootfs) are built here and
shipped through the share: the guest only runs ``semodule -i`` (about a minute
under TCG).

Run as root: ``.venv/bin/python tests/e2e/capture_kernel.py [--out DIR] [--work DIR]``.
``--reuse`` re-cuts the fixtures from the last run's ``out/`` without booting.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import e2e_image as vmimage  # noqa: E402
import e2e_vm as vm  # noqa: E402

sys.path.insert(0, str(HERE / "kernel"))
from steps import write_fixtures  # noqa: E402

KERNEL = HERE / "kernel"
PROJECT = HERE.parents[1]
DEVEL_MAKEFILE = Path("/usr/share/selinux/devel/Makefile")


def say(msg: str) -> None:
    sys.stderr.write(f"[capture {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def cached_image() -> vmimage.Image:
    """The newest complete cached image, else a fresh build for this tree."""
    done = sorted((p for p in vmimage.cache_dir().glob("image-*") if (p / "complete").is_file()),
                  key=lambda p: (p / "complete").stat().st_mtime, reverse=True)
    if done:
        d = done[0]
        return vmimage.Image(d, d / "disk.img", d / "vmlinuz", d / "initrd.img", ())
    say("no cached image: building one (needs root and the Debian mirror)")
    return vmimage.build_image()


def build_inputs(work: Path) -> dict[str, Path]:
    """The static probe and the compiled module, for the share."""
    build = work / "build"
    build.mkdir(parents=True, exist_ok=True)
    probe = build / "avcfix-probe"
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(probe),
                    str(KERNEL / "probe.c")], check=True)
    (build / "avcfix_probe.pp").unlink(missing_ok=True)
    bases = sorted(p / "rootfs" for p in vmimage.cache_dir().glob("base-*") if (p / "complete").is_file())
    if bases:
        # the guest's own policy headers: a chroot of the cached base rootfs, in its /tmp
        with tempfile.TemporaryDirectory(dir=bases[-1] / "tmp", prefix="avcfix-probe-") as tmp:
            shutil.copy(KERNEL / "avcfix_probe.te", tmp)
            inside = "/tmp/" + Path(tmp).name
            subprocess.run(["chroot", str(bases[-1]), "make", "-s", "-C", inside, "-f",
                            str(DEVEL_MAKEFILE), "avcfix_probe.pp"], check=True, stdout=subprocess.DEVNULL)
            shutil.copy(Path(tmp) / "avcfix_probe.pp", build / "avcfix_probe.pp")
    elif DEVEL_MAKEFILE.is_file():   # no base layer cached: the host's headers
        shutil.copy(KERNEL / "avcfix_probe.te", build / "avcfix_probe.te")
        subprocess.run(["make", "-s", "-C", str(build), "-f", str(DEVEL_MAKEFILE), "avcfix_probe.pp"],
                       check=True, stdout=subprocess.DEVNULL)
    else:
        raise SystemExit(f"no cached base rootfs and no {DEVEL_MAKEFILE}: install selinux-policy-dev")
    return {"avcfix-probe": probe, "avcfix_probe.pp": build / "avcfix_probe.pp",
            "probe.c": KERNEL / "probe.c"}   # the job reads the list of steps from it


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=PROJECT / "tests" / "data" / "kernel")
    ap.add_argument("--work", type=Path, default=vmimage.cache_dir() / "capture-kernel")
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--reuse", action="store_true", help="re-cut the fixtures from the last run")
    args = ap.parse_args(argv)
    out = args.work / "share" / "out"
    if not args.reuse:
        if os.geteuid() != 0:
            raise SystemExit("capture_kernel.py needs root (QEMU image in root's cache, chroot builds)")
        args.work.mkdir(parents=True, exist_ok=True)
        extra = build_inputs(args.work)
        image = cached_image()
        say(f"image {image.directory}")
        result = vm.run_job(image, KERNEL / "capture_job.sh", args.work, timeout=args.timeout,
                            extra=extra, progress=say)
        if result.job_rc != 0:
            tail = result.serial_log.read_text(errors="replace").splitlines()[-25:]
            raise SystemExit(f"the capture job failed (rc={result.job_rc}); serial tail:\n"
                             + "\n".join(tail))
    names = write_fixtures(out, args.out, say)
    say(f"{len(names)} fixtures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
