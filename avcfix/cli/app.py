"""The typer application and the options shared by several subcommands."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="avcfix",
    help="Triage SELinux AVC denials and build the policy that fixes them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Human output goes to stdout; diagnostics and progress go to stderr.
console = Console(highlight=False)
console_err = Console(stderr=True, highlight=False)


@app.callback()
def _root() -> None:
    """avcfix: why, build, merge, loop, bundle."""
