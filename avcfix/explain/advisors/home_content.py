"""Home content: a file in a home directory carries another label than file_contexts gives it.

setroubleshoot's ``home_tmp_bad_labels`` and its user-content cousins:
``~/.ssh/authorized_keys`` copied in as ``user_home_t`` (sshd wants
``ssh_home_t``), ``~/public_html`` left ``user_home_t`` (httpd wants
``httpd_user_content_t``). The expected type comes from file_contexts as
selabel reads it, ``file_contexts.homedirs`` included (genhomedircon expands
``HOME_DIR`` there for each home root; a private policy root copies the
expansion of the machine that built it, usually ``/home/[^/]+`` and ``/root``).

The fix restores the highest directory below the home directory that
file_contexts labels like the object (``restorecon -Rv ~/.ssh``), else the
object alone. When the policy lets the domain use the expected type (and
search the home directory) only under a boolean, the boolean is part of the
fix (``httpd_enable_homedirs`` for ``~/public_html``).
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation, labels
from avcfix.explain.advisors.restorecon import mislabeled
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.protocol import BoolSetting, Facts

NAME = "home_content"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN, Reason.CONSTRAINT, Reason.DONTAUDIT})

#: The type file_contexts gives a home root (``/home``): a directory below it is a home directory.
HOME_ROOT_TYPE = "home_root_t"


def home_dir(facts: Facts, path: str) -> str | None:
    """The home directory holding ``path`` (``/home/u``, ``/root``), by file_contexts:
    the child of a directory labelled ``home_root_t``, or ``/root``."""
    for a in labels.ancestors(path):
        if a == "/root" or facts.expected_file_type(labels.dirname(a), "dir") == HOME_ROOT_TYPE:
            return a
    return None


def restore_root(facts: Facts, path: str, is_dir: bool, home: str, expected: str) -> str:
    """The highest directory between ``home`` (excluded) and ``path`` that
    file_contexts labels ``expected`` with everything down to ``path``: at
    most the object's own directory (``~/.ssh`` for ``~/.ssh/authorized_keys``),
    never a whole home tree."""
    top = path if is_dir else None
    for a in reversed(labels.ancestors(path)):
        if not labels.holds(home, a) or a == home or labels.dirname(path) != a:
            break
        if facts.expected_file_type(a, "dir") != expected:
            break
        top = a
    return top or path


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    found = mislabeled(s)
    facts = s.facts
    if found is None or facts is None:
        return []
    path, expected = found
    if expected in labels.HOME_GENERIC and s.target not in labels.HOME_GENERIC:
        return []  # a specific label set on purpose in a home: restoring it to the home's type undoes that
    home = home_dir(facts, path)
    if home is None or home == path:
        return []
    is_dir = (s.obj.file_class or s.tclass) == "dir"
    where = restore_root(facts, path, is_dir, home, expected)
    restore = commands.restorecon(where, recursive=where != path or is_dir)
    if restore is None:
        return []
    wanted = labels.perms_text(s.perms)
    allowed, bools = labels.policy_word(facts, s.source, expected, s.tclass, s.perms)
    evidence = [f"object: {s.obj.evidence}", f"file_contexts (homedirs): {path} -> {expected}",
                f"log: tcontext type {s.target}"]
    home_type = facts.expected_file_type(home, "dir")
    search_ok, search_bools = (True, ()) if home_type is None else \
        labels.policy_word(facts, s.source, home_type, "dir", ("search",))
    needed: tuple[BoolSetting, ...] = ()
    if allowed and search_ok:
        confidence = 95
        after = f"{s.source} may already {wanted} {expected} {s.tclass}s, so restoring the label fixes this."
        evidence.append(f"policy: allow {s.source} {expected}:{s.tclass} {wanted}")
    else:
        # one boolean that allows all that is missing: the content and the home directory's search
        options = sorted(b for b in set(bools) | set(search_bools)
                         if (allowed or b in bools) and (search_ok or b in search_bools))
        if options:
            needed = (options[0],)
            name = needed[0][0]
            confidence = 88
            after = (f"{s.source} may {wanted} {expected} {s.tclass}s"
                     + ("" if search_ok else f" and search the home directory ({home_type})")
                     + f" only with the boolean {name}, so the fix is both.")
            evidence.append(f"policy: allow {s.source} {expected}:{s.tclass} {wanted} under {name}")
            if not search_ok:
                evidence.append(f"policy: allow {s.source} {home_type}:dir search under {name}")
        else:
            confidence = 50
            after = (f"but {s.source} may not {wanted} {expected} {s.tclass}s"
                     + ("" if search_ok else f" or search {home_type} directories") + " even then: "
                     "restoring the label alone does not fix this.")
            evidence.append(f"policy: no rule (nor one boolean) allows {s.source} {expected}:{s.tclass} {wanted}")
    cmd = restore
    if needed:
        sb = commands.setsebool(needed)
        if sb is None:
            return []
        cmd = f"{restore} && {sb}"
    tree = f" (file_contexts labels {where} and everything below it {expected})" if where != path else ""
    return [Advice(
        AdviceKind.RESTORECON, cmd, confidence,
        f"{path} in the home directory {home} is labelled {s.target} but file_contexts expect "
        f"{expected}{tree}: it was copied or created without its label; {after}",
        acts_on=where, evidence=tuple(evidence))]
