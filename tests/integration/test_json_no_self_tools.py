"""Issue 2: "Use ``self`` nowhere in JSON: give the real type names."

Every JSON document avcfix prints (``why --json``, bundle's ``denials.json``,
``build --json``, ``merge --json``, loop reports) is walked whole, keys and
values, for the token ``self``. The ``.te`` modules keep writing ``self``
(issue 4). Here: the documents made with the reference policy (``why``, ``bundle``,
``build``); the rest is in tests/unit/test_json_no_self.py.
"""

from __future__ import annotations

import json

from bundle_helpers import members
from json_self_helpers import EUCA, _json, self_log, self_tokens

from avcfix.cli import main


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
