"""Render a :class:`~avcfix.policy.model.Module` as ``.te`` or CIL text.

Both renderings are byte-for-byte deterministic: the model keeps everything
in canonical order, and nothing here iterates over a set. The ``.te`` layout
is audit2allow's (header, require block, then one
``#============= domain ==============`` section per source domain), with the
module's comments after the header and evidence comments above each rule.
:func:`avcfix.policy.te_parse.parse_te` reads it back to the same module.
"""

from __future__ import annotations

from collections.abc import Iterable

from avcfix.errors import PolicyError
from avcfix.policy.model import (
    AttributeDecl,
    AvRule,
    Declaration,
    HeaderStyle,
    Module,
    NameSet,
    RoleTypes,
    Rule,
    TypeAttribute,
    TypeDecl,
    clean_comment,
)

INDENT = "\t"


class NotRepresentable(PolicyError):
    """The module uses something the requested output language cannot express."""


def section_banner(domain: str) -> str:
    """audit2allow's section line for one source domain."""
    return f"#============= {domain} =============="


def _comment_lines(comments: Iterable[str], mark: str = "#") -> list[str]:
    lines = []
    for text in comments:
        text = clean_comment(text)
        lines.append(f"{mark} {text}" if text else mark)
    return lines


def format_xperms(ranges: tuple[tuple[int, int], ...], complement: bool = False) -> str:
    """``{ 0x8910 0x8927-0x892a }`` (braces even for one value, as checkpolicy prints)."""
    items = [f"0x{lo:x}" if lo == hi else f"0x{lo:x}-0x{hi:x}" for lo, hi in ranges]
    return ("~" if complement else "") + "{ " + " ".join(items) + " }"


def rule_te(rule: Rule) -> str:
    """One rule as a ``.te`` statement (no comments)."""
    head = f"{rule.kind.value} {rule.sources} {rule.targets}:{rule.classes}"
    if isinstance(rule, AvRule):
        return f"{head} {rule.perms};"
    return f"{head} {rule.operation} {format_xperms(rule.ranges, rule.complement)};"


def declaration_te(decl: Declaration) -> str:
    """One declaration as a ``.te`` statement (no comments)."""
    if isinstance(decl, TypeDecl):
        text = f"type {decl.name}"
        if decl.aliases:
            text += " alias " + str(NameSet(decl.aliases))
        if decl.attributes:
            text += ", " + ", ".join(decl.attributes)
        return text + ";"
    if isinstance(decl, AttributeDecl):
        return f"attribute {decl.name};"
    if isinstance(decl, TypeAttribute):
        return f"typeattribute {decl.type} {', '.join(decl.attributes)};"
    if isinstance(decl, RoleTypes):
        if not decl.types:
            return f"role {decl.role};"
        return f"role {decl.role} types {NameSet(decl.types)};"
    raise TypeError(f"not a declaration: {decl!r}")


def _require_te(module: Module) -> list[str]:
    req = module.require
    if req.is_empty:
        return []
    lines = ["require {"]
    lines += [f"{INDENT}type {n};" for n in req.types]
    lines += [f"{INDENT}attribute {n};" for n in req.attributes]
    lines += [f"{INDENT}role {n};" for n in req.roles]
    lines += [f"{INDENT}bool {n};" for n in req.bools]
    lines += [f"{INDENT}class {cp.name} {NameSet(cp.perms)};" for cp in req.classes]
    lines.append("}")
    return lines


def render_te(module: Module) -> str:
    """The module as ``.te`` text, ending with one newline."""
    if module.style is HeaderStyle.POLICY_MODULE:
        blocks: list[list[str]] = [[f"policy_module({module.name}, {module.version})"]]
    else:
        blocks = [[f"module {module.name} {module.version};"]]
    if module.comments:
        blocks.append(_comment_lines(module.comments))
    require = _require_te(module)
    if require:
        blocks.append(require)
    if module.declarations:
        lines: list[str] = []
        for decl in module.declarations:
            lines += _comment_lines(decl.comments) + [declaration_te(decl)]
        blocks.append(lines)
    unsectioned = [op for op in module.opaque if module.section_of(op) is None]
    if unsectioned:
        lines = []
        for op in unsectioned:
            lines += _comment_lines(op.comments) + [op.text]
        blocks.append(lines)
    sections: dict[str, list[str]] = {}
    for rule in module.rules:
        sections.setdefault(str(rule.sources), []).extend(_comment_lines(rule.comments) + [rule_te(rule)])
    for op in module.opaque:
        section = module.section_of(op)
        if section is not None:
            sections.setdefault(section, []).extend(_comment_lines(op.comments) + [op.text])
    for domain in sorted(sections):
        blocks.append([section_banner(domain)] + sections[domain])
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


