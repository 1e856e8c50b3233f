"""The typer application and the options shared by several subcommands."""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

import typer

from avcfix.cli.output import colour_allowed

app = typer.Typer(
    name="avcfix",
    help="Triage SELinux AVC denials and build the policy that fixes them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

class LazyConsole:
    """A ``rich.console.Console`` made on first use: ``avcfix why --json``
    on a clean log never needs rich, which takes a sixth of the start-up."""

    def __init__(self, **options: Any) -> None:
        self._base = dict(options)
        self._options = options
        self._console: Any = None

    @property
    def real(self) -> Any:
        """The Console itself (for APIs that want the object)."""
        if self._console is None:
            from rich.console import Console

            class _Console(Console):
                def on_broken_pipe(self) -> None:
                    # rich's own answer is SystemExit(1); avcfix's main() turns
                    # this into its documented exit (141, CLOSED_PIPE)
                    self.quiet = True
                    raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")

            options = dict(self._options)
            if not colour_allowed():  # NO_COLOR, TERM=dumb (rich knows NO_COLOR too; older rich not)
                options.setdefault("no_color", True)
            if options.get("stderr") and not _isatty(sys.stderr):
                options.setdefault("soft_wrap", True)  # status lines in a log file: not cut at 80 columns
            self._console = _Console(**options)
        return self._console

    def configure(self, **options: Any) -> None:
        """The Console's options: those it was made with, updated with
        ``options`` (a Console already made is made again on next use)."""
        self._options = {**self._base, **options}
        self._console = None

    def may_be_terminal(self) -> bool:
        """False when this console surely is not a terminal, answered without
        making it (and importing rich) when it is not made yet."""
        if self._console is not None:
            return True
        stream = sys.stderr if self._options.get("stderr") else sys.stdout
        forced = any(os.environ.get(v) for v in ("FORCE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE"))
        return forced or bool(getattr(stream, "isatty", lambda: False)())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


#: Human output goes to stdout; diagnostics and progress go to stderr.
console: Any = LazyConsole(highlight=False)
console_err: Any = LazyConsole(stderr=True, highlight=False)


def _show_version(value: bool) -> None:
    if value:
        from avcfix.cli.version import version_text

        sys.stdout.write(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                 help="Print the version, the C accelerators' state and the SELinux "
                                 "libraries' versions, and exit."),
) -> None:
    """avcfix: why, build, merge, loop, bundle."""
