"""A pyparsing grammar for the ``.te`` subset that audit2allow, sepolicy and people write.

Supported: ``module NAME VERSION;`` and ``policy_module(NAME, VERSION)``
headers (or none: audit2allow without ``-M`` prints bare rules);
``require { ... }`` with type, attribute, role, class and bool;
allow/auditallow/dontaudit/neverallow with ``{ }`` sets, ``~``, ``*``, ``-name``
and ``self``; allowxperm and its siblings; ``type``, ``attribute``,
``typeattribute`` and ``role ... types``; ``#`` comments. Refpolicy interface
calls (``init_daemon_domain(x_t, x_exec_t)``, ``gen_require(...)``,
``ifdef(...)``), ``if``/``optional`` blocks and a few statements that avcfix
does not model (``type_transition``, ``permissive``...) are kept verbatim as
:class:`~avcfix.policy.model.Opaque` statements.

Comments: a run of comment lines directly above a statement belongs to that
statement, a comment on the same line after a statement belongs to it, every
other comment belongs to the module; audit2allow's
``#============= domain ==============`` banners are dropped (the renderer
writes them). This is the only module that imports pyparsing; the grammar is
built per call (no module-level state).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pyparsing as pp

from avcfix.errors import PolicyError
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

_BANNER_RE = re.compile(r"^#=+ .* =+\s*$")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.\-]+|\S")
_COMMENT_OR_STRING_RE = re.compile(r'"[^"\n]*"|#[^\n]*')

#: Statements kept verbatim up to their ``;``.
OPAQUE_KEYWORDS = (
    "type_transition", "type_change", "type_member", "range_transition", "role_transition",
    "permissive", "typealias", "typebounds", "attribute_role", "roleattribute", "bool",
    "expandattribute",
)


class TeSyntaxError(PolicyError):
    """A ``.te`` file that does not parse: file, line, column and a caret line."""

    def __init__(self, filename: str, line: int, col: int, message: str, source_line: str) -> None:
        self.filename = filename
        self.line = line
        self.col = col
        self.message = message
        self.source_line = source_line
        super().__init__(str(self))

    @property
    def caret(self) -> str:
        """The offending line and a caret under the bad token."""
        pad = "".join("\t" if ch == "\t" else " " for ch in self.source_line[: max(self.col - 1, 0)])
        return f"    {self.source_line}\n    {pad}^"

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}: {self.message}\n{self.caret}"


@dataclass(frozen=True, slots=True)
class _Header:
    name: str
    version: str
    style: HeaderStyle


@dataclass(frozen=True, slots=True)
class _ReqItem:
    kind: str
    value: tuple[str, ...] | ClassPerms


@dataclass(frozen=True, slots=True)
class _Placed:
    """A parsed statement and where it is in the text."""

    start: int
    end: int
    value: Any


def _kw(word: str) -> pp.ParserElement:
    """A keyword that yields no token."""
    return _kwv(word).suppress()


def _kwv(word: str) -> pp.ParserElement:
    """A keyword that yields itself (lower case) as a token."""
    return pp.CaselessKeyword(word, ident_chars=pp.alphanums + "_-.")


def _lit(ch: str) -> pp.ParserElement:
    return pp.Suppress(pp.Literal(ch))


def _grammar() -> pp.ParserElement:
    ident = pp.Regex(r"[A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*").set_name("identifier")
    version = pp.Regex(r"[0-9]+(?:\.[0-9A-Za-z_]+)*").set_name("version")
    number = pp.Regex(r"0[xX][0-9a-fA-F]+|[0-9]+").set_name("number")
    semi = _lit(";").set_name("';'")
    comment = pp.python_style_comment
    m4_quoted = pp.QuotedString("`", end_quote_char="'", multiline=True)

    # ident[, ident]...: what pp.delimited_list builds (deprecated in pyparsing 3.1 for
    # DelimitedList, which 3.0 lacks), spelt out so every pyparsing 3 reads it alike
    ident_list = pp.Group(ident + pp.ZeroOrMore(pp.Suppress(",") + ident))
    brace_idents = pp.Group(_lit("{") - pp.OneOrMore(ident) - _lit("}").set_name("'}'"))

    # -- name sets
    set_item = pp.Group(pp.Opt(pp.Literal("-"))("neg") + ident("name"))
    brace_set = _lit("{") - pp.OneOrMore(set_item) - _lit("}").set_name("'}'")
    star = pp.Literal("*")("star")

    def make_set(tokens: pp.ParseResults) -> NameSet:
        t = list(tokens)
        complement = bool(t) and t[0] == "~"
        if complement:
            t = t[1:]
        if t and t[0] == "*":
            return NameSet(star=True, complement=complement)
        names: list[str] = []
        excluded: list[str] = []
        for item in t:
            (excluded if item.get("neg") else names).append(item["name"])
        return NameSet(tuple(names), tuple(excluded), complement=complement)

    name_set = pp.Opt(pp.Literal("~")) + (brace_set | star | pp.Group(ident("name"))).set_name(
        "a name, '{ names }' or '*'"
    )
    name_set.set_parse_action(lambda t: make_set(t))

    # -- header
    module_header = (_kw("module") - ident - version - semi).set_parse_action(
        lambda t: _Header(t[0], t[1], HeaderStyle.MODULE)
    )
    refpolicy_header = (
        _kw("policy_module") + _lit("(") - ident - _lit(",") - version - _lit(")") + pp.Opt(semi)
    ).set_parse_action(lambda t: _Header(t[0], t[1], HeaderStyle.POLICY_MODULE))
    header = module_header | refpolicy_header

    # -- require
    def req(kind: str) -> pp.ParserElement:
        return (_kw(kind) - ident_list - semi).set_parse_action(lambda t: _ReqItem(kind, tuple(t[0])))

    req_class = (_kw("class") - ident - (brace_idents | pp.Group(ident)) - semi).set_parse_action(
        lambda t: _ReqItem("class", ClassPerms(t[0], tuple(t[1])))
    )
    req_item = req("type") | req("attribute") | req("role") | req("bool") | req_class

    def make_require(tokens: pp.ParseResults) -> Require:
        fields: dict[str, list[str]] = {"type": [], "attribute": [], "role": [], "bool": []}
        classes: list[ClassPerms] = []
        for item in tokens:
            kind, value = item.kind, item.value
            if kind == "class":
                classes.append(value)
            else:
                fields[kind].extend(value)
        return Require(
            types=tuple(fields["type"]), attributes=tuple(fields["attribute"]), roles=tuple(fields["role"]),
            bools=tuple(fields["bool"]), classes=tuple(classes),
        )

    require = (_kw("require") - _lit("{") - pp.ZeroOrMore(req_item) - _lit("}") + pp.Opt(semi)).set_parse_action(
        make_require
    )

    # -- rules
    av_kw = pp.MatchFirst([_kwv(k.value) for k in RuleKind])
    av_rule = (av_kw + name_set - name_set - _lit(":") - name_set - name_set - semi).set_parse_action(
        lambda t: AvRule(RuleKind(t[0].lower()), t[1], t[2], t[3], t[4])
    )
    def to_int(s: str, loc: int, t: pp.ParseResults) -> int:
        text = t[0]
        value = int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
        if value > 0xFFFF:
            raise pp.ParseFatalException(s, loc, "expected an ioctl command number (at most 0xffff)")
        return value

    number.set_parse_action(to_int)
    xitem = pp.Group(number + pp.Opt(_lit("-") - number))
    xset = pp.Opt(pp.Literal("~"))("neg") + (_lit("{") + pp.OneOrMore(xitem) + _lit("}") | xitem)

    def make_xperm(t: pp.ParseResults) -> XpermRule:
        items = list(t)
        kind, src, tgt, cls, op = items[:5]
        rest = items[5:]
        complement = bool(rest) and rest[0] == "~"
        if complement:
            rest = rest[1:]
        ranges: list[tuple[int, int]] = []
        for item in rest:
            lo = item[0]
            hi = item[1] if len(item) > 1 else lo
            ranges.append((lo, hi))
        return XpermRule(XpermKind(kind.lower()), src, tgt, cls, op, tuple(ranges), complement)

    x_kw = pp.MatchFirst([_kwv(k.value) for k in XpermKind])
    xperm_rule = (x_kw + name_set - name_set - _lit(":") - name_set - ident - xset - semi).set_parse_action(make_xperm)

    # -- declarations
    type_decl = (
        _kw("type") - ident("name")
        + pp.Opt(_kw("alias") - (brace_idents | pp.Group(ident)))("aliases")
        + pp.Opt(_lit(",") - ident_list)("attrs")
        - semi
    ).set_parse_action(
        lambda t: TypeDecl(
            t["name"],
            attributes=tuple(t["attrs"][0]) if "attrs" in t else (),
            aliases=tuple(t["aliases"][0]) if "aliases" in t else (),
        )
    )
    attribute_decl = (_kw("attribute") - ident - semi).set_parse_action(lambda t: AttributeDecl(t[0]))
    typeattribute = (_kw("typeattribute") - ident - ident_list - semi).set_parse_action(
        lambda t: TypeAttribute(t[0], tuple(t[1]))
    )
    role_decl = (
        _kw("role") - ident("role") + pp.Opt(_kw("types") - (brace_idents | pp.Group(ident)))("types") - semi
    ).set_parse_action(lambda t: RoleTypes(t["role"], tuple(t["types"][0]) if "types" in t else ()))

    # -- opaque statements
    def opaque(expr: pp.ParserElement) -> pp.ParserElement:
        return pp.original_text_for(expr).add_parse_action(lambda t: Opaque(t[0]))

    other_kw = pp.MatchFirst([_kwv(k) for k in OPAQUE_KEYWORDS])
    # pyparsing 3.0.9 annotates SkipTo's ignore as bool; it takes an expression (annotation fixed in 3.1)
    other_stmt = opaque(other_kw - pp.SkipTo(";", ignore=pp.dbl_quoted_string | comment) - ";")  # type: ignore[arg-type]
    braces = pp.nested_expr("{", "}", ignore_expr=comment | pp.dbl_quoted_string)
    parens = pp.nested_expr("(", ")", ignore_expr=comment | m4_quoted | pp.dbl_quoted_string)
    if_block = opaque(_kw("if") - parens - braces + pp.Opt(_kw("else") - braces))
    optional_block = opaque(_kw("optional") - braces + pp.Opt(_kw("else") - braces))
    macro_call = opaque(
        pp.Regex(r"[A-Za-z_][A-Za-z0-9_]*(?=\()").set_name("interface call") + parens + pp.Opt(pp.Literal(";"))
    )

    statement = (
        require | xperm_rule | av_rule | typeattribute | type_decl | attribute_decl | role_decl
        | other_stmt | if_block | optional_block | macro_call
    )
    placed = pp.Located(statement).set_parse_action(lambda t: _Placed(t[0], t[2], t[1][0]))
    placed_header = pp.Located(header).set_parse_action(lambda t: _Placed(t[0], t[2], t[1][0]))
    # pyparsing 3.0.9's StringEnd.__init__ has no annotations
    document = pp.Opt(placed_header) + pp.ZeroOrMore(placed) + pp.StringEnd().set_name("a statement")  # type: ignore[no-untyped-call]
    document.ignore(comment)
    return document.parse_with_tabs()


def _found(text: str, loc: int) -> str:
    m = _TOKEN_RE.match(text, loc)
    return f"'{m.group(0)}'" if m else "end of file"


def _syntax_error(filename: str, text: str, exc: pp.ParseBaseException) -> TeSyntaxError:
    loc = min(exc.loc, len(text))
    # Point at the token itself, not at the whitespace before it.
    while loc < len(text) and text[loc].isspace():
        loc += 1
    lineno = pp.lineno(loc, text)
    col = pp.col(loc, text)
    line = pp.line(loc, text)
    found = _found(text, loc)
    msg = str(exc.msg)
    if "end of text" in msg or "a statement" in msg:
        message = f"expected a statement (allow, type, require, an interface call...), found {found}"
    else:
        message = f"{msg.replace('Expected', 'expected', 1)}, found {found}"
    return TeSyntaxError(filename, lineno, col, message, line)


def _comments(text: str) -> list[tuple[int, str, bool]]:
    """(offset, text, whole_line) of every ``#`` comment outside double-quoted strings."""
    out = []
    for match in _COMMENT_OR_STRING_RE.finditer(text):
        token = match.group(0)
        if not token.startswith("#"):
            continue
        start = match.start()
        line_start = text.rfind("\n", 0, start) + 1
        out.append((start, token.rstrip("\r"), text[line_start:start].strip() == ""))
    return out


