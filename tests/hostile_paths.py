"""Hostile file paths (quotes, a space and a tab, ``$(...)``, backticks, ``;|>``) for the
command tests of both tiers (tests/unit/test_explain_commands.py, tests/integration/test_explain_commands_tools.py)."""

from __future__ import annotations

HOSTILE = [
    "/var/lib/app/x'; rm -rf / #",
    "/var/lib/app/$(reboot)",
    "/var/lib/app/`id`",
    "/var/lib/app/a b\tc",
    "/var/lib/app/\"quoted\" && echo",
    "/var/lib/app/semi;colon|pipe>redir",
]
