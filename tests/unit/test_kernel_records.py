"""Real kernel records (tests/data/kernel): each fixture scans into exactly the denial(s) it claims.

The fixtures were written by a real kernel (Debian 12, 6.1, reference policy enforcing) in the
e2e VM by ``make capture-kernel`` (tests/e2e/capture_kernel.py; see tests/data/kernel/README.md).
Every ``NAME.json`` says which object the kernel checked, from what the probe did and ``stat``
inside the VM, never from the records. These tests keep fixtures and manifests honest: the log
scans (avcfix.audit.api.scan) into the expected (tclass, perms), and the manifest's object is
consistent with the records (a wrong path or inode in a manifest fails here).

Most events hold one denial; ``permissive/`` events (the domain permissive) and ``hardlink`` hold
several, each with its own object in the manifest's ``denials``.

When avcfix.explain.objects (the resolver) is importable, it must never name a wrong object for
these denials. Where the kernel's identity evidence is in the event (the AVC's absolute path=, or
a PATH item with the AVC's ino=, except for remove_name whose ino= is the removed entry's), it must
name the right one: always for path=, and for ino= as soon as the audit layer hands the resolver
the AVC's ino= and the PATH items (Denial.ino / Denial.items).
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import pytest
from libaudit_names import named

from avcfix.audit.api import scan
from avcfix.audit.model import Denial

DATA = Path(__file__).parents[1] / "data" / "kernel"
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


def _pick(entry: dict, denials: list):
    """The scanned denial of one manifest entry (tclass, perms): exactly one."""
    (d,) = [d for d in denials if (d.tclass, list(d.perms)) == (entry["tclass"], sorted(entry["perms"]))]
    return d


def _entries(spec: dict) -> list[dict]:
    return spec["denials"]


def test_fixtures_exist() -> None:
    # 39 probe steps captured with and without an audit rule (norules/), 4 permissive ones
    assert len(MANIFESTS) >= 80
    assert all(p.with_suffix(".log").is_file() for p in MANIFESTS)


@pytest.mark.parametrize("manifest", MANIFESTS, ids=IDS)
def test_scan_gives_the_expected_denials(manifest: Path) -> None:
    spec, _log, denials = _load(manifest)
    # (avcfix does not keep the order of several AVC records of one event)
    got = sorted((d.tclass, tuple(d.perms)) for d in denials)
    assert got == sorted((x["tclass"], tuple(sorted(x["perms"]))) for x in _entries(spec))
    own = _pick({"tclass": spec["tclass"], "perms": spec["perms"]}, denials)
    assert _entries(spec)[0]["object"] == spec["object"] and own in denials
    domain = "avcfix_probe_perm_t" if spec["permissive"] else "avcfix_probe_t"
    assert all(d.scontext.type == domain and d.permissive == spec["permissive"] for d in denials)
    assert {d.syscall for d in denials} == {named(spec["syscall"])}


_MODE_KIND = {0o040000: "dir", 0o100000: "file", 0o120000: "lnk_file", 0o140000: "sock_file"}


def _path_items(text: str, cwd: str) -> list[tuple[str, int | None, str | None]]:
    """(absolute normalised name, inode, kind) of every named PATH record."""
    items = []
    for line in re.findall(r"type=PATH .*", text):
        name = _field(line, "name")
        if name is None or name == "(null)":
            continue
        ino, mode = _field(line, "inode"), _field(line, "mode")
        kind = _MODE_KIND.get(int(mode, 8) & 0o170000) if mode else None
        items.append((posixpath.normpath(posixpath.join(cwd, name)), int(ino) if ino else None, kind))
    return items


def _avc_line(text: str, entry: dict) -> str:
    (line,) = [a for a in _AVC.findall(text) if _field(a, "tclass") == entry["tclass"]
               and sorted(re.search(r"\{([^}]*)\}", a).group(1).split()) == sorted(entry["perms"])]
    return line


@pytest.mark.parametrize("manifest", MANIFESTS, ids=IDS)
def test_manifest_object_is_in_the_records(manifest: Path) -> None:
    """Every denial's object agrees with every identity the kernel logged: the AVC's path=,
    name= and ino=, and the PATH items' names, inodes and modes."""
    spec, log, denials = _load(manifest)
    text = log.read_text()
    for entry in _entries(spec):
        obj, d, last = entry["object"], _pick(entry, denials), _avc_line(text, entry)
        avc_path, avc_name, avc_ino = _field(last, "path"), _field(last, "name"), _field(last, "ino")
        if obj is None:
            # not a file system object (a port): the AVC names no file
            assert spec.get("kind") and avc_path is None and avc_name is None and d.port is not None
            continue
        path, inode, child = obj["path"], obj["inode"], entry["child"]
        child_path = posixpath.join(path, child) if child else None
        # name=: the object's last component, or the entry's for an entry permission
        assert avc_path is not None or avc_name in {posixpath.basename(path), child}
        # ino=: the object's inode, except for remove_name: the kernel prints the removed entry's
        if "remove_name" in entry["perms"]:
            assert avc_ino == str(entry["child_inode"]) != str(inode)
        else:
            assert avc_ino is None or avc_ino == str(inode)
        # every PATH item naming the object (or the entry) has its inode and file type
        items = _path_items(text, d.cwd or "/")
        for name, ino, kind in items:
            if name == path:
                # (a unix socket is named by its socket file)
                file_kind = "sock_file" if obj["kind"] == "unix_stream_socket" else obj["kind"]
                assert ino in (None, inode) and kind in (None, file_kind), (name, ino, kind)
            if child_path and name == child_path:
                assert ino in (None, entry["child_inode"]), (name, ino)
        # and the object is named somewhere: path=, a PATH item, or (a directory the walk
        # stopped at) a directory on a PATH name whose last component the AVC names
        named = (avc_path == path
                 or any(name == path for name, _i, _k in items)
                 or (avc_name == posixpath.basename(path)
                     and any(name.startswith(path + "/") for name, _i, _k in items)))
        if items or avc_path is not None:
            assert named, (path, items, avc_path)
        else:   # no name in the records at all (no audit rule): the AVC's name= and ino= only
            assert spec["audit_rules"].startswith("no audit rule")