def _default_name(filename: str) -> str:
    stem = PurePath(filename).name.split(".")[0]
    return stem if is_identifier(stem) else "local"


def parse_te(text: str, filename: str = "<string>") -> Module:
    """Parse ``.te`` text into a :class:`Module`.

    Raises :class:`TeSyntaxError` (a ``PolicyError``) with file, line, column and
    a caret under the bad token. A file without a header gets its name from
    ``filename`` and version ``1.0``.
    """
    try:
        parsed = list(_grammar().parse_string(text, parse_all=True))
    except pp.ParseBaseException as exc:
        raise _syntax_error(filename, text, exc) from None
    except RecursionError:
        raise TeSyntaxError(filename, 1, 1, "brackets nested too deeply to parse", text.split("\n", 1)[0][:200]) from None
    parsed = [_Placed(_skip_blank(text, p.start), _trim_end(text, p.start, p.end), p.value) for p in parsed]
    header = parsed[0] if parsed and isinstance(parsed[0].value, _Header) else None
    statements: list[_Placed] = parsed[1:] if header else parsed

    found_comments = _comments(text)
    comment_only_lines = {pp.lineno(loc, text) for loc, _t, whole in found_comments if whole}
    blank_lines = {n for n, ln in enumerate(text.split("\n"), start=1) if not ln.strip()}
    attached: dict[int, list[str]] = {i: [] for i in range(len(statements))}
    module_comments: list[str] = []
    for loc, raw, whole in found_comments:
        body = raw[1:].strip()
        if whole and _BANNER_RE.match(raw.strip()):
            continue
        owner = _owner(text, loc, whole, statements, comment_only_lines, blank_lines)
        if owner is not None and isinstance(statements[owner].value, Opaque) and _inside(loc, statements[owner]):
            continue  # part of the verbatim text already
        if owner is None or isinstance(statements[owner].value, Require):
            if owner is None or not _inside(loc, statements[owner]):
                module_comments.append(body)
        else:
            attached[owner].append(body)

    requires: list[Require] = []
    rules, declarations, opaque = [], [], []
    for i, placed in enumerate(statements):
        value = placed.value
        if isinstance(value, Require):
            requires.append(value)
            continue
        value = value.__class__(**{**_fields(value), "comments": tuple(attached[i])})
        if isinstance(value, (AvRule, XpermRule)):
            rules.append(value)
        elif isinstance(value, Opaque):
            opaque.append(value)
        else:
            declarations.append(value)
    require = Require(
        types=tuple(n for r in requires for n in r.types),
        attributes=tuple(n for r in requires for n in r.attributes),
        roles=tuple(n for r in requires for n in r.roles),
        bools=tuple(n for r in requires for n in r.bools),
        classes=tuple(c for r in requires for c in r.classes),
    )
    if header is not None:
        name, version, style = header.value.name, header.value.version, header.value.style
    else:
        name, version, style = _default_name(filename), "1.0", HeaderStyle.MODULE
    return Module(
        name=name, version=version, require=require, rules=tuple(rules), declarations=tuple(declarations),
        opaque=tuple(opaque), comments=tuple(module_comments), style=style,
    )


