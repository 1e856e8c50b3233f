"""Shared questions of the file-label advisors (not an advisor: not in the registry).

restorecon, custom_location, home_content and mounton all ask the same
things: which path the denied object has, whether a type is one the domain may
use with the denied permissions (the policy's word, not a type's name), and
which directory of a path is the top custom directory below a system tree.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind
from avcfix.explain.objects import FILE_CLASSES, ObjectKind
from avcfix.explain.protocol import BoolSetting, Facts

#: Permissions that change an object (or run it): what a least-privilege label
#: should not grant beyond what was denied.
MODIFY_PERMS = frozenset(
    "write append create unlink rename setattr link add_name remove_name reparent rmdir relabelfrom "
    "relabelto execute execute_no_trans entrypoint execmod mounton swapon quotaon".split()
)

#: Advice kinds that relabel a path.
RELABEL_KINDS = frozenset({AdviceKind.RESTORECON, AdviceKind.FCONTEXT, AdviceKind.FCONTEXT_EQUAL})


@dataclass(frozen=True, slots=True)
class Target:
    """The denied file system object: its (safe) path and file class."""

    path: str
    file_class: str


#: The home directory's own types: a specific type on content in a home
#: (``httpd_sys_content_t`` on ``~/public_html``) that file_contexts would turn
#: back into one of these was most likely set on purpose (chcon, semanage).
HOME_GENERIC = frozenset({"user_home_t", "user_home_dir_t", "admin_home_t", "home_root_t"})


def target(s: Situation) -> Target | None:
    """The denied object when it is a file system object with a known, safe path."""
    obj = s.obj
    if s.tclass not in FILE_CLASSES or obj.kind is not ObjectKind.PATH or obj.path is None:
        return None
    path = commands.safe_path(obj.path)
    if path is None:
        return None
    return Target(path, obj.file_class or s.tclass)


def holds(tree: str, path: str) -> bool:
    """``tree`` is ``path`` or a directory above it."""
    tree = tree.rstrip("/") or "/"
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def relabelled(earlier: Sequence[Advice], path: str) -> bool:
    """An earlier advisor already relabels ``path`` (or a tree holding it)."""
    return any(a.kind in RELABEL_KINDS and a.acts_on is not None and holds(a.acts_on, path) for a in earlier)


def ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``['/a', '/a/b']`` (shallowest first; not ``/``, not the path)."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def top_custom_dir(path: str) -> str:
    """The first path component below the deepest system tree holding ``path``:
    ``/srv/site`` for ``/srv/site/index.html``, ``/data`` for ``/data/x``.
    It is ``path`` itself when ``path`` sits right below a system tree."""
    parts = [p for p in path.split("/") if p]
    top = "/" + parts[0] if parts else "/"
    for i in range(1, len(parts)):
        if commands.is_system_tree("/" + "/".join(parts[:i])):
            top = "/" + "/".join(parts[:i + 1])
    return top


def system_tree_of(path: str) -> str:
    """The deepest system tree holding ``path`` (``/`` at least)."""
    best = "/"
    for a in ancestors(path):
        if commands.is_system_tree(a):
            best = a
    return best


def extra_modify(granted: frozenset[str], perms: Sequence[str]) -> frozenset[str]:
    """What else a label would let the domain change, beyond the denied permissions."""
    return (granted - set(perms)) & MODIFY_PERMS


def policy_word(facts: Facts, domain: str, type_name: str, tclass: str,
                perms: Sequence[str]) -> tuple[bool, tuple[BoolSetting, ...]]:
    """(allowed now, booleans each of which would allow it) for ``domain`` on ``type_name``."""
    if facts.allows(domain, type_name, tclass, perms):
        return True, ()
    return False, facts.enabling_booleans(domain, type_name, tclass, perms)


def perms_text(perms: Sequence[str]) -> str:
    return " ".join(perms) if len(perms) == 1 else "{ " + " ".join(perms) + " }"


def dirname(path: str) -> str:
    return posixpath.dirname(path.rstrip("/")) or "/"
