"""Boot the e2e image under QEMU, run one job through a 9p share, collect the results.

The guest's ``avcfix-e2e.service`` mounts the share (tag ``e2e``), runs
``job.sh`` from it as root in ``unconfined_t``, copies the audit logs and the
journal into ``out/``, writes ``out/done`` and powers off.

QEMU is stopped on every path: normal exit, job timeout, an exception in the
caller (context manager), and the death of the Python process itself
(``PR_SET_PDEATHSIG``), so no VM outlives a killed ``make e2e``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from e2e_image import Image

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class VmResult:
    """What a VM run left behind."""

    out: Path               # the share's out/ directory (job outputs, audit logs, journal)
    job_rc: int | None      # the job's exit code, None when it never finished
    accel: str
    boot_seconds: float     # QEMU start -> the runner running inside the guest
    job_seconds: float      # runner start -> out/done
    total_seconds: float    # QEMU start -> QEMU gone
    timed_out: bool
    serial_log: Path


def accel_args() -> tuple[str, list[str]]:
    """QEMU acceleration: ``AVCFIX_E2E_ACCEL`` = kvm | tcg | auto (default).

    auto picks KVM when ``/dev/kvm`` is usable and is not the paravirtual
    nested ``kvm_pvm`` (which hangs a stock kernel after "Probing EDD"), else
    multi-threaded TCG.
    """
    want = os.environ.get("AVCFIX_E2E_ACCEL", "auto")
    kvm_ok = os.access("/dev/kvm", os.R_OK | os.W_OK) and not Path("/sys/module/kvm_pvm").exists()
    if want == "kvm" or (want == "auto" and kvm_ok):
        return "kvm", ["-accel", "kvm", "-cpu", "host"]
    return "tcg", ["-accel", "tcg,thread=multi", "-cpu", "max"]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate QEMU (SIGTERM, then SIGKILL) and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def run_job(image: Image, job: Path, workdir: Path, *, timeout: float,
            extra: dict[str, Path] | None = None, progress=None) -> VmResult:
    """Boot IMAGE with JOB (a shell script) on the share; wait for it; always stop QEMU.

    EXTRA maps share-relative names to host files copied next to job.sh.
    PROGRESS, when given, is called with one-line status messages.
    """
    say = progress or (lambda _msg: None)
    share = workdir / "share"
    if share.exists():
        shutil.rmtree(share)
    (share / "out").mkdir(parents=True)
    shutil.copy(job, share / "job.sh")
    for name, src in (extra or {}).items():
        dest = share / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    overlay = workdir / "overlay.qcow2"
    overlay.unlink(missing_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                    str(image.disk), str(overlay)], check=True)
    accel, accel_argv = accel_args()
    serial = workdir / "serial.log"
    argv = ["qemu-system-x86_64", *accel_argv, "-smp", "2", "-m", "2G",
            "-display", "none", "-monitor", "none", "-serial", f"file:{serial}",
            "-no-reboot", "-nic", "none",
            "-kernel", str(image.kernel), "-initrd", str(image.initrd),
            "-append", "console=ttyS0 root=/dev/vda rw security=selinux selinux=1 enforcing=1 quiet",
            "-drive", f"file={overlay},format=qcow2,if=virtio",
            "-virtfs", f"local,path={share},mount_tag=e2e,security_model=none,id=e2e"]
    out = share / "out"
    t0 = time.monotonic()
    boot = job_secs = 0.0
    timed_out = False
    job_rc: int | None = None
    with (workdir / "qemu.log").open("wb") as qlog:
        proc = subprocess.Popen(argv, stdout=qlog, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        try:
            say(f"QEMU started ({accel}), pid {proc.pid}")
            while proc.poll() is None and not (out / "runner-start").exists():
                if time.monotonic() - t0 > timeout:
                    timed_out = True
                    break
                time.sleep(0.5)
            boot = time.monotonic() - t0
            say(f"guest runner started after {boot:.0f} s" if (out / "runner-start").exists()
                else f"guest runner never started (QEMU rc={proc.poll()})")
            last = ""
            while proc.poll() is None and not (out / "done").exists() and not timed_out:
                if time.monotonic() - t0 > timeout:
                    timed_out = True
                    break
                step = _last_step(out / "timings.tsv")
                if step and step != last:
                    say(f"  {step}")
                    last = step
                time.sleep(1)
            if (out / "done").exists():
                job_secs = time.monotonic() - t0 - boot
                rc_text = (out / "done").read_text().strip()
                job_rc = int(rc_text) if rc_text.lstrip("-").isdigit() else None
                try:
                    proc.wait(timeout=120)   # the guest powers itself off
                except subprocess.TimeoutExpired:
                    pass
        finally:
            _stop(proc)
    total = time.monotonic() - t0
    say(f"QEMU gone after {total:.0f} s (job rc={job_rc}, timed out={timed_out})")
    return VmResult(out, job_rc, accel, boot, job_secs, total, timed_out, serial)


def _last_step(timings: Path) -> str:
    try:
        lines = timings.read_text().splitlines()
    except OSError:
        return ""
    return lines[-1].replace("\t", "  ") if lines else ""
