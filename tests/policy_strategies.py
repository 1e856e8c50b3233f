"""Hypothesis strategies for policy modules (used by the grammar and merge tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from avcfix.names.identifiers import is_identifier
from avcfix.policy.model import (
    AttributeDecl,
    AvRule,
    ClassPerms,
    HeaderStyle,
    Module,
    NameSet,
    Opaque,
    Require,
    RoleTypes,
    RuleKind,
    TypeAttribute,
    TypeDecl,
    XpermKind,
    XpermRule,
)

names = st.from_regex(r"[a-z][a-z0-9_]{0,6}_t", fullmatch=True).filter(is_identifier)
perms = st.sampled_from(["read", "write", "getattr", "open", "ioctl", "execute", "name_bind", "search"])
classes = st.sampled_from(["file", "dir", "tcp_socket", "udp_socket", "process", "capability"])
comment_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)
comments = st.lists(comment_text, max_size=2).map(tuple)


@st.composite
def name_sets(draw, items, allow_fancy=True):
    kind = draw(st.sampled_from(["one", "many", "complement", "star", "excl"] if allow_fancy else ["one", "many"]))
    if kind == "one":
        return NameSet.of(draw(items))
    if kind == "star":
        return NameSet(star=True)
    chosen = tuple(draw(st.lists(items, min_size=1, max_size=3)))
    if kind == "complement":
        return NameSet(chosen, complement=True)
    if kind == "excl":
        return NameSet(chosen, (draw(items),) if chosen else ())
    return NameSet(chosen)


@st.composite
def av_rules(draw):
    return AvRule(draw(st.sampled_from(list(RuleKind))), draw(name_sets(names, False)),
                  draw(name_sets(names | st.just("self"), False)), draw(name_sets(classes, False)),
                  draw(name_sets(perms)), draw(comments))


@st.composite
def xperm_rules(draw):
    ranges = draw(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)), min_size=1, max_size=3))
    return XpermRule(draw(st.sampled_from(list(XpermKind))), NameSet.of(draw(names)), NameSet.of("self"),
                     NameSet.of(draw(classes)), "ioctl", tuple(ranges), draw(st.booleans()), draw(comments))


decls = st.one_of(
    st.builds(TypeDecl, names, st.lists(names, max_size=2).map(tuple), st.lists(names, max_size=2).map(tuple), comments),
    st.builds(AttributeDecl, names, comments),
    st.builds(TypeAttribute, names, st.lists(names, min_size=1, max_size=2).map(tuple), comments),
    st.builds(RoleTypes, st.sampled_from(["system_r", "object_r", "staff_r"]),
              st.lists(names, max_size=2).map(tuple), comments),
)
opaques = st.builds(Opaque, st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["files_type", "init_daemon_domain"]),
                                      names), comments)
requires = st.builds(
    Require, st.lists(names, max_size=3).map(tuple), st.lists(names, max_size=2).map(tuple),
    st.lists(st.sampled_from(["system_r", "staff_r"]), max_size=2).map(tuple),
    st.lists(st.builds(ClassPerms, classes, st.lists(perms, min_size=1, max_size=3).map(tuple)), max_size=2).map(tuple),
    st.lists(st.sampled_from(["httpd_enable_cgi", "allow_ypbind"]), max_size=1).map(tuple),
)
modules = st.builds(
    Module, names, st.sampled_from(["1.0", "1.1", "2"]), requires,
    st.lists(st.one_of(av_rules(), xperm_rules()), max_size=6).map(tuple),
    st.lists(decls, max_size=4).map(tuple), st.lists(opaques, max_size=2).map(tuple),
    st.lists(comment_text, max_size=3).map(tuple), st.sampled_from(list(HeaderStyle)),
)
