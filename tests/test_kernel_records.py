"""Real kernel records (tests/data/kernel): each fixture scans into exactly the denial(s) it claims.

The fixtures were written by a real kernel (Debian 12, 6.1, reference policy enforcing) in the
e2e VM by ``make capture-kernel`` (tests/e2e/capture_kernel.py; see tests/data/kernel/README.md).
Every ``NAME.json`` says which object the kernel checked, from what the probe did and ``stat``
inside the VM, never from the records. These tests keep fixtures and manifests honest: the log
scans (avcfix.audit.api.scan) into the expected (tclass, perms), and the manifest's object is
consistent with the records (a wrong path or inode in a manifest fails here).

When avcfix.explain.objects (the resolver) is importable, it must never name a wrong object for
these events, and must name the right one wherever the kernel's identity evidence (the AVC's
path=, or a PATH item with the AVC's ino=) is in the event.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import pytest

from avcfix.audit.api import scan

DATA = Path(__file__).parent / "data" / "kernel"
MANIFESTS = sorted(DATA.rglob("*.json"))
IDS = [str(p.relative_to(DATA).with_suffix("")) for p in MANIFESTS]

_AVC = re.compile(r"type=AVC .*")
_FIELD = r'\b{}=("([^"]*)"|(\S+))'


def _field(line: str, name: str) -> str | None:
    m = re.search(_FIELD.format(name), line)
    return None if m is None else (m.group(2) if m.group(2) is not None else m.group(3))


def _load(manifest: Path) -> tuple[dict, Path, list]:
    log = manifest.with_suffix(".log")
    return json.loads(manifest.read_text()), log, list(scan([str(log)]))


def _main(spec: dict, denials: list):
    """The denial of the manifest's object (tclass, perms): exactly one."""
    (main,) = [d for d in denials if (d.tclass, list(d.perms)) == (spec["tclass"], sorted(spec["perms"]))]
    return main


def test_fixtures_exist() -> None:
    # 39 probe steps, captured with and without an audit rule (norules/)
    assert len(MANIFESTS) >= 30
    assert all(p.with_suffix(".log").is_file() for p in MANIFESTS)


@pytest.mark.parametrize("manifest", MANIFESTS, ids=IDS)
def test_scan_gives_the_expected_denials(manifest: Path) -> None:
    spec, _log, denials = _load(manifest)
    # (avcfix does not keep the order of several AVC records of one event)
    got = sorted((d.tclass, tuple(d.perms)) for d in denials)
    assert got == sorted((x["tclass"], tuple(sorted(x["perms"]))) for x in spec["denials"])
    assert [_main(spec, denials)]
    assert all(d.scontext.type == "avcfix_probe_t" and not d.permissive for d in denials)
    assert {d.syscall for d in denials} == {spec["syscall"]}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=IDS)
def test_manifest_object_is_in_the_records(manifest: Path) -> None:
    """The object path is the AVC's path=, a PATH name (or a directory on it), or, with no such
    record, the AVC's name= with the object's inode as ino=."""
    spec, log, denials = _load(manifest)
    obj = spec["object"]
    text = log.read_text()
    avc_lines = _AVC.findall(text)
    if obj is None:
        # not a file system object (a port): the AVC names no file
        assert spec.get("kind") and all(_field(a, "path") is None and _field(a, "name") is None
                                        for a in avc_lines)
        assert _main(spec, denials).port is not None
        return
    path, inode = obj["path"], obj["inode"]
    d = _main(spec, denials)
    names = set()
    for p in d.paths:
        names.add(posixpath.normpath(p))
    on_a_path = any(n == path or n.startswith(path + "/") for n in names)
    last = avc_lines[-1]
    by_avc_path = _field(last, "path") == path
    by_name_ino = (_field(last, "name") == posixpath.basename(path)
                   and _field(last, "ino") == str(inode))
    if spec["child"] is not None:   # an entry permission names the entry, not the directory
        by_name_ino = by_name_ino or (_field(last, "name") == spec["child"]
                                      and _field(last, "ino") in (None, str(spec["child_inode"])))
    assert on_a_path or by_avc_path or by_name_ino, (path, names, last)
    # the AVC's ino= is this object's inode, except for remove_name where the kernel prints the
    # inode of the entry being removed (the dentry it checks the directory for)
    ino = _field(last, "ino")
    if "remove_name" in spec["perms"]:
        assert ino == str(spec["child_inode"]) != str(inode)
    else:
        assert ino is None or ino == str(inode)
    if spec["child"] is not None:
        assert posixpath.dirname(posixpath.join(path, spec["child"])) == path


def _certain(spec: dict, log: Path) -> bool:
    """The kernel's own identity evidence names the object: the AVC's absolute path=, or a
    PATH item whose inode is the AVC's ino= (not for remove_name: that ino= is the entry's)."""
    last = _AVC.findall(log.read_text())[-1]
    if (_field(last, "path") or "").startswith("/"):
        return True
    if "remove_name" in spec["perms"]:
        return False
    ino = _field(last, "ino")
    return ino is not None and re.search(rf"type=PATH .* inode={ino} ", log.read_text()) is not None


@pytest.mark.parametrize("manifest", MANIFESTS, ids=IDS)
def test_resolver_names_the_object(manifest: Path) -> None:
    objects = pytest.importorskip("avcfix.explain.objects")
    if not hasattr(objects, "resolve"):
        pytest.skip("avcfix.explain.objects has no resolve()")
    spec, log, denials = _load(manifest)
    want = spec["object"]["path"] if spec["object"] else None
    got = objects.resolve(_main(spec, denials)).path
    if want is not None and _certain(spec, log):
        assert got == want
    else:
        assert got in (None, want)    # never a wrong object
