"""The command line (typer). Each subcommand lives in its own module and
registers itself on :data:`app`; business logic stays out of this package."""

from __future__ import annotations

import os
import sys

from avcfix.cli.app import app, console_err
from avcfix.errors import AvcfixError, ExitCode

# Subcommand modules register themselves on import.
from avcfix.cli import why as _why  # noqa: F401,E402
from avcfix.cli import merge as _merge  # noqa: F401,E402
from avcfix.cli import build as _build  # noqa: F401,E402
from avcfix.cli import loop as _loop  # noqa: F401,E402
from avcfix.cli import bundle as _bundle  # noqa: F401,E402


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: never shows a traceback for expected errors."""
    try:
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
    except SystemExit as exc:  # typer/click exits
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
        if isinstance(exc, click.exceptions.Abort):
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


def entry() -> None:
    sys.exit(main())
