"""Which object a denial is about, decided from the kernel's own evidence (pure).

A denial names its object in several ways, not all of them reliable:

- the AVC's ``path=`` (a file descriptor's full path, written by the kernel
  from the open file itself) and ``ino=`` (the inode the kernel checked);
- the event's PATH items: every name the syscall looked up, each with its
  ``inode``, ``mode`` and ``nametype`` (PARENT for the directory of a name
  being created, removed or renamed, CREATE, DELETE, NORMAL);
- the AVC's ``name=``: the last component of the checked object's name
  (for a directory permission, the *directory's* name).

Matching by name alone picks the wrong item. What a real kernel logs (the
fixtures under ``tests/data/kernel/``, captured in the enforcing VM): for
``add_name`` the AVC's ``name=`` is the *new entry* and for ``remove_name``
its ``ino=`` is the *removed file's*, while the object is the directory; a
rename logs two PARENT items (target first) and, once done, the file under
both names with one inode; a search denied on the way logs only the whole
looked-up name. The order used here:

1. the AVC's absolute ``path=`` (a name like ``pipe:[N]`` is an open file
   with no path);
2. for ``add_name``/``remove_name``, the PARENT item, told apart by its label
   (``obj=`` equal to the AVC's tcontext) or as the directory of the
   CREATE/DELETE item;
3. the PATH item whose inode is the AVC's ``ino=`` (several names: the one
   with the AVC's label, else not the CREATE one);
4. the one item named like ``name=`` whose file type and label agree;
5. for a directory, the middle component of a looked-up name equal to
   ``name=`` (a search denied on the way).

Anything else is :attr:`ObjectKind.UNKNOWN`: no relabel is advised for an
object that cannot be named. Without an audit rule loaded, the kernel writes
no PATH record at all and most objects are unknown.
"""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from avcfix.audit.model import Denial

#: Classes whose object is a file system object (a path can name it).
FILE_CLASSES = frozenset({"file", "dir", "lnk_file", "chr_file", "blk_file", "sock_file", "fifo_file"})

#: Directory permissions checked on a directory for one of its entries: the
#: AVC's ``name=`` (and for remove_name ``ino=``) are the entry's, the object is
#: the directory (the kernel's PARENT item).
ENTRY_PERMS = frozenset({"add_name", "remove_name"})

#: ``st_mode`` file type bits -> the class the kernel checks for it.
_MODE_CLASS = {
    0o040000: "dir",
    0o100000: "file",
    0o120000: "lnk_file",
    0o140000: "sock_file",
    0o010000: "fifo_file",
    0o020000: "chr_file",
    0o060000: "blk_file",
}
_S_IFMT = 0o170000


class ObjectKind(str, enum.Enum):
    """What kind of object a denial is about."""

    PATH = "path"          # a file system object with a known absolute path
    FD = "fd"              # an open file the kernel named without a path (pipe:[N], socket:[N], anon_inode)
    PORT = "port"          # a network port (name_bind / name_connect)
    SUBJECT = "subject"    # the process itself (process, capability, memory permissions)
    OTHER = "other"        # a non-file object (a socket, the kernel, a key, ...)
    UNKNOWN = "unknown"    # a file system object the evidence does not name


@dataclass(frozen=True, slots=True)
class DeniedObject:
    """The object a denial is about and how that was decided."""

    kind: ObjectKind
    #: Absolute path of the object (``kind`` PATH), normalised (no trailing ``/``).
    path: str | None = None
    #: True when the kernel's own identity evidence (``path=`` or ``ino=``) names it;
    #: False when it was matched by name and file type.
    certain: bool = False
    #: The file type the evidence gives (``dir``, ``file``...), when known.
    file_class: str | None = None
    #: For a directory-entry permission: the entry's path (the file being
    #: created, removed or renamed inside ``path``), when logged.
    entry: str | None = None
    #: How it was decided, for people and ``--json``.
    evidence: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "path": self.path, "certain": self.certain,
                "file_class": self.file_class, "entry": self.entry, "evidence": self.evidence}


def mode_class(mode: int | None) -> str | None:
    """The class name for an ``st_mode`` (``0o40755`` -> ``dir``), or ``None``."""
    if mode is None:
        return None
    return _MODE_CLASS.get(mode & _S_IFMT)


def _norm(path: str | None) -> str | None:
    """An absolute path without a trailing slash (``/`` stays), else ``None``."""
    if not path or not path.startswith("/"):
        return None
    stripped = path.rstrip("/")
    return stripped or "/"


def _base(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) or "/"


def _items(denial: Denial) -> tuple[Any, ...]:
    return tuple(getattr(denial, "items", ()) or ())


