"""``avcfix merge A.te B.te ... [-o OUT.te] [--name NAME]``: merge policy modules into one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from avcfix.cli.app import app, console_err
from avcfix.cli.output import OutputFormat, resolve_format
from avcfix.errors import InputError, UsageError
from avcfix.names.identifiers import identifier_problem, version_problem
from avcfix.policy.merge import merge_modules, rule_changes
from avcfix.policy.model import Module
from avcfix.policy.render import render_cil, render_te
from avcfix.policy.te_parse import parse_te
from avcfix.report.documents import write_document
from avcfix.report.jsondoc import rule_lines_json
from avcfix.toolchain.atomic import write_atomic

#: How many added rule lines are listed on stderr.
SHOW_ADDED = 40


def read_module(path: Path) -> Module:
    """Read and parse one ``.te`` file (``-`` is stdin)."""
    if str(path) == "-":
        return parse_te(sys.stdin.read(), "<stdin>")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a .te file") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_te(text, str(path))


def _check_options(name: str | None, version: str | None, output: Path | None) -> None:
    """Bad ``--name``, ``--version`` or ``-o`` values are usage errors (exit 2), found
    before any file is read."""
    if name is not None:
        problem = identifier_problem(name, "module")
        if problem:
            raise UsageError(f"--name {name!r}: not a valid module name: {problem}")
    if version is not None:
        problem = version_problem(version)
        if problem:
            raise UsageError(f"--version {version!r}: {problem}")
    if output is not None and output.suffix in (".te", ".cil"):
        # checkmodule and semodule name a module after its file: OUT.te must be a module name
        problem = identifier_problem(output.stem, "module")
        if problem:
            raise UsageError(f"-o {str(output)!r}: {output.stem!r} is not a valid module name "
                             f"(checkmodule and semodule name a module after its file): {problem}")


@app.command()
def merge(
    files: list[Path] = typer.Argument(..., metavar="FILE.te", help="Modules to merge (.te: audit2allow output, "
                                       "refpolicy modules, avcfix build output; '-' for stdin)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the merged module here "
                                          "(atomically; an unchanged file is not rewritten). Default: stdout."),
    name: Optional[str] = typer.Option(None, "--name", help="Module name (default: the first file's)."),
    version: Optional[str] = typer.Option(None, "--version", help="Module version (default: the first file's)."),
    cil: bool = typer.Option(False, "--cil", help="Write CIL instead of .te."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout (needs -o; --format json)."),
    fmt: Optional[OutputFormat] = typer.Option(None, "--format", help="json: as --json. rich, text: the "
                                               "module on stdout (or in -o), the summary on stderr."),
) -> None:
    """Merge .te modules into one: rules deduplicated, permissions unioned, requires recomputed."""
    as_json = resolve_format(fmt, as_json) == "json"
    if as_json and output is None:
        raise UsageError("--json prints a summary: give -o OUT to write the module to a file")
    _check_options(name, version, output)
    modules = [read_module(path) for path in files]
    merged = merge_modules(modules, name=name, version=version)
    text = render_cil(merged) if cil else render_te(merged)

    written = False
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            old = output.read_text(encoding="utf-8") if output.is_file() else None
        except OSError:
            old = None
        if old != text:
            try:
                write_atomic(output, text)
            except OSError as exc:
                raise InputError(f"{output}: cannot write: {exc.strerror or exc}") from None
            written = True

    rules_in = sum(len(m.rules) for m in modules)
    added = list(rule_changes(merge_modules(modules[:1]), merged).added)
    summary: dict[str, object] = {
        "module": merged.name,
        "version": merged.version,
        "format": "cil" if cil else "te",
        "inputs": [str(p) for p in files],
        "output": str(output) if output is not None else None,
        "written": written,
        "rules_in": rules_in,
        "rules": len(merged.rules),
        "added": added,
    }
    if as_json:
        doc = dict(summary, added=rule_lines_json(added, merged.attribute_names))  # JSON never says self
        write_document(doc)
        return
    where = f" -> {output}" + ("" if written else " (unchanged)") if output is not None else ""
    console_err.print(
        f"avcfix: merged {len(modules)} module{'s' if len(modules) != 1 else ''}: "
        f"{rules_in} rules in, {len(merged.rules)} out{where}",
        markup=False, highlight=False,
    )
    if len(modules) > 1 and added:
        console_err.print(f"rules not in {files[0]}:", markup=False, highlight=False)
        for line in added[:SHOW_ADDED]:
            console_err.print(f"  + {line}", markup=False, highlight=False, soft_wrap=True)
        if len(added) > SHOW_ADDED:
            console_err.print(f"  ... and {len(added) - SHOW_ADDED} more", markup=False, highlight=False)
