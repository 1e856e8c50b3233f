"""The SELinux identifier check, cross-checked against the real checkmodule (the
pure tests: tests/unit/test_policy_identifiers.py)."""

from __future__ import annotations

import pytest
from policy_helpers import need_tools

from avcfix import proc


@pytest.mark.parametrize("name", ["x.y_t", "my-type_t", "A1", "abc123"])
def test_checkmodule_accepts_what_we_accept(tmp_path, name: str) -> None:
    """The grammar agrees with checkpolicy's lexer on names we let through.
    (A dotted name is a child type: checkpolicy wants its parent too.)"""
    need_tools("checkmodule")
    te = tmp_path / "idcheck.te"
    parent = f"type {name.split('.')[0]}; " if "." in name else ""
    te.write_text(f"module idcheck 1.0;\nrequire {{ {parent}type {name}; class file read; }}\n"
                  f"allow {name} self:file read;\n")
    res = proc.run(["checkmodule", "-M", "-m", "-o", str(tmp_path / "idcheck.mod"), str(te)])
    assert res.ok, res.stderr


@pytest.mark.parametrize("name", ["1abc", "a..b", "a.", "_t"])
def test_checkmodule_rejects_what_we_reject(tmp_path, name: str) -> None:
    need_tools("checkmodule")
    te = tmp_path / "idcheck.te"
    te.write_text(f"module idcheck 1.0;\nrequire {{ type {name}; class file read; }}\nallow {name} self:file read;\n")
    res = proc.run(["checkmodule", "-M", "-m", "-o", str(tmp_path / "idcheck.mod"), str(te)])
    assert not res.ok