# --------------------------------------------------------------------- CIL


def _cil_names(names: NameSet, what: str) -> tuple[str, ...]:
    if not names.is_plain:
        raise NotRepresentable(f"CIL output cannot express the {what} set {names} (use the .te)")
    return names.names


def _cil_perms(perms: NameSet) -> str:
    if perms.star:
        return "(all)"
    if perms.excluded:
        raise NotRepresentable(f"CIL output cannot express the permission set {perms}")
    body = "(" + " ".join(perms.names) + ")"
    return f"(not {body})" if perms.complement else body


def format_cil_xperms(ranges: tuple[tuple[int, int], ...], complement: bool = False) -> str:
    """A CIL xperm expression, as libsepol's pp-to-CIL converter writes it:
    ``(0x8910 (range 0x8927 0x892a))``, wrapped in ``(not ...)`` for a complement."""
    items = [f"0x{lo:x}" if lo == hi else f"(range 0x{lo:x} 0x{hi:x})" for lo, hi in ranges]
    expr = "(" + " ".join(items) + ")"
    return f"(not {expr})" if complement else expr


def rule_cil(rule: Rule) -> list[str]:
    """One rule as CIL statements (one per source x target x class)."""
    out = []
    kind = rule.kind.value.replace("xperm", "x")
    for src in _cil_names(rule.sources, "source"):
        for tgt in _cil_names(rule.targets, "target"):
            for cls in _cil_names(rule.classes, "class"):
                if isinstance(rule, AvRule):
                    out.append(f"({kind} {src} {tgt} ({cls} {_cil_perms(rule.perms)}))")
                else:
                    expr = format_cil_xperms(rule.ranges, rule.complement)
                    out.append(f"({kind} {src} {tgt} ({rule.operation} {cls} {expr}))")
    return out


def declaration_cil(decl: Declaration) -> list[str]:
    """One declaration as CIL statements."""
    if isinstance(decl, TypeDecl):
        out = [f"(type {decl.name})", f"(roletype object_r {decl.name})"]
        out += [f"(typealias {a})" for a in decl.aliases]
        out += [f"(typealiasactual {a} {decl.name})" for a in decl.aliases]
        out += [f"(typeattributeset {a} ({decl.name}))" for a in decl.attributes]
        return out
    if isinstance(decl, AttributeDecl):
        return [f"(typeattribute {decl.name})"]
    if isinstance(decl, TypeAttribute):
        return [f"(typeattributeset {a} ({decl.type}))" for a in decl.attributes]
    if isinstance(decl, RoleTypes):
        if not decl.types:
            return [f"(role {decl.role})"]
        return [f"(roletype {decl.role} {t})" for t in decl.types]
    raise TypeError(f"not a declaration: {decl!r}")


def render_cil(module: Module) -> str:
    """The module as CIL text (what ``semodule -i NAME.cil`` installs), same
    rules as :func:`render_te`. Raises :class:`NotRepresentable` for opaque
    statements (refpolicy macros need the m4 build) and ``~``/``-`` type sets."""
    if module.opaque:
        raise NotRepresentable(
            f"module {module.name} holds refpolicy interface calls or other verbatim statements "
            f"({module.opaque[0].text.splitlines()[0][:60]}...); CIL output cannot include them"
        )
    blocks: list[list[str]] = [[f"; module {module.name} {module.version}"]]
    if module.comments:
        blocks[0] += _comment_lines(module.comments, ";")
    if module.declarations:
        lines: list[str] = []
        for decl in module.declarations:
            lines += _comment_lines(decl.comments, ";") + declaration_cil(decl)
        blocks.append(lines)
    current: str | None = None
    for rule in module.rules:
        domain = str(rule.sources)
        if domain != current:
            blocks.append([";============= " + domain + " =============="])
            current = domain
        blocks[-1] += _comment_lines(rule.comments, ";") + rule_cil(rule)
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"