#: Does the audit layer give the resolver the AVC's ino= and the PATH items?
_GIVEN_INO_AND_ITEMS = all(f in getattr(Denial, "__dataclass_fields__", {}) for f in ("ino", "items"))
_FILE_CLASSES = {"file", "dir", "lnk_file", "chr_file", "blk_file", "sock_file", "fifo_file"}


def _certain(entry: dict, text: str) -> bool:
    """The kernel's own identity evidence names the (file system) object: the AVC's absolute
    path=, or a PATH item whose inode is the AVC's ino= (not for remove_name: that ino= is the
    entry's), when the resolver is given the AVC's ino= and the PATH items."""
    if entry["tclass"] not in _FILE_CLASSES:
        return False    # a socket named by its address: None is a fair answer too
    last = _avc_line(text, entry)
    if (_field(last, "path") or "").startswith("/"):
        return True
    if "remove_name" in entry["perms"] or not _GIVEN_INO_AND_ITEMS:
        return False
    ino = _field(last, "ino")
    return ino is not None and re.search(rf"type=PATH .* inode={ino} ", text) is not None


@pytest.mark.parametrize("manifest", MANIFESTS, ids=IDS)
def test_resolver_names_the_object(manifest: Path) -> None:
    objects = pytest.importorskip("avcfix.explain.objects")
    if not hasattr(objects, "resolve"):
        pytest.skip("avcfix.explain.objects has no resolve()")
    spec, log, denials = _load(manifest)
    text = log.read_text()
    for entry in _entries(spec):
        want = entry["object"]["path"] if entry["object"] else None
        got = objects.resolve(_pick(entry, denials)).path
        if want is not None and _certain(entry, text):
            assert got == want, entry
        else:
            assert got in (None, want), entry    # never a wrong object


@pytest.mark.parametrize("manifest", MANIFESTS, ids=IDS)
def test_resolver_names_the_object_whenever_path_records_exist(manifest: Path) -> None:
    """Stricter than the above: with the event's PATH records (an audit rule loaded) every
    file-system object is named exactly, including the directory of add_name/remove_name (the
    PARENT item, told apart by its label), a search denied on the way (a middle component), and
    a renamed file logged under both its names (the label and the DELETE item decide). Without
    PATH records the object is unknown: never a guess."""
    from avcfix.explain.objects import ObjectKind, resolve

    spec, log, denials = _load(manifest)
    text = log.read_text()
    for entry in _entries(spec):
        if entry["tclass"] not in _FILE_CLASSES or entry["object"] is None:
            continue
        got = resolve(_pick(entry, denials))
        named_items = re.search(r"type=PATH .* name=(?!\(null\))", text) is not None
        if named_items or (_field(_avc_line(text, entry), "path") or "").startswith("/"):
            assert got.path == entry["object"]["path"], (entry, got)
        else:
            assert got.kind is ObjectKind.UNKNOWN and got.path is None, (entry, got)
