"""Issue 2: "Use ``self`` nowhere in JSON: give the real type names."

Every JSON document avcfix prints (``why --json``, bundle's ``denials.json``,
``build --json``, ``merge --json``, loop reports) is walked whole, keys and
values, for the token ``self``. The ``.te`` modules keep writing ``self``
(issue 4). Also: the layers below the interface never import it.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from bundle_helpers import members

from avcfix.cli import main
from avcfix.looptypes.model import IterationReport, Phase
from avcfix.names.identifiers import default_module_name
from avcfix.policy.model import AvRule, NameSet, RuleKind
from avcfix.report.jsondoc import expand_self, rule_lines_json

PROJECT = Path(__file__).resolve().parents[2]
EUCA = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")

_SYSCALL = ("type=SYSCALL msg=audit({ts}:{serial}): arch=c000003e syscall={nr} success=no exit=-13 a0=3 a1=0 "
            "a2=0 a3=0 items=0 ppid=1 pid={pid} auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 "
            "sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"{comm}\" exe=\"/usr/bin/{comm}\" "
            "subj=system_u:system_r:{t}:s0 key=(null)")
_AVC = ("type=AVC msg=audit({ts}:{serial}): avc:  denied  {{ {perms} }} for  pid={pid} comm=\"{comm}\" {extra}"
        "scontext=system_u:system_r:{t}:s0 tcontext=system_u:system_r:{t}:s0 tclass={tclass} "
        "permissive={permissive}")

#: Self-target denials the reference policy explains in every way that gives a
#: rule: a narrower permission (dac_override -> dac_read_search), a plain missing
#: rule, a risky capability, an ioctl (allowxperm with --xperms), a boolean
#: (httpd_execmem) and a permissive-mode denial.
SELF_DENIALS = [
    ("dmesg_t", "dmesg", "capability", "dac_override", "capability=1 ", 0, 257),
    ("dmesg_t", "dmesg", "capability", "dac_read_search", "capability=2 ", 0, 257),
    ("dmesg_t", "dmesg", "udp_socket", "ioctl", 'path="socket:[1234]" ioctlcmd=0x8933 ', 0, 16),
    ("sshd_t", "sshd", "capability", "sys_rawio", "capability=17 ", 0, 175),
    ("httpd_t", "httpd", "process", "execmem", "", 0, 9),
    ("named_t", "named", "capability", "sys_admin", "capability=21 ", 1, 165),
]


def self_log(path: Path) -> Path:
    lines = []
    for i, (t, comm, tclass, perms, extra, permissive, nr) in enumerate(SELF_DENIALS):
        ts, serial, pid = f"{1700001000 + i}.100", 5001 + i, 100 + i
        lines.append(_AVC.format(ts=ts, serial=serial, perms=perms, pid=pid, comm=comm, extra=extra, t=t,
                                 tclass=tclass, permissive=permissive))
        lines.append(_SYSCALL.format(ts=ts, serial=serial, nr=nr, pid=pid, comm=comm, t=t))
    path.write_text("\n".join(lines) + "\n")
    return path


_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]+")


def self_tokens(doc: object, where: str = "$") -> list[str]:
    """Where the token ``self`` occurs in ``doc`` (keys and string values)."""
    out: list[str] = []
    if isinstance(doc, str):
        if "self" in _TOKEN_RE.findall(doc):
            out.append(f"{where}: {doc}")
    elif isinstance(doc, dict):
        for k, v in doc.items():
            out += self_tokens(k, f"{where} key")
            out += self_tokens(v, f"{where}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += self_tokens(v, f"{where}[{i}]")
    return out


def test_the_walker_finds_self():
    doc = {"rules": [{"advice": [{"command": "allow a_t self:capability chown;"}]}], "x": "itself, self-made"}
    assert self_tokens(doc) == ["$.rules[0].advice[0].command: allow a_t self:capability chown;"]


def _json(capsys, *argv: str) -> dict:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _commands(doc: dict) -> set[str]:
    return {a["command"] for r in doc["rules"] for a in r["advice"]}


def test_why_json_on_eucanetd_with_the_reference_policy(capsys, ref_policy):
    doc = _json(capsys, "why", "--json", "--policy", str(ref_policy), EUCA)
    assert self_tokens(doc) == []
    # agetty's capability2 denial is on its own domain: the rule names getty_t twice
    assert "allow getty_t getty_t:capability2 checkpoint_restore;" in _commands(doc)


def test_why_json_on_self_target_denials(capsys, ref_policy, tmp_path):
    log = self_log(tmp_path / "own-domain.log")
    doc = _json(capsys, "why", "--json", "--policy", str(ref_policy), str(log))
    assert all(r["source"] == r["target"] for r in doc["rules"]) and len(doc["rules"]) >= 6
    assert self_tokens(doc) == []
    kinds = {a["kind"] for r in doc["rules"] for a in r["advice"]}
    assert {"narrower_perm", "module", "boolean"} <= kinds
    assert {"allow dmesg_t dmesg_t:capability dac_read_search;",
            "allow sshd_t sshd_t:capability sys_rawio;",
            "allow named_t named_t:capability sys_admin;",
            "allow dmesg_t dmesg_t:udp_socket ioctl;"} <= _commands(doc)


def test_why_json_without_a_policy(capsys, tmp_path):
    log = self_log(tmp_path / "own-domain.log")
    for args in ((str(log),), (EUCA,)):
        doc = _json(capsys, "why", "--json", *args)  # no policy here: no_policy, module advice
        assert self_tokens(doc) == []
        assert any(a["kind"] == "module" for r in doc["rules"] for a in r["advice"])


def test_bundle_denials_json(capsys, ref_policy, tmp_path):
    log = self_log(tmp_path / "own-domain.log")
    out = tmp_path / "b.tar.gz"
    code = main(["bundle", str(log), "--policy", str(ref_policy), "-o", str(out)])
    capsys.readouterr()
    assert code == 0
    files = members(out.read_bytes())
    doc = json.loads(files["denials.json"])
    assert doc["rules"] and self_tokens(doc) == []
    assert self_tokens(json.loads(files["environment.json"])) == []
    # the modules in the bundle are .te text: they keep self
    assert "allow sshd_t self:capability sys_rawio;" in files["sshd_local.te"].decode()


def test_build_json_diff_names_the_types_and_the_te_keeps_self(capsys, ref_policy, tmp_path):
    log = self_log(tmp_path / "own-domain.log")
    out = tmp_path / "out"
    doc = _json(capsys, "build", "--all-domains", str(log), "--policy", str(ref_policy), "--xperms",
                "--out-dir", str(out), "--json")
    assert self_tokens(doc) == []
    diff = {line for m in doc["modules"] for line in m["diff"]}
    assert "+ allow dmesg_t dmesg_t:capability dac_read_search;" in diff
    assert "+ allowxperm dmesg_t dmesg_t:udp_socket ioctl { 0x8933 };" in diff
    assert "+ allow sshd_t sshd_t:capability sys_rawio;" in diff
    fixes = {(f["perms"][0], f["fix"]) for m in doc["modules"] for f in m["left_out"]}
    assert ("dac_override", "allow dmesg_t dmesg_t:capability dac_read_search;") in fixes
    te = (out / "dmesg_local.te").read_text()
    assert "allow dmesg_t self:capability dac_read_search;" in te
    assert "allowxperm dmesg_t self:udp_socket ioctl { 0x8933 };" in te
    assert all(m["compiled"] for m in doc["modules"] if m["pp"]) and (out / "dmesg_local.pp").is_file()


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
