"""How a command prints: ``--format rich|text|json`` (``--json`` is short for
``--format json``), and the consoles set up for the chosen format.

* ``rich``: boxes, colour (unless ``NO_COLOR`` is set or ``TERM=dumb``),
  wrapped to the terminal. The default when stdout is a terminal.
* ``text``: no boxes, no colour, no wrapping; one finding per block, every
  line names what it is about (grep-able). The default otherwise
  (``avcfix why LOG | grep``, ``> file``).
* ``json``: the command's JSON document (docs/cli.md, docs/json.md).

Reference: docs/cli.md.
"""

from __future__ import annotations

import enum
import os
import sys

from avcfix.errors import UsageError


class OutputFormat(str, enum.Enum):
    rich = "rich"
    text = "text"
    json = "json"


#: The help of every ``--format`` option.
FORMAT_HELP = ("Output: rich (boxes, colour), text (plain, one finding per block, no wrapping: "
               "grep-able) or json. Default: rich on a terminal, else text.")


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal, or rich is told to treat it as one
    (``TTY_COMPATIBLE=1``, ``FORCE_COLOR``, https://force-color.org; ``TTY_COMPATIBLE=0``: not)."""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    if os.environ.get("FORCE_COLOR") or os.environ.get("FORCE_TERMINAL"):
        return True
    try:
        return bool(sys.stdout.isatty())
    except (AttributeError, ValueError):
        return False


def colour_allowed() -> bool:
    """False when the user said no colour: ``NO_COLOR`` (any non-empty value,
    https://no-color.org) or ``TERM=dumb``."""
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM", "") != "dumb"


def resolve_format(fmt: OutputFormat | str | None, as_json: bool = False,
                   allowed: tuple[str, ...] = ("rich", "text", "json")) -> str:
    """The format a command prints in: ``--json`` is ``--format json``; no
    option is rich on a terminal, text otherwise."""
    value = fmt.value if isinstance(fmt, OutputFormat) else fmt
    if as_json:
        if value not in (None, "json"):
            raise UsageError(f"--json is --format json: it does not go with --format {value}")
        value = "json"
    if value is None:
        value = "rich" if stdout_is_terminal() else "text"
    if value not in allowed:
        raise UsageError(f"--format {value}: this command prints {' or '.join(allowed)}")
    use_format(value)
    return value


def use_format(value: str) -> None:
    """Set up the stdout console for ``value`` (before anything is printed)."""
    from avcfix.cli.app import console

    if value == "text":
        # plain: no colour or style codes, no wrapping, no emoji, no markup highlighting
        console.configure(color_system=None, no_color=True, soft_wrap=True, emoji=False, highlight=False,
                          width=1 << 14)
    else:
        console.configure()
