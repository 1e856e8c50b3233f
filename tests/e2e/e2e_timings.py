"""The e2e timing table: image build, boot, each job step, each loop iteration and install."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_vm import VmResult

# Keys a loop report may use for durations (seconds), most specific first.
_SECONDS_KEYS = ("seconds", "elapsed", "elapsed_seconds", "duration", "duration_seconds")


def job_steps(out: Path) -> list[tuple[str, float, int]]:
    """(step, seconds, rc) lines written by guest/job.sh, in order."""
    rows = []
    path = out / "timings.tsv"
    if not path.is_file():
        return rows
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            try:
                rows.append((parts[0], float(parts[1]), int(parts[2])))
            except ValueError:
                continue
    return rows


def load_json(path: Path):
    """The JSON document at PATH, or None when missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _seconds(item: dict, prefix: str = "") -> float | None:
    for key in _SECONDS_KEYS:
        value = item.get(prefix + key)
        if isinstance(value, (int, float)):
            return float(value)
    return None


def loop_iterations(report) -> list[dict]:
    """The per-iteration records of an ``avcfix loop --json`` report (empty when absent)."""
    if isinstance(report, dict):
        its = report.get("iterations")
        if isinstance(its, list):
            return [it for it in its if isinstance(it, dict)]
    return []


def loop_rows(name: str, report) -> list[tuple[str, float]]:
    """One row per iteration, and one per install/step timing the report carries."""
    rows = []
    for i, it in enumerate(loop_iterations(report), 1):
        n = it.get("index", it.get("iteration", i))
        secs = _seconds(it)
        if secs is not None:
            rows.append((f"  {name} iteration {n}", secs))
        for key, value in sorted(it.items()):
            if isinstance(value, dict):
                sub = _seconds(value)
                if sub is not None:
                    rows.append((f"    {name} iteration {n}: {key}", sub))
            elif key.endswith("_seconds") and isinstance(value, (int, float)) and key not in _SECONDS_KEYS:
                rows.append((f"    {name} iteration {n}: {key[:-8]}", float(value)))
    return rows


def tool_runs(out: Path) -> list[tuple[str, float, int]]:
    """(command, seconds, rc) of every semodule/semanage run in the VM (guest/timed-tool.sh)."""
    rows = []
    path = out / "tool-times.tsv"
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            parts = line.rsplit("\t", 2)
            if len(parts) == 3:
                try:
                    rows.append((parts[0], float(parts[1]), int(parts[2])))
                except ValueError:
                    continue
    return rows


def timing_rows(image_timings, result: VmResult) -> list[tuple[str, float]]:
    """The whole table, in the order things happened."""
    rows = [(f"image: {step}" if not step.startswith("image") else step, secs)
            for step, secs in image_timings]
    rows.append((f"boot: QEMU start -> job running ({result.accel})", result.boot_seconds))
    for step, secs, rc in job_steps(result.out):
        rows.append((f"job: {step} (rc={rc})", secs))
        if step in ("loop", "loop-permissive", "loop-newdomain"):
            rows.extend(loop_rows(step, load_json(result.out / f"{step}.json")))
    for cmd, secs, rc in tool_runs(result.out):
        if not cmd.startswith(("semodule -l", "semanage port -l", "semanage permissive -l")):
            rows.append((f"tool: {cmd[:50]} (rc={rc})", secs))
    rows.append(("VM total: QEMU start -> QEMU gone", result.total_seconds))
    return rows
