"""Types of the C policy reader ``_policydump.c`` (what its method table and
``PyInit__policydump`` export: ``read`` and ``API``; the row shapes are its
``Py_BuildValue`` formats). Used through :func:`avcfix.index.build.policy_dumper`."""

from typing import TypedDict

API: int

class RoleRows(TypedDict):
    """The rows :class:`avcfix.index.build._Builder` still needs once the others are inserted."""

    role_types: list[tuple[str, int]]  # (role, type id)
    role_allow: list[tuple[str, str]]  # (role, new role)

class PolicyDump(RoleRows):
    """What :func:`read` gives: the rows of the index's tables (see build.py's SCHEMA)."""

    types: list[tuple[int, str, int, int, int | None]]  # (id, name, attr, permissive, bounds)
    typeattr: list[tuple[int, int]]  # (type id, attribute id)
    aliases: list[tuple[str, int]]  # (alias, type id)
    classes: list[tuple[int, str, str]]  # (id, name, "perm perm ...")
    te: list[tuple[int, int, int, int, int, int, int]]  # (kind, src, tgt, cls, perms, cond, block)
    xperms: list[tuple[int, int, int, int, str, str]]  # (kind, src, tgt, cls, xtype, cmds)
    conds: list[tuple[int, tuple[str, ...]]]  # (id, tokens)

def read(data: bytes, /) -> PolicyDump: ...
