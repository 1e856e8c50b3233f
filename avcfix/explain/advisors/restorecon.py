"""Restorecon: the denied object carries another label than file_contexts gives it.

setroubleshoot's ``restorecon`` plugin. The object is the one the kernel
checked (:mod:`avcfix.explain.objects`): for a directory permission the
directory, never the file inside it. A mislabeled directory is restored with
its contents (``restorecon -Rv DIR``, never for a system tree); a file alone.
"""

from __future__ import annotations

from typing import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.advisors.leaked_fd import leaked
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.objects import FILE_CLASSES, ObjectKind

NAME = "restorecon"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN, Reason.CONSTRAINT})


def mislabeled(s: Situation) -> tuple[str, str] | None:
    """(path, expected type) when the denied object's label is not what file_contexts gives it."""
    g, obj, facts = s.group, s.obj, s.facts
    if facts is None or g.tclass not in FILE_CLASSES or obj.kind is not ObjectKind.PATH or obj.path is None:
        return None
    if set(s.perms) <= {"create"} and g.tclass != "dir":
        return None  # the new file's label comes from its directory and the type rules
    if facts.fixed_label(g.target):
        return None  # the filesystem gives this label (nfs_t, cifs_t...): restorecon cannot change it
    if commands.safe_path(obj.path) is None:
        return None
    if leaked(s) is not None:
        return None  # a descriptor inherited across exec: its label is its owner's business (leaked_fd)
    expected = facts.expected_type(obj.path)
    if expected is None or expected == g.target or expected == "<<none>>":
        return None
    return obj.path, expected


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    found = mislabeled(s)
    if found is None:
        return []
    path, expected = found
    is_dir = (s.obj.file_class or s.tclass) == "dir"
    cmd = commands.restorecon(path, recursive=is_dir)
    if cmd is None:
        return []
    what = "directory" if is_dir else "file"
    return [Advice(
        AdviceKind.RESTORECON, cmd, 95,
        f"{path} is labelled {s.target} but the policy's file_contexts expect {expected}: the {what} is "
        "mislabelled (created in the wrong place, copied or moved); restore its label instead of "
        "allowing the wrong type.",
        acts_on=path,
        evidence=(f"object: {s.obj.evidence}", f"file_contexts: {path} -> {expected}",
                  f"log: tcontext type {s.target}"))]
