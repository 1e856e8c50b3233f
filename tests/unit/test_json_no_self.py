"""Issue 2: "Use ``self`` nowhere in JSON: give the real type names."

Every JSON document avcfix prints (``why --json``, bundle's ``denials.json``,
``build --json``, ``merge --json``, loop reports) is walked whole, keys and
values, for the token ``self``. The ``.te`` modules keep writing ``self``
(issue 4). Also: the layers below the interface never import it. (The
documents made with the reference policy: tests/integration/test_json_no_self_tools.py.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from json_self_helpers import EUCA, PROJECT, _json, self_log, self_tokens

from avcfix.looptypes.model import IterationReport, Phase
from avcfix.names.identifiers import default_module_name
from avcfix.policy.model import AvRule, NameSet, RuleKind
from avcfix.report.jsondoc import expand_self, rule_lines_json


def test_the_walker_finds_self():
    doc = {"rules": [{"advice": [{"command": "allow a_t self:capability chown;"}]}], "x": "itself, self-made"}
    assert self_tokens(doc) == ["$.rules[0].advice[0].command: allow a_t self:capability chown;"]


def test_why_json_without_a_policy(capsys, tmp_path):
    log = self_log(tmp_path / "own-domain.log")
    for args in ((str(log),), (EUCA,)):
        doc = _json(capsys, "why", "--json", *args)  # no policy here: no_policy, module advice
        assert self_tokens(doc) == []
        assert any(a["kind"] == "module" for r in doc["rules"] for a in r["advice"])


def test_merge_json_added(capsys, tmp_path):
    a = tmp_path / "a.te"
    b = tmp_path / "b.te"
    a.write_text("module m 1.0;\nrequire { type a_t; class file read; }\nallow a_t self:file read;\n")
    b.write_text("module m 1.0;\nrequire { type a_t; class file write; }\nallow a_t self:file write;\n")
    doc = _json(capsys, "merge", str(a), str(b), "-o", str(tmp_path / "m.te"), "--json")
    assert doc["added"] == ["allow a_t a_t:file { read write };"]
    assert self_tokens(doc) == []
    assert "allow a_t self:file { read write };" in (tmp_path / "m.te").read_text()


def test_loop_report_rules_added():
    it = IterationReport(1, Phase.ENFORCING, False, "failed", (),
                         rules_added=("+ allow a_t self:capability chown;", "+ allow a_t b_t:file read;"))
    assert it.to_json()["rules_added"] == ["+ allow a_t a_t:capability chown;", "+ allow a_t b_t:file read;"]


@pytest.mark.parametrize("line, expected", [
    ("+ allow a_t self:capability { chown fowner };", ["+ allow a_t a_t:capability { chown fowner };"]),
    ("- allow { a_t b_t } { self c_t }:file read;",
     ["- allow a_t { a_t c_t }:file read;", "- allow b_t { b_t c_t }:file read;"]),
    ("allowxperm a_t self:tcp_socket ioctl { 0x8910 };", ["allowxperm a_t a_t:tcp_socket ioctl { 0x8910 };"]),
    ("dontaudit a_t ~{ self }:process signal;", ["dontaudit a_t ~a_t:process signal;"]),
    ("allow a_t myself_t:file read;", ["allow a_t myself_t:file read;"]),
    ("allow a_t b_t:file read;", ["allow a_t b_t:file read;"]),
    ("not a rule: self", ["not a rule: self"]),
])
def test_rule_lines_json(line, expected):
    assert rule_lines_json([line]) == expected


def test_self_on_an_attribute_or_a_star_is_kept():
    """``allow domain self`` is not ``allow domain domain``: without the policy it
    cannot be written out, so such a (hand-written) rule is kept as written."""
    assert rule_lines_json(["allow dom_attr self:file read;"], {"dom_attr"}) == ["allow dom_attr self:file read;"]
    star = AvRule(RuleKind.ALLOW, NameSet(star=True), NameSet.of("self"), NameSet.of("file"), NameSet.of("read"))
    assert expand_self(star) == (star,)


def test_one_module_name_rule_for_build_and_bundle():
    from avcfix.bundle import collect
    from avcfix.cli import build

    assert build.default_module_name is default_module_name
    assert collect.default_module_name is default_module_name
    assert not hasattr(collect, "domain_module_name")


#: Packages below the interface layer (cli/, ui/): they never import it.
LOWER = ("audit", "policy", "explain", "report", "toolchain", "system", "loop", "bundle", "lab")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_lower_layers_do_not_import_the_interface():
    bad = []
    files = [PROJECT / "avcfix" / "builder.py", PROJECT / "avcfix" / "proc.py", PROJECT / "avcfix" / "errors.py"]
    for pkg in LOWER:
        files += sorted((PROJECT / "avcfix" / pkg).rglob("*.py"))
    for f in files:
        for mod in _imports(f):
            if mod.split(".")[:2] in (["avcfix", "cli"], ["avcfix", "ui"]):
                bad.append(f"{f.relative_to(PROJECT)} imports {mod}")
    assert bad == []
