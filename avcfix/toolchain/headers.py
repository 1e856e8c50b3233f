"""The refpolicy headers installed on this machine (and in a policy root): which
m4 macros they define, so that no name from a log can be one of them.

The devel Makefile (``/usr/share/selinux/devel/Makefile``) runs m4 over a module
with ``support/*.spt`` and every ``.if`` of the header tree (and the module's
own ``NAME.if``): any of their macros in a log-derived name would expand (see
:mod:`avcfix.names.m4names` for the names refused everywhere).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from avcfix import proc
from avcfix.names.m4names import macro_names_in_text

#: The installed refpolicy headers (selinux-policy-dev / selinux-policy-devel).
DEVEL_INCLUDE = Path("/usr/share/selinux/devel/include")


@lru_cache(maxsize=32)
def _names_in(path: str, _stamp: tuple[int, int]) -> frozenset[str]:
    """Macro names defined by the file or the tree ``path`` (cached by its stamp)."""
    p = Path(path)
    files: Iterable[Path]
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix in (".if", ".spt") or f.name == "build.conf")
    else:
        files = [p]
    names: set[str] = set()
    for f in files:
        try:
            names |= macro_names_in_text(f.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return frozenset(names)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def header_macro_names(*paths: Path) -> frozenset[str]:
    """Every macro name the refpolicy header trees or ``.if``/``.spt`` files at
    ``paths`` define; paths that do not exist add nothing. A path is read once
    per process and stamp (the modification time and size of the path itself:
    a module's ``NAME.if`` is read again when it changes; a tree, ~400 files
    read in about 0.1 s, when its top directory does)."""
    names: set[str] = set()
    for path in paths:
        stamp = _stamp(path)
        if stamp is not None:
            names |= _names_in(str(path), stamp)
    return frozenset(names)


def header_dirs(root: Path | None = None, policy_name: str = "default") -> tuple[Path, ...]:
    """The header trees whose macros a module built on this machine (and for
    ``root``) may meet: the host's devel headers, and a policy root's own."""
    dirs = [DEVEL_INCLUDE]
    if root is not None and Path(root) != Path("/"):
        share = Path(root) / "usr" / "share" / "selinux"
        dirs += [share / "devel" / "include", share / policy_name / "include"]
    return tuple(dirs)


def expand_perm_set(macro: str, include: Path) -> tuple[str, ...]:
    """The permissions a permission-set macro stands for, expanded by m4 from the
    headers' ``support/obj_perm_sets.spt`` (``()`` when m4 or the file fails)."""
    spt = include / "support" / "obj_perm_sets.spt"
    if not spt.is_file() or shutil.which("m4") is None:
        return ()
    r = proc.run(["m4", str(spt), "-"], input=f"\n@@@ {macro}\n", timeout=30)
    if not r.ok or "@@@" not in r.stdout:
        return ()
    out = r.stdout.rsplit("@@@", 1)[1]
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", out)
    if not words or any(w == macro or w.endswith("_perms") for w in words):
        return ()
    return tuple(dict.fromkeys(words))
