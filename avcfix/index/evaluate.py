"""Pure evaluation over index data: conditional and constraint expressions, MLS levels.

No policy access here: the callers pass names, sets and orders read from the
index (:mod:`avcfix.index.facts`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

#: An MLS level: (sensitivity order, category orders).
Level = tuple[int, frozenset[int]]


def eval_cond(tokens: Sequence[str], state: Mapping[str, bool]) -> bool:
    """A conditional expression in postfix (``b:NAME`` / ``o:OP`` tokens) under ``state``."""
    stack: list[bool] = []
    for tok in tokens:
        kind, _, val = tok.partition(":")
        if kind == "b":
            stack.append(bool(state.get(val, False)))
        elif val == "!":
            stack.append(not stack.pop())
        else:
            b = stack.pop()
            a = stack.pop()
            if val == "&&":
                stack.append(a and b)
            elif val == "||":
                stack.append(a or b)
            elif val == "^":
                stack.append(a != b)
            elif val == "==":
                stack.append(a == b)
            elif val == "!=":
                stack.append(a != b)
            else:
                raise ValueError(f"unknown conditional operator {val!r}")
    return stack[-1] if stack else False


def parse_level(text: str, sens: Mapping[str, int], cats: Mapping[str, int], *,
                loose: bool = False) -> Level | None:
    """``s0:c1,c3.c5`` -> (order of s0, {1, 3, 4, 5}); ``None`` when a name is unknown.

    A category range whose end is not above its start (``c5.c3``, ``c5.c5``)
    is ``None``, as libsepol's context_to_sid rejects it; with ``loose`` it
    stands for its two ends ({3, 5}), as setools' ``lookup_range`` reads it."""
    name, _, catlist = text.partition(":")
    if name not in sens:
        return None
    found: set[int] = set()
    if catlist:
        for item in catlist.split(","):
            lo, dot, hi = item.partition(".")
            if lo not in cats or (dot and hi not in cats):
                return None
            a = cats[lo]
            b = cats[hi] if dot else a
            if dot and b <= a:
                if not loose:
                    return None
                found.update((a, b))
                continue
            found.update(range(a, b + 1))
    return sens[name], frozenset(found)


def parse_range(text: str, sens: Mapping[str, int], cats: Mapping[str, int], *,
                loose: bool = False) -> tuple[Level, Level] | None:
    low_text, _, high_text = text.partition("-")
    low = parse_level(low_text, sens, cats, loose=loose)
    high = parse_level(high_text, sens, cats, loose=loose) if high_text else low
    if low is None or high is None:
        return None
    return low, high


def dom(a: Level, b: Level) -> bool:
    """``a`` dominates ``b``."""
    return a[0] >= b[0] and a[1] >= b[1]


_MLS_OPS: dict[str, Callable[[Level, Level], bool]] = {
    "==": lambda a, b: a == b,
    "eq": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "dom": dom,
    "domby": lambda a, b: dom(b, a),
    "incomp": lambda a, b: not dom(a, b) and not dom(b, a),
}

_OPERANDS = frozenset({"u1", "u2", "u3", "r1", "r2", "r3", "t1", "t2", "t3", "l1", "l2", "h1", "h2"})
_COMPARISONS = frozenset(_MLS_OPS)


class ConstraintContext:
    """What a constraint compares for one access."""

    __slots__ = ("values", "levels", "expand")

    def __init__(self, values: Mapping[str, str], levels: Mapping[str, Level],
                 expand: Callable[[str, str], frozenset[str]]) -> None:
        #: u1 u2 r1 r2 t1 t2 -> names.
        self.values = values
        #: l1 h1 l2 h2 -> levels (empty for a non-MLS policy).
        self.levels = levels
        #: (operand kind "u"/"r"/"t", name) -> the names it stands for (attributes expanded).
        self.expand = expand


def eval_constraint(tokens: Sequence[object], ctx: ConstraintContext) -> tuple[bool, str]:
    """(passes, text): the postfix expression's value, and its text with each
    failed comparison marked ``-Fail-`` as libsepol marks it: ``((u1 == u2
    -Fail-) or (t1 == can_change_object_identity -Fail-))``. Every comparison
    is evaluated (no short cut), so every failed one is marked."""
    # stack items: (value, text, operator at the top of this sub-expression or "")
    stack: list[tuple[bool, str, str]] = []
    pending: list[object] = []
    for tok in tokens:
        if isinstance(tok, list) or (isinstance(tok, str) and tok in _OPERANDS):
            pending.append(tok)
            continue
        op = str(tok)
        if op == "not":
            v, text, _top = stack.pop()
            stack.append((not v, f"not ({text})" if _top else f"not {text}", ""))
        elif op in ("and", "or"):
            b, tb, topb = stack.pop()
            a, ta, topa = stack.pop()
            ta = ta if topa in ("", op) else f"({ta})"
            tb = tb if topb in ("", op) else f"({tb})"
            stack.append(((a and b) if op == "and" else (a or b), f"{ta} {op} {tb}", op))
        elif op in _COMPARISONS:
            right = pending.pop()
            left = pending.pop()
            ok = _compare(str(left), right, op, ctx)
            shown = right if isinstance(right, str) else _names(right)
            stack.append((ok, f"({left} {op} {shown}{'' if ok else ' -Fail-'})", ""))
        else:
            raise ValueError(f"unknown constraint token {op!r}")
    if not stack:
        return True, ""
    value, text, _top = stack[-1]
    return value, f"({text})"


def _names(items: object) -> str:
    names = list(items) if isinstance(items, list) else [str(items)]
    return names[0] if len(names) == 1 else "{ " + " ".join(str(n) for n in names) + " }"


def _compare(left: str, right: object, op: str, ctx: ConstraintContext) -> bool:
    if left[0] in "lh":
        a = ctx.levels.get(left)
        b = ctx.levels.get(str(right)) if isinstance(right, str) else None
        if a is None or b is None:
            return True  # no MLS in this policy or context: nothing to compare
        return _MLS_OPS[op](a, b)
    kind = left[0]
    value = ctx.values.get(left, "")
    if isinstance(right, str) and right in _OPERANDS:
        other = ctx.values.get(right, "")
        same = value == other
    else:
        names: set[str] = set()
        for n in right if isinstance(right, list) else [right]:
            names |= ctx.expand(kind, str(n))
        same = value in names
    if op in ("==", "eq", "dom", "domby"):
        return same
    if op == "!=":
        return not same
    return not same  # incomp on names: treated as "not equal"
