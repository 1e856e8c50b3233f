"""The command line (typer). Each subcommand lives in its own module and
registers itself on :data:`app`; business logic stays out of this package."""

from __future__ import annotations

import importlib
import os
import sys

from avcfix.cli.app import app, console_err
from avcfix.errors import AvcfixError, ExitCode

#: Subcommand -> the module that registers it on :data:`app` when imported.
#: Only the module of the command being run is imported (``avcfix why`` does
#: not pay for the policy grammar, the toolchain or the loop); ``--help`` and
#: unknown commands import them all, in this order (the order of ``--help``).
COMMANDS = {
    "why": "avcfix.cli.why",
    "merge": "avcfix.cli.merge",
    "build": "avcfix.cli.build",
    "loop": "avcfix.cli.loop",
    "bundle": "avcfix.cli.bundle",
}


def command_name(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names: its first non-option."""
    return next((a for a in argv if not a.startswith("-")), None)


def load_commands(argv: list[str]) -> None:
    """Register the subcommand named by ``argv``, or all of them."""
    first = command_name(argv)
    if first is None and "--version" in argv and "--help" not in argv:
        return  # the root's option: no subcommand needed
    names = [COMMANDS[first]] if first in COMMANDS else list(COMMANDS.values())
    for name in names:
        importlib.import_module(name)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: never shows a traceback for expected errors."""
    try:
        load_commands(sys.argv[1:] if argv is None else argv)
        app(args=argv, prog_name="avcfix", standalone_mode=False)
    except AvcfixError as exc:
        from rich.markup import escape

        # The message may quote input text ('[', '[/]'...): never markup; never
        # re-wrapped (carets under .te lines must stay aligned).
        console_err.print(f"[bold red]avcfix:[/] {escape(str(exc))}", highlight=False, markup=True,
                          soft_wrap=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        console_err.print("avcfix: interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return _closed_pipe()
    except SystemExit as exc:  # typer/click exits
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # click's exit(1) on EPIPE
            return _closed_pipe()
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else int(ExitCode.USAGE))
    except Exception as exc:  # a click usage error or a bug
        try:
            import click
        except ImportError:  # typer >= 0.16 vendors click as typer._click
            from typer import _click as click  # type: ignore[no-redef]

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return int(ExitCode.USAGE)
        # Not every click has Abort (typer 0.29's vendored copy has not).
        abort = getattr(click.exceptions, "Abort", None) or getattr(click, "Abort", None)
        if abort is not None and isinstance(exc, abort):
            console_err.print("avcfix: aborted")
            return int(ExitCode.INTERRUPTED)
        if os.environ.get("AVCFIX_DEBUG"):
            raise
        console_err.print(
            f"avcfix: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug; rerun with AVCFIX_DEBUG=1 for the traceback and report it.",
            markup=False,
        )
        return int(ExitCode.INTERNAL)
    return 0


#: Commands that only read and print: after them the process ends without
#: Python's teardown (freeing every object and module: 15-25 ms after a big
#: ``why``), as mypy does. Commands that write files keep the full exit.
HARD_EXIT = frozenset({"why"})


def _closed_pipe() -> int:
    """stdout's reader went away (``| head``): no message, no traceback at exit.

    Whatever is still buffered for stdout is dropped (pointing the descriptor
    at /dev/null keeps the final flush from raising again)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real descriptor (tests capture stdout)
        pass
    return int(ExitCode.CLOSED_PIPE)


def entry() -> None:
    code = main()
    if command_name(sys.argv[1:]) in HARD_EXIT:
        hard_exit(code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = code or _closed_pipe()
    sys.exit(code)


def hard_exit(code: int) -> None:
    """Run the atexit handlers, flush stdout and stderr, and end the process
    at once (``os._exit``). A failed flush (a closed pipe) ends with 1."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            code = code or _closed_pipe()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)
