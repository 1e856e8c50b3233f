"""Restorecon: the denied object carries another label than file_contexts gives it.

setroubleshoot's ``restorecon`` plugin. The object is the one the kernel
checked (``s.obj``, :mod:`avcfix.explain.objects`): for a directory permission
the directory, never the file inside it.

- A mislabeled directory is restored with its contents (``restorecon -Rv
  DIR``; never a system tree: :func:`avcfix.explain.commands.restorecon`).
- A file alone (``restorecon -v FILE``), unless several mislabeled files of the
  group share a directory that file_contexts labels the same way: then that
  directory tree is restored once, and the advice says so.
- Confidence 95 only when the policy lets the domain use the expected type
  with the denied permissions: then restorecon alone fixes the denial. When
  only a boolean does, or nothing does, restorecon is still right about the
  label but does not fix the denial alone: below 70, and the advice says so.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation, labels
from avcfix.explain.advisors.leaked_fd import leaked
from avcfix.explain.generic import GENERIC_FILE_TYPES
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "restorecon"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN, Reason.CONSTRAINT, Reason.DONTAUDIT})

#: Directory permissions checked on the directory alone (its entries not read).
DIR_SELF_PERMS = frozenset({"search", "write", "add_name", "remove_name", "reparent", "rmdir", "setattr"})

#: Confidence when the expected type is not enough by itself (a boolean is needed too).
WITH_BOOLEAN = 65
#: Confidence when the domain may not use the expected type either.
NOT_ENOUGH = 50


def mislabeled(s: Situation) -> tuple[str, str] | None:
    """(path, expected type) when the denied object's label is not what file_contexts gives it."""
    g, facts = s.group, s.facts
    t = labels.target(s)
    if facts is None or t is None:
        return None
    if set(s.perms) <= {"create"} and g.tclass != "dir":
        return None  # the new file's label comes from its directory and the type rules
    if facts.fixed_label(g.target):
        return None  # the filesystem gives this label (nfs_t, cifs_t...): restorecon cannot change it
    if leaked(s) is not None:
        return None  # a descriptor inherited across exec: its label is its owner's business (leaked_fd)
    expected = facts.expected_file_type(t.path, t.file_class)
    if expected is None or expected == g.target or expected == "<<none>>":
        return None
    if facts.canonical_type(g.target) == facts.canonical_type(expected) is not None:
        return None  # the logged type is an alias of the expected one (a type renamed since: *_var_run_t)
    if expected in labels.HOME_GENERIC and g.target not in labels.HOME_GENERIC and g.target not in GENERIC_FILE_TYPES:
        return None  # a specific label on content in a home was set on purpose: not undone to the home's type
    return t.path, expected


def shared_tree(s: Situation, path: str, expected: str) -> tuple[str, tuple[str, ...]] | None:
    """(directory, files) when several logged files of the group, the object among
    them, expect ``expected`` and share a directory file_contexts labels the same way."""
    facts = s.facts
    if facts is None:
        return None
    cls = s.obj.file_class or s.tclass
    files = {path}
    for logged in s.group.paths:
        p = commands.safe_path(logged)
        if p is None or labels.holds(p, path):  # the object, or a directory above it
            continue
        if facts.expected_file_type(p, cls) == expected:
            files.add(p.rstrip("/"))
    if len(files) < 2:
        return None
    top = posixpath.commonpath(sorted(files))
    if top in files:
        top = labels.dirname(top)
    if top == "/" or commands.is_system_tree(top) or facts.expected_file_type(top, "dir") != expected:
        return None
    return top, tuple(sorted(files))


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    found = mislabeled(s)
    if found is None or s.facts is None:
        return []
    path, expected = found
    if labels.relabelled(earlier, path):
        return []  # home_content (or another advisor) already restores it
    is_dir = (s.obj.file_class or s.tclass) == "dir"
    # A directory is restored with its tree when it was read as a tree (listed:
    # a tree moved or copied in keeps its old labels below too); for search,
    # write, add_name or remove_name only the directory itself was checked.
    where, recursive, note = path, is_dir and not set(s.perms) & DIR_SELF_PERMS, ""
    if not is_dir:
        tree = shared_tree(s, path, expected)
        if tree is not None:
            where, recursive = tree[0], True
            note = (f" {len(tree[1])} files of this group under {tree[0]} expect {expected}, and so does "
                    f"{tree[0]} itself: its tree is restored once.")
    cmd = commands.restorecon(where, recursive=recursive)
    if cmd is None:
        return []
    allowed, bools = labels.policy_word(s.facts, s.source, expected, s.tclass, s.perms)
    wanted = labels.perms_text(s.perms)
    evidence = [f"object: {s.obj.evidence}", f"file_contexts: {path} -> {expected}",
                f"log: tcontext type {s.target}"]
    if allowed:
        confidence, after = 95, f"{s.source} may already {wanted} {expected} {s.tclass}s, so restoring the label fixes this."
        evidence.append(f"policy: allow {s.source} {expected}:{s.tclass} {wanted}")
    elif bools:
        names = " or ".join(f"{n}={'on' if v else 'off'}" for n, v in bools)
        confidence = WITH_BOOLEAN
        after = (f"but {s.source} may {wanted} {expected} {s.tclass}s only with {names}: "
                 "restoring the label alone does not fix this.")
        evidence.append(f"policy: allow {s.source} {expected}:{s.tclass} {wanted} under {names}")
    else:
        confidence = NOT_ENOUGH
        after = (f"but {s.source} may not {wanted} {expected} {s.tclass}s either: restoring the label "
                 "alone does not fix this; the domain may need another rule, or may not be meant to touch it.")
        evidence.append(f"policy: no rule allows {s.source} {expected}:{s.tclass} {wanted}")
    what = "directory" if is_dir else "file"
    return [Advice(
        AdviceKind.RESTORECON, cmd, confidence,
        f"{path} is labelled {s.target} but the policy's file_contexts expect {expected}: the {what} is "
        f"mislabelled (created in the wrong place, copied or moved); {after}" + note,
        acts_on=where, evidence=tuple(evidence))]
