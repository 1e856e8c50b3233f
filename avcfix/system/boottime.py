"""The machine's boot time, for ``--since boot`` (reads /proc/stat)."""

from __future__ import annotations

from pathlib import Path

PROC_STAT = Path("/proc/stat")


def read_boot_time(stat: Path = PROC_STAT) -> float | None:
    """Epoch seconds at which the system booted (the ``btime`` line), or ``None``.

    ``None`` when the file is missing or unreadable or has no valid ``btime``
    line (containers without /proc, other kernels); never raises for that.
    """
    try:
        with stat.open("rb") as fh:
            for raw in fh:
                if raw.startswith(b"btime "):
                    value = raw[6:].strip()
                    return float(int(value)) if value.isdigit() else None
    except OSError:
        return None
    return None
