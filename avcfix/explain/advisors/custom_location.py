"""Custom location: a generic label on a path the domain needs; label it with a type the domain may use.

setroubleshoot's ``public_content`` / ``httpd_write_content`` family: content
kept outside the standard location carries the parent directory's generic
type (``default_t``, ``var_t``...). The fix is a file context for the path.
"""

from __future__ import annotations

from typing import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.generic import GENERIC_FILE_TYPES
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.objects import FILE_CLASSES, ObjectKind

NAME = "custom_location"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN})


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    g, facts, obj = s.group, s.facts, s.obj
    if facts is None or g.tclass not in FILE_CLASSES or g.target not in GENERIC_FILE_TYPES:
        return []
    if obj.kind is not ObjectKind.PATH or obj.path is None or facts.fixed_label(g.target):
        return []
    path = commands.safe_path(obj.path)
    if path is None:
        return []
    expected = facts.expected_type(path)
    if expected is not None and expected not in GENERIC_FILE_TYPES and expected != g.target:
        return []  # restorecon covers it
    wanted = tuple(p for p in s.perms if p != "create") or s.perms
    types = facts.file_types(g.source, g.tclass, wanted)
    if not types:
        return []
    best = types[0]
    tree = (obj.file_class or g.tclass) == "dir"
    cmd = commands.semanage_fcontext(best, path, tree)
    if cmd is None:
        return []
    others = f" (other candidates: {', '.join(types[1:])})" if len(types) > 1 else ""
    return [Advice(
        AdviceKind.FCONTEXT, cmd, 60 if len(types) == 1 else 45,
        f"{path} carries the generic {g.target}; {g.source} may already {' '.join(wanted)} {best} "
        f"{g.tclass}s, so label the path {best}{others} rather than allowing access to everything "
        f"labelled {g.target}.",
        acts_on=path,
        evidence=(f"object: {obj.evidence}", f"policy: allow {g.source} {best}:{g.tclass} {{ {' '.join(wanted)} }}",
                  f"file_contexts: {path} -> {expected or 'no entry'}"))]
