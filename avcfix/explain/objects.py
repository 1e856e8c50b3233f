"""Which object a denial is about, decided from the kernel's own evidence (pure).

A denial names its object in several ways, not all of them reliable:

- the AVC's ``path=`` (a file descriptor's full path, written by the kernel
  from the open file itself) and ``ino=`` (the inode the kernel checked);
- the event's PATH items: every name the syscall looked up, each with its
  ``inode``, ``mode`` and ``nametype`` (PARENT for the directory of a name
  being created, removed or renamed, CREATE, DELETE, NORMAL);
- the AVC's ``name=``: the last component of the checked object's name
  (for a directory permission, the *directory's* name).

Matching by label or by name alone picks the wrong item: ``openat(O_CREAT)``
of ``/srv/site/new.html`` denied ``add_name`` on ``/srv/site`` logs two PATH
items, and the file is not the object. The order used here is: the AVC's
absolute ``path=``; the PATH item whose inode is the AVC's ``ino=``; for a
directory-entry permission the PARENT item named like the AVC's ``name=``;
a single item named like ``name=`` whose file type agrees with the class.
Anything else is :attr:`ObjectKind.UNKNOWN`: no relabel is advised for an
object that cannot be named.
"""

from __future__ import annotations

import enum
import posixpath
from dataclasses import dataclass
from typing import Any, Iterable

from avcfix.audit.model import Denial

#: Classes whose object is a file system object (a path can name it).
FILE_CLASSES = frozenset({"file", "dir", "lnk_file", "chr_file", "blk_file", "sock_file", "fifo_file"})

#: Directory permissions that are about an entry of the directory (the name
#: being looked up, added or removed), checked on the directory itself.
DIR_ENTRY_PERMS = frozenset({"search", "add_name", "remove_name", "write", "reparent"})

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
    entry_perm = tclass == "dir" and bool(set(denial.perms) & DIR_ENTRY_PERMS)
    items = [i for i in _items(denial) if _norm(i.name) is not None]
    entry = _entry(items) if entry_perm else None

    # 1. the AVC's own path= (the kernel's d_path of the checked file)
    avc_path = _norm(denial.path)
    if avc_path is not None:
        return DeniedObject(ObjectKind.PATH, avc_path, True, tclass, entry,
                            f"the AVC's path={avc_path}")
    if denial.path and not denial.path.startswith("/"):
        # pipe:[123], socket:[456], anon_inode:[...]: an open file with no name
        return DeniedObject(ObjectKind.FD, None, True, tclass, None, f"the AVC's path={denial.path}")

    # 2. the PATH item with the AVC's inode
    ino = getattr(denial, "ino", None)
    if ino is not None:
        same = sorted({_norm(i.name) for i in items if i.inode == ino})
        if len(same) == 1:
            item = next(i for i in items if i.inode == ino)
            return DeniedObject(ObjectKind.PATH, same[0], True, mode_class(item.mode) or tclass, entry,
                                f"the AVC's ino={ino} is PATH item {item.item}"
                                + (f" ({item.nametype})" if item.nametype else "") + f": {same[0]}")
        if len(same) > 1 and denial.name:
            named = [p for p in same if p is not None and _base(p) == denial.name]
            if len(named) == 1:
                return DeniedObject(ObjectKind.PATH, named[0], True, tclass, entry,
                                    f"the AVC's ino={ino} and name={denial.name} name {named[0]}")

    # 3. a directory-entry permission: the PARENT item (the directory), never the entry
    if entry_perm:
        parents = [i for i in items if (i.nametype or "").upper() == "PARENT"]
        if denial.name:
            named = [i for i in parents if _base(i.name) == denial.name]
            parents = named or ([] if ino is not None else parents)
        dirs = sorted({_norm(i.name) for i in parents})
        if len(dirs) == 1 and dirs[0] is not None:
            return DeniedObject(ObjectKind.PATH, dirs[0], False, "dir", entry,
                                f"a directory permission: the PARENT PATH item {dirs[0]}"
                                + (f" (named {denial.name} in the AVC)" if denial.name else ""))

    # 4. one item named like the AVC's name=, of the denied file type
    if denial.name:
        named = [i for i in items if _base(i.name) == denial.name and mode_class(i.mode) in (None, tclass)]
        if entry_perm:
            named = [i for i in named if (i.nametype or "").upper() not in ("CREATE", "DELETE")]
        paths = sorted({_norm(i.name) for i in named})
        if not items and not entry_perm:
            # a Denial built without PATH details: its paths, by name only
            paths = sorted({p for p in map(_norm, denial.paths) if p is not None and _base(p) == denial.name})
        if len(paths) == 1 and paths[0] is not None:
            typed = any(mode_class(i.mode) == tclass for i in named)
            return DeniedObject(ObjectKind.PATH, paths[0], False, tclass, entry,
                                f"the PATH item named like the AVC's name={denial.name}"
                                + (f" with the mode of a {tclass}" if typed else ""))

    why = _unknown_why(denial, items, entry_perm)
    return DeniedObject(ObjectKind.UNKNOWN, None, False, tclass, entry, why)


def _entry(items: Iterable[Any]) -> str | None:
    """The name being created, removed or renamed (CREATE / DELETE item)."""
    made = sorted({_norm(i.name) for i in items if (i.nametype or "").upper() in ("CREATE", "DELETE")})
    return made[0] if len(made) == 1 else None


def _unknown_why(denial: Denial, items: list[Any], entry_perm: bool) -> str:
    if not items and not denial.paths:
        named = f" (the AVC names only {denial.name!r})" if denial.name else ""
        return f"no PATH record in the event{named}: the object's path is not known"
    if denial.name:
        return (f"no PATH item matches the AVC's name={denial.name}"
                + (" as a directory" if entry_perm else "") + ": the object's path is not known")
    return "the AVC names no object and several paths are logged: the object's path is not known"
