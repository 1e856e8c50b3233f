"""Every ``--json`` document validates against its JSON Schema (docs/schema/, draft 2020-12).

The documents are the real outputs of each command, run in-process on the
shipped example (fixtures/eucanetd/audit.log), the reference policy with the
Eucalyptus fixture module (``euca_root``), a lab, and the corpus when present:
``why`` (without and with a policy, with skipped lines), ``build`` (raw and
refpolicy style, a failed module), ``build --new-domain`` (without log
sources), ``merge``, ``loop`` (a lab that needs a decision, ``--recover``)
and a bundle's ``denials.json`` and ``environment.json``. The fuzz test
(tests/test_fuzz_cli.py) validates its ``why`` and ``build`` documents too.

The schemas are strict (``additionalProperties: false`` and every key
required where the shape is fixed): ``test_schemas_catch_a_renamed_missing_or_extra_key``
renames, drops and adds a key in real documents and expects each to fail.
"""

from __future__ import annotations

import copy
import io
import json
import tarfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import json_schemas
import pytest

from avcfix.cli import main

PROJECT = Path(__file__).resolve().parents[2]
LOG = PROJECT / "fixtures" / "eucanetd" / "audit.log"

jsonschema = pytest.importorskip("jsonschema", reason="python3-jsonschema (make setup installs it)")


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue()


def doc_of(kind: str, *argv: str, exit_code: int = 0) -> dict:
    code, out = run(*argv)
    assert code == exit_code, out
    doc = json.loads(out)
    json_schemas.check(kind, doc)
    return doc


def test_every_schema_is_a_valid_draft_2020_12_schema():
    assert sorted(p.stem for p in json_schemas.SCHEMA_DIR.glob("*.json")) == sorted(json_schemas.KINDS)
    for kind in json_schemas.KINDS:
        json_schemas.validator(kind)  # check_schema raises when invalid


def test_why_documents(euca_policy, tmp_path):
    doc = doc_of("why", "why", str(LOG), "--json")
    assert doc["rules"] and all(r["reason"] == "no_policy" for r in doc["rules"])
    doc = doc_of("why", "why", str(LOG), "--json", "--policy", str(euca_policy))
    assert any(r["advice"] and r.get("object") for r in doc["rules"])
    noisy = tmp_path / "noisy.log"
    noisy.write_bytes(LOG.read_bytes() + b"garbage line\n\x00\xff binary\n")
    assert doc_of("why", "why", str(noisy), "--json")["skipped"]


def test_why_document_of_the_corpus(euca_policy, corpus_dir):
    """Every log of the shared corpus (all its formats) in one run."""
    logs = sorted(p for p in corpus_dir.rglob("*") if p.is_file() and p.name != "README.md"
                  and not p.name.endswith((".SOURCE.txt", ".audit2allow-noanalysis.txt")))
    doc = doc_of("why", "why", *map(str, logs), "--json", "--policy", str(euca_policy))
    assert len(doc["rules"]) > 100


def test_build_documents(euca_policy, tmp_path):
    doc = doc_of("build", "build", "eucanetd", str(LOG), "--policy", str(euca_policy),
                 "--out-dir", str(tmp_path / "raw"), "--json")
    assert doc["modules"][0]["left_out"] and not doc["failed"]
    doc = doc_of("build", "build", "eucanetd", str(LOG), "--policy", str(euca_policy), "--style", "refpolicy",
                 "--complete", "--out-dir", str(tmp_path / "ref"), "--json")
    assert doc["modules"][0]["refpolicy"] and doc["modules"][0]["completed"]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "eucanetd_local.te").write_text("module eucanetd_local 1.0;\nallow a b:file { read ;\n")
    doc = doc_of("build", "build", "eucanetd", str(LOG), "--policy", str(euca_policy), "--out-dir", str(bad),
                 "--json", exit_code=5)
    assert doc["failed"] and doc["failed"][0]["exit"] == 5


