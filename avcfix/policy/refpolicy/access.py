"""Read m4-expanded policy text (what the devel Makefile hands checkmodule) as access.

Pure: a small tokenizer for the statements refpolicy macros expand to. Each
``allow`` rule gives its (source, target, class, permission) tuples; a target
equal to its source is written ``self`` (one type: the same access). Rules
inside ``optional { }``, ``if (...) { } else { }`` and tunable blocks are
marked ``conditional`` (they are counted too: the worst case of what the text
may grant). ``require { }`` blocks and ``module`` headers are skipped; every
other statement (``dontaudit``, ``type_transition``, ``typeattribute``,
``role``, an allow rule with ``~``, ``*`` or ``-name`` sets...) is listed in
``other`` by its first word, so a caller can refuse text that does more than
plain allow rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from avcfix.policy.model import SELF

_TOKEN_RE = re.compile(r"#[^\n]*|[A-Za-z0-9_.$\-]+|\S")

#: One access: (source, target, class, permission); target ``self`` for the source itself.
Access = tuple[str, str, str, str]


@dataclass
class Expanded:
    """The access of a piece of expanded text."""

    certain: set[Access] = field(default_factory=set)
    conditional: set[Access] = field(default_factory=set)
    #: first words of statements that are not plain allow rules (in order, repeated)
    other: list[str] = field(default_factory=list)

    @property
    def access(self) -> set[Access]:
        """Everything the text may grant (worst case: every block taken)."""
        return self.certain | self.conditional


def tokens(text: str) -> list[str]:
    """The tokens of ``text``, comments dropped."""
    return [t for t in _TOKEN_RE.findall(text) if not t.startswith("#")]


def _name_set(toks: list[str], i: int) -> tuple[list[str] | None, int]:
    """A plain name set at ``toks[i]`` (``a`` or ``{ a b }``): (names, next index);
    names None for ``~``, ``*`` or ``-name`` sets (not plain)."""
    if i >= len(toks):
        return None, i
    t = toks[i]
    if t == "{":  # nested braces (a permission set inside a set) are flattened, as checkpolicy does
        names: list[str] | None = []
        depth, i = 1, i + 1
        while i < len(toks) and depth:
            tok = toks[i]
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
            elif tok in ("~", "*", "-", ";") or tok.startswith("-"):
                names = None
            elif names is not None:
                names.append(tok)
            i += 1
        return names, i
    if t in ("~", "*", ":", ";", "}") or t.startswith("-"):
        return None, i + 1
    return [t], i + 1


def _allow(stmt: list[str]) -> list[tuple[str, str, str, str]] | None:
    """The tuples of ``allow S T:C P`` (statement tokens without ``;``); None if not plain."""
    srcs, i = _name_set(stmt, 1)
    tgts, i = _name_set(stmt, i)
    if i >= len(stmt) or stmt[i] != ":":
        return None
    classes, i = _name_set(stmt, i + 1)
    perms, i = _name_set(stmt, i)
    if None in (srcs, tgts, classes, perms) or i != len(stmt) or not (srcs and tgts and classes and perms):
        return None
    out = []
    for s in srcs:
        for t in tgts:
            tt = SELF if t == s else t
            for c in classes:
                for p in perms:
                    out.append((s, tt, c, p))
    return out


def parse_expanded(text: str) -> Expanded:
    """The access of expanded policy text (see the module docstring)."""
    return parse_tokens(tokens(text))


def parse_tokens(toks: list[str]) -> Expanded:
    """:func:`parse_expanded` over tokens."""
    out = Expanded()
    stack: list[str] = []  # "cond" or "require" or "block"
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if t == "}":
            if stack:
                stack.pop()
            i += 1
            if i < n and toks[i] == "else" and i + 1 < n and toks[i + 1] == "{":
                stack.append("cond")
                i += 2
            continue
        if t == ";":
            i += 1
            continue
        if t == "require" and i + 1 < n and toks[i + 1] == "{":
            depth, i = 1, i + 2
            while i < n and depth:
                depth += {"{": 1, "}": -1}.get(toks[i], 0)
                i += 1
            continue
        if t == "optional" and i + 1 < n and toks[i + 1] == "{":
            stack.append("cond")
            i += 2
            continue
        if t == "if" and i + 1 < n and toks[i + 1] == "(":
            j = i + 2
            while j < n and toks[j] != "{":
                j += 1
            stack.append("cond")
            i = j + 1
            continue
        j, block = i, False
        while j < n and toks[j] not in (";", "}"):
            if toks[j] == "{":
                if toks[i] not in _RULE_WORDS:
                    block = True  # an unknown block: refused, its body read as conditional
                    break
                depth = 0
                while j < n:  # a name set, maybe nested
                    depth += {"{": 1, "}": -1}.get(toks[j], 0)
                    if depth == 0:
                        break
                    j += 1
            j += 1
        stmt = toks[i:j]
        i = j + 1 if j < n and toks[j] in (";", "{") else j
        if block:
            out.other.append(stmt[0] if stmt else "{")
            stack.append("cond")
            continue
        if not stmt:
            i = max(i, j + 1)
            continue
        if stmt[0] == "module":
            continue
        if stmt[0] == "allow":
            tuples = _allow(stmt)
            if tuples is not None:
                (out.conditional if "cond" in stack else out.certain).update(tuples)
                continue
        out.other.append(stmt[0])
    return out


#: Statements whose ``{`` opens a name set, not a block.
_RULE_WORDS = frozenset({
    "allow", "dontaudit", "auditallow", "neverallow", "allowxperm", "dontauditxperm", "auditallowxperm",
    "neverallowxperm", "type_transition", "typeattribute", "type", "attribute", "role", "class",
    "type_change", "type_member", "range_transition", "role_transition", "roleattribute", "typealias",
    "attribute_role", "permissive", "bool", "gen_tunable", "sid", "user",
})
