"""The project's one subprocess wrapper.

Every external command avcfix runs goes through :func:`run`: an argv list
(never a shell string), a timeout, and a :class:`Result` that errors carry and
bundles record. A :class:`Recorder` passed in collects every result, so a bug
report can say exactly what was run.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from avcfix.errors import ToolError


@dataclass(frozen=True, slots=True)
class Result:
    """What one command did."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        """One line: the argv and the exit code."""
        return f"{' '.join(self.argv)} -> exit {self.returncode} ({self.seconds:.2f}s)"


@dataclass(slots=True)
class Recorder:
    """Collects the :class:`Result` of every command run with it."""

    results: list[Result] = field(default_factory=list)

    def __call__(self, result: Result) -> None:
        self.results.append(result)


#: Exit code given to a command that could not be started (like a shell's 127).
NOT_FOUND = 127
#: Exit code given to a command killed by the timeout.
TIMED_OUT = 124


def run(
    argv: Sequence[str],
    *,
    timeout: float = 300.0,
    check: bool = False,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    record: Callable[[Result], None] | None = None,
) -> Result:
    """Run ``argv`` (a list, never a shell string) and return its :class:`Result`.

    A missing program gives returncode 127 and a timeout 124 instead of an
    exception, so callers can treat every failure the same way. With
    ``check=True`` a non-zero exit raises :class:`ToolError` carrying the result.
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError("proc.run takes an argv list, never a shell string")
    args = tuple(str(a) for a in argv)
    full_env = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    start = time.monotonic()
    try:
        cp = subprocess.run(
            args,
            input=input,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=full_env,
            cwd=cwd,
            check=False,
        )
        result = Result(args, cp.returncode, cp.stdout, cp.stderr, time.monotonic() - start)
    except FileNotFoundError as exc:
        result = Result(args, NOT_FOUND, "", str(exc), time.monotonic() - start)
    except PermissionError as exc:
        result = Result(args, NOT_FOUND, "", str(exc), time.monotonic() - start)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        result = Result(args, TIMED_OUT, out, err + f"\ntimed out after {timeout}s", time.monotonic() - start)
    if record is not None:
        record(result)
    if check and not result.ok:
        raise ToolError(f"{args[0]} failed (exit {result.returncode}): {result.stderr.strip()[:2000]}", result)
    return result