def test_build_new_domain_documents(tmp_path):
    doc = doc_of("build-new-domain", "build", "--new-domain", "tinyd", "--exec", "/usr/sbin/tinyd",
                 "--out-dir", str(tmp_path / "nd"), "--json")
    assert doc["new_domain"]["domain"] == "tinyd_t"
    # (with log sources it prints a build document, build.json; not run here: it
    # needs a log of tinyd_t denials and a policy that holds the skeleton)


def test_merge_document(tmp_path):
    a, b = tmp_path / "a.te", tmp_path / "b.te"
    a.write_text("module a 1.0;\nrequire { type x_t; type y_t; class file { read }; }\n"
                 "allow x_t y_t:file read;\n")
    b.write_text("allow x_t y_t:file write;\nallow x_t self:process signal;\n")
    doc = doc_of("merge", "merge", str(a), str(b), "-o", str(tmp_path / "m.te"), "--json")
    assert doc["added"] and doc["written"]


def test_loop_documents(lab_dir):
    doc = doc_of("loop", "loop", "--lab", "eucanetd-boolean", "--lab-dir", str(lab_dir), "--json",
                 exit_code=11)
    assert doc["outcome"] == "needs_decision" and doc["iterations"] and doc["decisions"]
    doc = doc_of("loop", "loop", "--recover", "--lab-dir", str(lab_dir), "--json")
    assert doc["outcome"] == "recovered"


def test_why_brief_document(euca_policy, corpus_dir):
    """--brief --format json: one object per group (the corpus: every reason, groups without advice)."""
    logs = sorted(p for p in corpus_dir.rglob("*.log") if p.is_file())
    code, out = run("why", str(LOG), *map(str, logs), "--brief", "--format", "json", "--policy", str(euca_policy))
    assert code == 0
    rows = json.loads(out)
    json_schemas.check("why-brief", rows)
    assert len(rows) > 100 and any(r["fix"] is None for r in rows) and any(r["fix"] for r in rows)
    bad = copy.deepcopy(rows)
    bad[0]["domain"] = bad[0].pop("source")
    assert json_schemas.errors("why-brief", bad)


def test_bundle_members(euca_policy, tmp_path):
    out = tmp_path / "bug.tar.gz"
    code, summary = run("bundle", str(LOG), "--policy", str(euca_policy), "-o", str(out), "--format", "json")
    assert code == 0
    doc = json.loads(summary)
    json_schemas.check("bundle", doc)
    assert doc["output"] == str(out) and doc["denials"] > 0
    del doc["missing_facts"]
    assert json_schemas.errors("bundle", doc)
    with tarfile.open(out) as tar:
        member = {Path(m.name).name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    json_schemas.check("why", json.loads(member["denials.json"]))
    json_schemas.check("bundle-environment", json.loads(member["environment.json"]))


def test_schemas_catch_a_renamed_missing_or_extra_key(euca_policy, tmp_path):
    why = doc_of("why", "why", str(LOG), "--json", "--policy", str(euca_policy))
    build = doc_of("build", "build", "eucanetd", str(LOG), "--policy", str(euca_policy),
                   "--out-dir", str(tmp_path), "--json")
    cases = [
        ("why", why, ["rules", 0], "reason", "reasons"),
        ("why", why, ["denials", 0], "tclass", "class"),
        ("why", why, ["rules", 0, "advice", 0], "command", "cmd"),
        ("why", why, ["stats"], "denials_total", "total"),
        ("build", build, ["modules", 0], "left_out", "leftout"),
        ("build", build, ["modules", 0, "commands", 0], "argv", "args"),
        ("build", build, [], "failed", "failures"),
    ]
    for kind, original, where, key, new in cases:
        renamed, missing, extra = (copy.deepcopy(original) for _ in range(3))
        for doc in (renamed, missing, extra):
            node = doc
            for step in where:
                node = node[step]
            if doc is renamed:
                node[new] = node.pop(key)
            elif doc is missing:
                del node[key]
            else:
                node[new] = node[key]
        for changed in (renamed, missing, extra):
            assert json_schemas.errors(kind, changed), (kind, where, key, new)