def resolve(denial: Denial) -> DeniedObject:
    """The object ``denial`` is about (see the module docstring for the order)."""
    tclass = denial.tclass
    if tclass in ("tcp_socket", "udp_socket", "sctp_socket", "dccp_socket") and (
            "name_bind" in denial.perms or "name_connect" in denial.perms):
        return DeniedObject(ObjectKind.PORT, evidence=f"port {denial.port}" if denial.port is not None
                            else "a port (not logged)")
    if tclass not in FILE_CLASSES:
        if denial.scontext.type == denial.tcontext.type and tclass in (
                "process", "process2", "capability", "capability2", "cap_userns", "cap2_userns"):
            return DeniedObject(ObjectKind.SUBJECT, evidence="the process itself (target is its own domain)")
        return DeniedObject(ObjectKind.OTHER, evidence=f"a {tclass} object")
    ttype = denial.tcontext.type
    entry_perm = tclass == "dir" and bool(set(denial.perms) & ENTRY_PERMS)
    items = [i for i in _items(denial) if _norm(i.name) is not None]
    entry = _entry(items, denial.perms) if entry_perm else None

    # 1. the AVC's own path= (the kernel's d_path of the checked file)
    avc_path = _norm(denial.path)
    if avc_path is not None:
        return DeniedObject(ObjectKind.PATH, avc_path, True, tclass, entry, f"the AVC's path={avc_path}")
    if denial.path and not denial.path.startswith("/"):
        # pipe:[123], socket:[456], anon_inode:[...]: an open file with no name
        return DeniedObject(ObjectKind.FD, None, True, tclass, None, f"the AVC's path={denial.path}")

    # 2. add_name / remove_name: the directory that holds the entry (a PARENT
    #    item), never the entry (the AVC's name= and ino= are the entry's)
    if entry_perm:
        found = _parent(items, denial.perms, ttype)
        if found is not None:
            item, how = found
            path = _norm(item.name)
            return DeniedObject(ObjectKind.PATH, path, item.otype == ttype, "dir", entry,
                                f"a directory-entry permission: the PARENT PATH item {item.item} {path} ({how})")

    # 3. the PATH item with the AVC's inode (the label tells a renamed file's two names apart)
    ino = getattr(denial, "ino", None)
    if ino is not None and not entry_perm:
        same = [i for i in items if i.inode == ino]
        picked = _one(same) or _one([i for i in same if i.otype == ttype]) or _one(
            [i for i in same if (i.nametype or "").upper() != "CREATE"])
        if picked is not None:
            path = _norm(picked.name)
            return DeniedObject(ObjectKind.PATH, path, True, tclass, entry,
                                f"the AVC's ino={ino} is PATH item {picked.item}"
                                + (f" ({picked.nametype})" if picked.nametype else "") + f": {path}")

    # 4. one item named like the AVC's name=, of the denied file type
    if denial.name and not entry_perm:
        named = [i for i in items if _base(i.name) == denial.name and mode_class(i.mode) in (None, tclass)
                 and (i.otype in (None, ttype))]
        picked = _one(named)
        if picked is not None:
            path = _norm(picked.name)
            return DeniedObject(ObjectKind.PATH, path, False, tclass, entry,
                                f"the PATH item {picked.item} named like the AVC's name={denial.name}")
        if not items:
            # a Denial built without PATH details: its paths, by name only
            paths = sorted({p for p in map(_norm, denial.paths) if p is not None and _base(p) == denial.name})
            if len(paths) == 1:
                return DeniedObject(ObjectKind.PATH, paths[0], False, tclass, entry,
                                    f"the path named like the AVC's name={denial.name}")

    # 5. a directory in the middle of a looked-up name (search denied on the way)
    if tclass == "dir" and denial.name and denial.name not in (".", "..", "/"):
        prefixes = sorted({p for i in items for p in [_prefix_named(_norm(i.name), denial.name)] if p})
        if len(prefixes) == 1:
            return DeniedObject(ObjectKind.PATH, prefixes[0], False, "dir", entry,
                                f"the directory {denial.name} on the way to a looked-up name: {prefixes[0]}")

    why = _unknown_why(denial, items, entry_perm)
    return DeniedObject(ObjectKind.UNKNOWN, None, False, tclass, entry, why)


def _one(items: list[Any]) -> Any:
    """The item when all of ``items`` name one path, else ``None``."""
    paths = {_norm(i.name) for i in items}
    if len(paths) != 1:
        return None
    return min(items, key=lambda i: i.item)


def _parent(items: list[Any], perms: tuple[str, ...], ttype: str) -> tuple[Any, str] | None:
    """The PARENT item a directory-entry permission is checked on."""
    parents = [i for i in items if (i.nametype or "").upper() == "PARENT"]
    if not parents:
        return None
    labelled = [i for i in parents if i.otype == ttype]
    if _one(labelled) is not None:
        return _one(labelled), "its label is the AVC's tcontext"
    pool = labelled or parents
    wanted = "CREATE" if "add_name" in perms else "DELETE"
    made = {posixpath.dirname(_norm(i.name) or "") for i in items if (i.nametype or "").upper() == wanted}
    near = [i for i in pool if _norm(i.name) in made]
    if _one(near) is not None:
        return _one(near), f"the directory of the {wanted} item"
    if _one(pool) is not None:
        return _one(pool), "the only directory looked up"
    return None


def _prefix_named(path: str | None, name: str) -> str | None:
    """``/a/b/name`` for ``/a/b/name/c`` when ``name`` is a middle component (once)."""
    if not path:
        return None
    parts = path.split("/")
    hits = [k for k, part in enumerate(parts[:-1]) if part == name and k > 0]
    if len(hits) != 1:
        return None
    return "/".join(parts[: hits[0] + 1]) or "/"


def _entry(items: Iterable[Any], perms: tuple[str, ...]) -> str | None:
    """The name being created (add_name) or removed (remove_name): the CREATE / DELETE item."""
    kinds = ({"CREATE"} if "add_name" in perms else set()) | ({"DELETE"} if "remove_name" in perms else set())
    made = sorted({n for i in items if (i.nametype or "").upper() in kinds for n in [_norm(i.name)] if n is not None})
    return made[0] if len(made) == 1 else None


def _unknown_why(denial: Denial, items: list[Any], entry_perm: bool) -> str:
    if not items and not denial.paths:
        named = f" (the AVC names only {denial.name!r})" if denial.name else ""
        return f"no PATH record in the event{named}: the object's path is not known"
    if denial.name:
        return (f"no PATH item matches the AVC's name={denial.name}"
                + (" as a directory" if entry_perm else "") + ": the object's path is not known")
    return "the AVC names no object and several paths are logged: the object's path is not known"
