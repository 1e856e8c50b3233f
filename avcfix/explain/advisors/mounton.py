"""Mounton: a file system mounted on a directory the domain may not mount on.

setroubleshoot's ``mounton`` plugin. The kernel checks ``mounton`` on the
mount point (the denied object); the fix is to label that directory (only it,
not what is below: the mounted file system brings its own labels) with a type
the domain may mount on, the one file_contexts gives the system's mount points
(``/mnt/*``, ``/media/*``: ``mnt_t``), when the policy lets the domain mount on
it: ``semanage fcontext -a -t mnt_t '/path' && restorecon -v /path``.
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation, labels
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "mounton"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN, Reason.DONTAUDIT})

#: Standard mount points: the type file_contexts gives them is the mount-point label.
STANDARD_MOUNT_POINTS = ("/mnt/x", "/media/x", "/mnt", "/media")


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    facts = s.facts
    t = labels.target(s)
    if facts is None or t is None or "mounton" not in s.perms or commands.is_system_tree(t.path):
        return []
    if labels.relabelled(earlier, t.path):
        return []
    candidates = {name: granted for name, granted in facts.label_candidates(s.source, t.file_class, ("mounton",))}
    if not candidates or s.target in candidates:
        return []
    standard = []
    for p in STANDARD_MOUNT_POINTS:
        ty = facts.expected_file_type(p, "dir")
        if ty is not None and ty in candidates and ty not in standard:
            standard.append(ty)
    if standard:
        best, confidence = standard[0], 80
        why_type = (f"the type file_contexts gives the system's mount points ({', '.join(STANDARD_MOUNT_POINTS[:2])}), "
                    f"and {s.source} may mount on it")
    else:
        best = min(candidates, key=lambda n: (len(labels.extra_modify(candidates[n], ("mounton",))),
                                              -len(facts.fc_entries(n)), n))
        confidence = 45
        why_type = f"a type {s.source} may mount on (no standard mount point type fits: check it)"
    cmd = commands.semanage_fcontext(best, t.path, tree=False)
    if cmd is None:
        return []
    return [Advice(
        AdviceKind.FCONTEXT, cmd, confidence,
        f"{s.source} may not mount on {t.path} ({s.target}); label the mount point {best}, {why_type}. "
        "Only the directory is relabelled: the mounted file system brings its own labels.",
        acts_on=t.path,
        evidence=(f"object: {s.obj.evidence}", f"policy: allow {s.source} {best}:{t.file_class} mounton",
                  f"log: mounton denied on {s.target}"))]
