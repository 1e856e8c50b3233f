"""Custom location: content kept outside the standard location, with a generic label.

setroubleshoot's answer for a web root moved to ``/srv/site`` (labelled
``var_t``/``default_t``): label it as file_contexts labels the standard
location. Two advices, both on the top custom directory (the first path
component below a system tree: ``/srv/site`` for ``/srv/site/index.html``;
never a system tree itself):

1. ``semanage fcontext -a -t TYPE '/srv/site(/.*)?' && restorecon -Rv /srv/site``
   (kind ``fcontext``), first: it grants exactly what the policy already lets
   the domain do to TYPE, nothing the standard tree's other entries would add.
2. ``semanage fcontext -a -e /var/www /srv/site && restorecon -Rv /srv/site``
   (kind ``fcontext_equal``), second: the custom tree then follows every rule
   of the standard one (``cgi-bin``, ``logs``...), right for a whole moved
   docroot but broader than the denial asks.

TYPE is chosen by evidence, never by its name: among the specific types the
domain may use with the denied permissions (the policy), those granting the
fewest other modifying permissions (least privilege), then those file_contexts
assigns to the most standard trees (``DIR(/.*)?`` entries) in the custom
path's own system tree, then anywhere. The equivalence source is the top
directory of such an entry: a literal tree of that type, the one holding most
entries of the type. A unique best type backed by a standard tree gets 75
(the equivalence 70); a tie or no standard tree stays below 50.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation, labels
from avcfix.explain.generic import GENERIC_FILE_TYPES
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.protocol import Facts

NAME = "custom_location"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN, Reason.DONTAUDIT})

#: Generic types of places whose files are created at run time (``/tmp``,
#: ``/run``, ``/dev/shm``): a file context there does not last (the file comes
#: back with the directory's type when the program creates it again); the fix
#: is the domain's own type with a type transition, in its module.
TRANSIENT_TYPES = frozenset({"tmp_t", "tmpfs_t", "var_run_t", "var_lock_t"})

#: Most other candidate types named in the advice.
MAX_OTHERS = 4

#: A file_contexts tree entry with a literal top directory: ``/var/www(/.*)?``.
_LITERAL_TREE = re.compile(r"^(/[A-Za-z0-9_@%+,:=~-]+(?:/[A-Za-z0-9_@%+,:=~-]+)*)\(/\.\*\)\?$")
_TREE_SUFFIX = "(/.*)?"


def literal_trees(facts: Facts, type_name: str) -> list[str]:
    """Top directories of the literal ``DIR(/.*)?`` entries of ``type_name`` that
    file_contexts really labels ``type_name`` (checked with selabel)."""
    out = []
    for regex, _flag in facts.fc_entries(type_name):
        m = _LITERAL_TREE.match(regex)
        if m and facts.expected_file_type(m.group(1), "dir") == type_name:
            out.append(m.group(1))
    return sorted(set(out))


#: What a tree's files are at least read with (a directory's label also goes to its files).
_FILE_READ = ("getattr", "open", "read")


def rank(facts: Facts, s: Situation, perms: tuple[str, ...], near: str,
         tree: bool) -> list[tuple[tuple[int, int, int], str]]:
    """(key, type) for every candidate type, best first (see the module docstring).
    For a tree the type also goes to its files: what else the domain may do to
    such files (run them, write them) counts against it too."""
    rows: list[tuple[tuple[int, int, int], str]] = []
    for name, granted in facts.label_candidates(s.source, s.tclass, perms):
        entries = facts.fc_entries(name)
        trees = [e for e, _ in entries if e.endswith(_TREE_SUFFIX)]
        same = [e for e in trees if near != "/" and e.startswith(near + "/")]
        extra = labels.extra_modify(granted, perms)
        if tree and s.tclass != "file":
            extra |= labels.extra_modify(facts.granted_perms(s.source, name, "file"), _FILE_READ)
        key = (len(extra), -len(same), -len(trees))
        rows.append((key, name))
    rows.sort(key=lambda r: (r[0], -len(facts.fc_entries(r[1])), r[1]))
    return rows


def _tree_name(regex: str) -> str:
    """The last name of a tree entry's directory: ``www`` for ``/srv/([^/]*/)?www(/.*)?``."""
    return regex[: -len(_TREE_SUFFIX)].rstrip("/").rsplit("/", 1)[-1]


