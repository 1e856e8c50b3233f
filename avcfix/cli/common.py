"""Helpers shared by subcommands that read audit logs (typer/rich side)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.markup import escape

from avcfix.audit.api import Filters, Progress, ScanStats
from avcfix.audit.model import Skipped
from avcfix.errors import AvcfixError, ExitCode, InputError
from avcfix.text import visible

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from avcfix.cli.app import LazyConsole

#: The log read when no source is given.
DEFAULT_LOG = "/var/log/audit/audit.log"

#: How many skipped lines are shown with file:line on stderr.
SHOW_SKIPPED = 5


class StrictError(AvcfixError):
    """``--strict`` was given and some input lines were skipped."""

    exit_code = ExitCode.STRICT


def default_sources(sources: list[str] | None) -> list[str]:
    """The sources to read: those given, or the system audit log."""
    return list(sources) if sources else [DEFAULT_LOG]


def explain_default_source_error(sources: list[str] | None, exc: InputError) -> InputError:
    """A clearer message when the default audit log cannot be read."""
    if sources:
        return exc
    return InputError(
        f"{exc} - avcfix reads {DEFAULT_LOG} by default: run it as root, "
        "or pass log files (or '-' for stdin), e.g. avcfix why /tmp/audit.log"
    )


def markup_text(text: object) -> str:
    """Text from files or logs, safe in rich markup: control characters shown, brackets escaped."""
    return escape(visible(text))


def make_filters(domain: str | None, comm: str | None, since: str | None, until: str | None,
                 now: float | None = None) -> Filters:
    """Resolve the filter options (time specs via :mod:`avcfix.audit.timespec`)."""
    from avcfix.audit.timespec import parse_time_spec
    from avcfix.system.boottime import read_boot_time

    now = time.time() if now is None else now
    boot = read_boot_time() if "boot" in ((since or "") + (until or "")).lower() else None
    lo = parse_time_spec(since, now=now, boot_time=boot) if since else None
    hi = parse_time_spec(until, now=now, boot_time=boot, end=True) if until else None
    return Filters(domain=domain or None, comm=comm or None, since=lo, until=hi)


def report_skipped(stats: ScanStats, console: Console | LazyConsole, strict: bool) -> None:
    """Tell stderr how many lines were skipped (first few with file:line)."""
    if not stats.skipped_lines:
        return
    n = stats.skipped_lines
    console.print(
        f"avcfix: skipped {n} line{'s' if n != 1 else ''} that {'are' if n != 1 else 'is'} "
        "not (complete) audit records" + (":" if stats.skipped else ""),
        markup=False, highlight=False,
    )
    item: Skipped
    for item in stats.skipped[:SHOW_SKIPPED]:
        excerpt = f": {visible(item.excerpt)}" if item.excerpt else ""
        console.print(f"  {visible(item.source)}:{item.line}: {item.reason}{excerpt}",
                      markup=False, highlight=False, soft_wrap=True)
    if n > SHOW_SKIPPED:
        console.print(f"  ... and {n - min(SHOW_SKIPPED, len(stats.skipped))} more", markup=False)
    if strict:
        raise StrictError(f"--strict: {n} input line{'s' if n != 1 else ''} skipped")


@contextmanager
def progress_reporter(console: Console | LazyConsole, enabled: bool) -> Iterator[Progress | None]:
    """A rich progress bar on stderr (only when it is a terminal)."""
    may_be = getattr(console, "may_be_terminal", None)  # a LazyConsole answers without rich
    if not enabled or (may_be is not None and not may_be()) or not console.is_terminal:
        yield None
        return
    from rich.console import Console as RichConsole
    from rich.progress import BarColumn, DownloadColumn, TextColumn
    from rich.progress import Progress as RichProgress

    real = console if isinstance(console, RichConsole) else console.real  # a LazyConsole's Console
    # rich's live display would take over sys.stdout (and stderr) while it
    # runs: a document written to a redirected stdout would land on the terminal.
    with RichProgress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                      console=real, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        tasks: dict[str, TaskID] = {}

        def update(name: str, done: int, total: int | None) -> None:
            task = tasks.get(name)
            if task is None:
                task = tasks[name] = bar.add_task(visible(name)[-40:], total=total)
            bar.update(task, completed=done)

        yield update


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
