"""Write content: a domain that may read a type was denied writing it; label the
path with the type of the same family that it may write.

setroubleshoot's ``httpd_write_content`` (and the ``*_rw_content`` family of
``public_content``/``samba_share``): web content is ``httpd_sys_content_t``,
which the web server reads; a directory it must write (uploads, a cache) is
labelled ``httpd_sys_rw_content_t``. Allowing writes to all content is the
wrong fix.

Evidence, in order (never the type names' spelling):

1. the domain may already read the object's type (the policy's rules);
2. candidates: the file types the domain may access with every denied
   permission (now, or with one boolean on, which the advice then names);
3. of those, the ones that share the object type's most specific attribute
   (``httpdcontent``: the same family of types);
4. among them, the one file_contexts uses most inside the standard tree of
   the object's type (``/var/www`` for ``httpd_sys_content_t``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.objects import FILE_CLASSES, ObjectKind
from avcfix.explain.protocol import Facts

NAME = "write_content"
REASONS = frozenset({Reason.TE_RULE, Reason.BOOLEAN})

#: Denied permissions that change content (the ones this advisor is about).
WRITE_PERMS = frozenset({"write", "append", "add_name", "remove_name", "create", "setattr", "unlink",
                         "rename", "link", "reparent", "rmdir"})
#: What "may already read" means per class.
READ_PERMS = {"dir": frozenset({"search", "read"}), "file": frozenset({"read"}),
              "lnk_file": frozenset({"read"})}
#: An attribute this large says nothing about a family of types.
MAX_FAMILY = 200


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    facts, obj = s.facts, s.obj
    if any(a.kind is AdviceKind.RESTORECON for a in earlier):
        return []  # the object is mislabelled: restoring its label comes first
    if facts is None or s.tclass not in READ_PERMS or not WRITE_PERMS.intersection(s.perms):
        return []
    if obj.kind is not ObjectKind.PATH or obj.path is None or commands.safe_path(obj.path) is None:
        return []
    if s.tclass not in FILE_CLASSES or facts.fixed_label(s.target):
        return []
    allowed = facts.granted_perms(s.source, s.target, s.tclass)
    if not READ_PERMS[s.tclass] <= allowed:
        return []  # the domain does not read this type: not content of its own family
    family = _family(facts, s.target)
    if not family:
        return []
    candidates = facts.types_with_access(s.source, s.tclass, s.perms)
    kin = {t: need for t, need in candidates.items()
           if t != s.target and family & facts.type_attributes(t)}
    if not kin:
        return []
    tree = _standard_tree(facts, s.target, obj.path)
    uses = _uses_in_tree(facts, tree, kin) if tree else {}
    close = {t: min(facts.attribute_size(a) for a in family & facts.type_attributes(t)) for t in kin}
    ranked = sorted(kin, key=lambda t: (bool(kin[t]), -uses.get(t, 0), close[t], t))
    best = ranked[0]
    if uses.get(best, 0) == 0 and len(ranked) > 1:
        return []  # nothing in file_contexts says which of several types is used here: no guess
    is_dir = (obj.file_class or s.tclass) == "dir"
    cmd = commands.semanage_fcontext(best, obj.path, tree=is_dir)
    if cmd is None:
        return []
    need = kin[best]
    boolean = commands.setsebool(need) if need else None
    if need and boolean is None:
        return []
    if boolean:
        cmd = f"{cmd} && {boolean}"
    attrs = ", ".join(sorted(family & facts.type_attributes(best)))
    why = (f"{s.source} may read {s.target} but not {' '.join(s.perms)} it: {s.target} is content it serves. "
           f"Content it must change is labelled {best} (the same family: {attrs})"
           + (f", which file_contexts uses {uses[best]} time{'s' if uses[best] != 1 else ''} under {tree}"
              if uses.get(best) else "")
           + "; label this path so rather than letting it write all of its content"
           + (f"; {best} is writable only with {need[0][0]} on" if need else "") + ".")
    return [Advice(
        AdviceKind.FCONTEXT, cmd, 55 if need else 65, why, acts_on=obj.path,
        evidence=(f"object: {obj.evidence}",
                  f"policy: {s.source} has {{ {' '.join(sorted(allowed))} }} on {s.target}:{s.tclass}",
                  f"policy: {s.source} may {' '.join(s.perms)} {best}:{s.tclass}"
                  + (f" with {need[0][0]}={'on' if need[0][1] else 'off'}" if need else ""),
                  f"attributes shared by {s.target} and {best}: {attrs}")
        + ((f"file_contexts: {best} used {uses[best]} times under {tree}",) if uses.get(best) else ()))]


def _family(facts: Facts, target: str) -> frozenset[str]:
    """The object type's specific attributes (held by at most MAX_FAMILY types)."""
    return frozenset(a for a in facts.type_attributes(target) if 1 < facts.attribute_size(a) <= MAX_FAMILY)


def _standard_tree(facts: Facts, target: str, path: str) -> str | None:
    """The directory where file_contexts puts ``target`` that holds ``path`` (the longest one)."""
    best = None
    for literal, _regex, ftype in facts.fc_dirs():
        if ftype != target or literal == "/":
            continue
        if path == literal or path.startswith(literal.rstrip("/") + "/"):
            if best is None or len(literal) > len(best):
                best = literal
    return best


def _uses_in_tree(facts: Facts, tree: str, types: Collection[str]) -> dict[str, int]:
    """How many file_contexts entries under ``tree`` give each of ``types``."""
    out: dict[str, int] = {}
    for literal, _regex, ftype in facts.fc_dirs():
        if ftype in types and (literal == tree or literal.startswith(tree.rstrip("/") + "/")):
            out[ftype] = out.get(ftype, 0) + 1
    return out
