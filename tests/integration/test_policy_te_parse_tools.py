"""The .te grammar: a parsed and rendered module compiles with the real checkmodule
(the pure tests: tests/unit/test_policy_te_parse.py)."""

from __future__ import annotations

from pathlib import Path

from policy_data import TE_DATA
from policy_helpers import compile_te

from avcfix.policy.render import render_te
from avcfix.policy.te_parse import parse_te


def test_rendered_module_compiles(tmp_path: Path) -> None:
    m = parse_te((TE_DATA / "a2a_multi.te").read_text(), "a2a_multi.te")
    compile_te(render_te(m), "a2a_multi", tmp_path)