def source_tree(facts: Facts, type_name: str, custom: str) -> str | None:
    """The standard tree to copy: the literal tree of ``type_name`` holding most of its entries."""
    trees = [t for t in literal_trees(facts, type_name)
             if not commands.is_system_tree(t) and not labels.holds(t, custom) and not labels.holds(custom, t)]
    if not trees:
        return None
    entries = [e for e, _ in facts.fc_entries(type_name)]
    return min(trees, key=lambda t: (-sum(1 for e in entries if e.startswith(t + "/") or e.startswith(t + "(")),
                                     len(t), t))


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    g, facts = s.group, s.facts
    t = labels.target(s)
    if facts is None or t is None or g.target not in GENERIC_FILE_TYPES or facts.fixed_label(g.target):
        return []
    if g.target in TRANSIENT_TYPES:
        return []  # created at run time: a label there does not last (see TRANSIENT_TYPES)
    if "mounton" in s.perms:
        return []  # a mount point, not content: the mounton advisor labels the directory alone
    if labels.relabelled(earlier, t.path):
        return []
    expected = facts.expected_file_type(t.path, t.file_class)
    if expected is not None and expected not in GENERIC_FILE_TYPES and expected != g.target:
        return []  # file_contexts has a specific type for it: restorecon covers it
    top = labels.top_custom_dir(t.path)
    if commands.is_system_tree(top) or facts.expected_file_type(top, "dir") not in (None, *GENERIC_FILE_TYPES):
        return []  # the top directory is labelled on purpose: not a custom location
    tree = top != t.path or t.file_class == "dir"
    if not tree:
        # a file right in a system directory (/var/log/maillog, /etc/app.conf) carries that
        # directory's type by design: not content in a custom place (a type would be a guess)
        return []
    wanted = tuple(p for p in s.perms if p != "create") or s.perms
    ranked = rank(facts, s, wanted, labels.system_tree_of(t.path), tree)
    if tree:
        # a tree is walked: keep types whose directories the domain may search too
        ranked = [r for r in ranked if facts.allows(s.source, r[1], "dir", ("search",))]
    if not ranked:
        return []
    (best_key, best), others = ranked[0], [n for _, n in ranked[1:1 + MAX_OTHERS]]
    unique = len(ranked) == 1 or ranked[1][0] != best_key
    standard = source_tree(facts, best, top)
    # 70 or more only when file_contexts names this very place: a standard tree of the
    # same name as the custom directory or the object's own (/data/www and /var/www);
    # otherwise the least privileged type is a judgement (mysqld_t may merely search
    # httpd_sys_content_t directories, through the daemon attribute)
    place = t.path if t.file_class == "dir" else labels.dirname(t.path)
    names = {place.rstrip("/").rsplit("/", 1)[-1]} - {""}
    named = any(_tree_name(r) in names for r, _ in facts.fc_entries(best) if r.endswith(_TREE_SUFFIX))
    strong = unique and best_key[0] == 0 and standard is not None and named
    cmd = commands.semanage_fcontext(best, top, tree)
    if cmd is None:
        return []
    wanted_text = labels.perms_text(wanted)
    others_text = f" Other types it may use: {', '.join(others)}." if others else ""
    where = f"{top} and everything below it" if tree else top
    evidence = (f"object: {s.obj.evidence}", f"file_contexts: {t.path} -> {expected or 'no entry'}",
                f"policy: allow {s.source} {best}:{s.tclass} {wanted_text}",
                f"file_contexts: {best} labels {-best_key[2]} standard trees"
                + (f", {standard} among them" if standard else ""))
    out = [Advice(
        AdviceKind.FCONTEXT, cmd, 75 if strong else (60 if unique and best_key[0] == 0 and standard else 45),
        f"{t.path} is in a custom location labelled with the generic {g.target}; {s.source} may "
        f"{wanted_text} {best} {s.tclass}s, the type file_contexts gives the standard location"
        + (f" ({standard})" if standard else "") + f": label {where} {best}."
        + ("" if strong else " Several types fit equally well: check which one the content really is.")
        + others_text,
        acts_on=top, evidence=evidence)]
    if tree and standard is not None:
        eq = commands.semanage_fcontext_equal(standard, top)
        if eq is not None:
            out.append(Advice(
                AdviceKind.FCONTEXT_EQUAL, eq, 70 if strong else (55 if unique and best_key[0] == 0 else 40),
                f"or label {top} exactly as file_contexts labels the standard location {standard} "
                f"({best} and the rules below it): right when {top} replaces {standard} as a whole.",
                acts_on=top, evidence=evidence[:3] + (f"file_contexts: {standard}(/.*)? -> {best}",)))
    return out