def _skip_blank(text: str, loc: int) -> int:
    """The offset of the first character at or after ``loc`` that is neither
    whitespace nor part of a comment."""
    while loc < len(text):
        if text[loc].isspace():
            loc += 1
        elif text[loc] == "#":
            newline = text.find("\n", loc)
            loc = len(text) if newline < 0 else newline
        else:
            break
    return loc


def _trim_end(text: str, start: int, end: int) -> int:
    """The offset just after the last character in ``text[start:end]`` that is
    neither whitespace nor part of a comment (pyparsing's end offsets can
    include the blanks and comments it skipped looking for an optional token)."""
    last = start
    loc = start
    in_string = False
    while loc < end:
        ch = text[loc]
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            newline = text.find("\n", loc)
            loc = end if newline < 0 else newline
            continue
        if not ch.isspace():
            last = loc + 1
        loc += 1
    return last


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


def _inside(loc: int, placed: _Placed) -> bool:
    return placed.start <= loc < placed.end


def _owner(text: str, loc: int, whole: bool, statements: list[_Placed], comment_lines: set[int],
           blank_lines: set[int]) -> int | None:
    """Index of the statement a comment at ``loc`` belongs to, or ``None`` (the module).

    Before the first statement a comment block must sit directly above a
    statement to belong to it (the module's own comments are separated by a
    blank line); after it, blank lines may come in between too (audit2allow
    puts one between its analysis comments and the section banner)."""
    for i, placed in enumerate(statements):
        if _inside(loc, placed):
            return i
    line = pp.lineno(loc, text)
    if not whole:
        for i in range(len(statements) - 1, -1, -1):
            if statements[i].end <= loc:
                end_line = pp.lineno(max(statements[i].end - 1, 0), text)
                return i if end_line == line else None
        return None
    after_first = any(placed.end <= loc for placed in statements)
    allowed = comment_lines | blank_lines if after_first else comment_lines
    for i, placed in enumerate(statements):
        if placed.start > loc:
            start_line = pp.lineno(placed.start, text)
            if all(n in allowed for n in range(line + 1, start_line)):
                return i
            return None
    return None
