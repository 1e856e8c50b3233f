"""The end-to-end proof: one VM boot runs every check's guest side (``guest/job.sh``).

``make e2e`` runs ``pytest -m e2e tests/e2e``. The session fixture ``vm_run``
builds (or finds in the cache) the image, boots it, waits for the job and
stops QEMU whatever happens; the tests then read what the job left in the
share's ``out/`` (kept in ``~/.cache/avcfix/e2e/run-last/share/out`` for a
look afterwards). A timing table is printed at the end of the session.

Environment: ``AVCFIX_E2E_TIMEOUT`` (seconds for boot + job, default 2700),
``AVCFIX_E2E_ACCEL`` (kvm | tcg | auto), ``AVCFIX_E2E_CACHE``,
``AVCFIX_E2E_MIRROR``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import e2e_image as vmimage  # noqa: E402
import e2e_vm as vm  # noqa: E402
from e2e_timings import timing_rows  # noqa: E402

GUEST = HERE / "guest"
RUN_KEY = pytest.StashKey["E2ERun"]()


@dataclass(frozen=True, slots=True)
class E2ERun:
    """The image that was booted and what its job left behind."""

    image: vmimage.Image
    result: vm.VmResult

    @property
    def out(self) -> Path:
        return self.result.out


def _progress_to(config):
    """A progress callback that prints live, past pytest's output capture."""
    capman = config.pluginmanager.getplugin("capturemanager")

    def say(msg: str) -> None:
        with capman.global_and_fixture_disabled():
            sys.stderr.write(f"[e2e {time.strftime('%H:%M:%S')}] {msg}\n")
            sys.stderr.flush()
    return say


@pytest.fixture(scope="session")
def e2e_run(request) -> E2ERun:
    """Build the image, boot it once, run the job; fail (not skip) when that cannot happen."""
    missing = [tool for tool in ("qemu-system-x86_64", "qemu-img", "debootstrap", "mke2fs",
                                 "debugfs", "gcc", "chroot", "setfiles")
               if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"make e2e needs {', '.join(missing)} (make e2e installs them)")
    if os.geteuid() != 0:
        pytest.fail("make e2e needs root: debootstrap, chroot and setfiles build the image")
    say = _progress_to(request.config)
    say(f"building the image (cached under {vmimage.cache_dir()})")
    image = vmimage.build_image()
    for step, secs in image.timings:
        say(f"  {step}: {secs:.1f} s")
    work = vmimage.cache_dir() / "run-last"
    work.mkdir(parents=True, exist_ok=True)
    timeout = float(os.environ.get("AVCFIX_E2E_TIMEOUT", "2700"))
    result = vm.run_job(image, GUEST / "job.sh", work, timeout=timeout, progress=say,
                        extra={"audit_probe.py": GUEST / "audit_probe.py",
                               "timed-tool.sh": GUEST / "timed-tool.sh",
                               "advice.py": GUEST / "advice.py"})
    run = E2ERun(image, result)
    request.config.stash[RUN_KEY] = run
    if result.job_rc is None:
        tail = result.serial_log.read_text(errors="replace").splitlines()[-25:]
        pytest.fail(f"the VM job did not finish (timed out={result.timed_out}, "
                    f"{result.total_seconds:.0f} s); serial console tail:\n" + "\n".join(tail))
    return run


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The timing table: image build, boot, every job step, every loop iteration."""
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    tr = terminalreporter
    tr.section("e2e timings")
    for label, secs in timing_rows(run.image.timings, run.result):
        tr.write_line(f"{label:58s} {secs:9.1f} s")
    tr.write_line(f"results: {run.out}")
