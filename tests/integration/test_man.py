"""The man pages (man/*.scd, rendered by ``make man`` with scdoc) against the CLI.

Each page is rendered by the real ``make man`` into a temporary directory and
read as a user reads it: ``MANWIDTH=80 man -l PAGE | col -b`` (groff). Then:

- every command of the click tree (``typer.main.get_command(app)``, all
  subcommands registered) has its page, ``avcfix.8`` for the root;
- every option string of a command (``--json``, ``-d``, ``--no-mls``...)
  appears in the OPTIONS section of that command's page;
- every page has the sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT
  STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO;
- every exit code of the table in docs/exit-codes.md is in the EXIT STATUS
  section of ``avcfix.8``, and every code a command's page lists is in it;
- every environment variable the code reads (an ``"AVCFIX_..."``,
  ``XDG_...``, ``NO_COLOR``, ``FORCE_TERMINAL``, ``TTY_...`` string literal
  under avcfix/) is in the ENVIRONMENT section of ``avcfix.8``;
- ``avcfix.8``'s SEE ALSO names the tools avcfix is compared with.

How the expected answers were checked: the option lists are the CLI's own
(click's parameter objects), the exit codes are the ones the fuzz test reads
(tests/test_fuzz_cli.py reads the same table), the text is groff's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from avcfix.cli import load_commands
from avcfix.cli.app import app

PROJECT = Path(__file__).resolve().parents[2]
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES",
            "EXAMPLES", "SEE ALSO")
SEE_ALSO = ("audit2allow(1)", "audit2why(1)", "ausearch(8)", "semodule(8)", "sealert(8)", "udica(8)",
            "sepolicy-generate(8)")

pytestmark = pytest.mark.skipif(not (shutil.which("scdoc") and shutil.which("man") and shutil.which("col")),
                                reason="scdoc, man or col missing (make setup installs them)")


def command_tree() -> dict[str, object]:
    """Page name -> click command: ``avcfix`` for the root, ``avcfix-why``..."""
    load_commands([])  # register every subcommand, as --help does
    root = typer.main.get_command(app)
    pages = {"avcfix": root}
    for name, sub in getattr(root, "commands", {}).items():
        pages[f"avcfix-{name}"] = sub
    return pages


def option_strings(command) -> list[str]:
    """Every option string of a command (arguments have none), --help included."""
    found = []
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option":
            found += list(param.opts) + list(param.secondary_opts)
    return found + ["--help"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    """Page name -> its text as ``man -l`` shows it at 80 columns."""
    out = tmp_path_factory.mktemp("man")
    subprocess.run(["make", "-s", "-C", str(PROJECT), "man", f"MAN_DIR={out}"], check=True,
                   env={**os.environ, "MAKEFLAGS": ""}, stdout=subprocess.DEVNULL)
    pages = {}
    for page in sorted(out.glob("*.8")):
        man = subprocess.run(["man", "-l", str(page)], check=True, capture_output=True,
                             env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "", "LC_ALL": "C.UTF-8"})
        text = subprocess.run(["col", "-b"], input=man.stdout, check=True, capture_output=True).stdout.decode()
        pages[page.name[: -len(".8")]] = normalise(text)
    return pages


def normalise(text: str) -> str:
    """groff's hyphens and minus signs as ASCII; words hyphenated at a line end joined."""
    text = text.replace("\u2010", "-").replace("\u2212", "-").replace("\u2011", "-")
    return re.sub(r"(?<=\w)-\n\s+(?=\w)", "", text)


def section(text: str, name: str) -> str:
    """The body of a section: from its heading (a line of its own at column 0) to the next."""
    match = re.search(rf"^{re.escape(name)}\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no {name} section"
    return match.group(1)


def mentions(text: str, token: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def documented_exit_codes() -> set[int]:
    doc = (PROJECT / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    table = doc.split("\n## ", 1)[0]
    return {int(code) for code in re.findall(r"^\| *(\d+) *\|", table, re.MULTILINE)}


def listed_codes(text: str) -> set[int]:
    """The codes an EXIT STATUS section lists: each is a line holding only the number."""
    return {int(code) for code in re.findall(r"^\s+(\d+)\s*$", text, re.MULTILINE)}


def test_every_command_has_a_page_and_every_page_a_command(rendered):
    assert set(rendered) == set(command_tree())


@pytest.mark.parametrize("page", sorted(command_tree()))
def test_page_has_every_section(rendered, page):
    text = rendered[page]
    for name in SECTIONS:
        assert re.search(rf"^{name}$", text, re.MULTILINE), f"{page}: no {name} section"
    assert mentions(section(text, "NAME"), page)


@pytest.mark.parametrize("page", sorted(command_tree()))
def test_every_option_of_the_cli_is_in_its_page(rendered, page):
    options = section(rendered[page], "OPTIONS")
    missing = [opt for opt in option_strings(command_tree()[page]) if not mentions(options, opt)]
    assert not missing, f"{page}.8 OPTIONS lacks {missing}"


def test_exit_status_lists_every_documented_code(rendered):
    table = documented_exit_codes()
    assert {0, 1, 2, 13, 130, 141} <= table  # the table was read
    assert listed_codes(section(rendered["avcfix"], "EXIT STATUS")) == table
    for page, text in rendered.items():
        codes = listed_codes(section(text, "EXIT STATUS"))
        assert codes, f"{page}: EXIT STATUS lists no code"
        assert codes <= table, f"{page}: {sorted(codes - table)} not in docs/exit-codes.md"


def test_environment_names_every_variable_the_code_reads(rendered):
    pattern = re.compile(r'"((?:AVCFIX|XDG|TTY)_[A-Z_]+|NO_COLOR|FORCE_TERMINAL)"')
    names = set()
    for path in (PROJECT / "avcfix").rglob("*.py"):
        names |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert {"AVCFIX_CACHE_DIR", "AVCFIX_FACTS", "AVCFIX_INDEX_CACHE"} <= names  # the scan works
    names.discard("AVCFIX_TEST_KILL_AT")  # a crash-test hook: in avcfix-loop(8) only
    everywhere = " ".join(section(text, "ENVIRONMENT") for text in rendered.values())
    assert mentions(everywhere, "AVCFIX_TEST_KILL_AT")
    environment = section(rendered["avcfix"], "ENVIRONMENT")
    missing = sorted(n for n in names | {"NO_COLOR"} if not mentions(environment, n))
    assert not missing, f"avcfix.8 ENVIRONMENT lacks {missing}"


def test_see_also_names_the_tools_avcfix_is_compared_with(rendered):
    see_also = re.sub(r"\s+", "", section(rendered["avcfix"], "SEE ALSO"))
    for page in command_tree():
        if page != "avcfix":
            assert f"{page}(8)" in see_also
    for tool in SEE_ALSO:
        assert tool in see_also, tool
