"""Turn explained denials (:class:`~avcfix.explain.model.Finding`) into a module.

Rules: one ``allow`` rule per (source, target, class) with the union of the
findings' permissions (only the missing ones: a finding's ``perms``), ``self``
when the target is the source, requires computed from the rules. A finding
whose best fix is not a new allow rule is left out (listed in a comment block
at the top with its reason and fixing command) unless ``include_advised``.
Permissive denials are included and marked. With ``xperms``, ioctl commands
give ``allowxperm S T:C ioctl { 0x... }``.

Two kinds of finding get another rule than ``allow``, the one their first
advice names (and a comment saying why): an ioctl command left out by the
policy's allowxperm rules (reason ``xperm``) gets its ``allowxperm`` rule; a
finding whose first advice is a ``dontaudit`` rule (a leaked descriptor,
transition noise) gets that dontaudit rule, unless ``include_advised`` asks
for the allow rule instead.

Injection safety: every name written into policy passes
:func:`~avcfix.names.identifiers.identifier_problem` (grammar, keywords, and
no word m4 would expand: the ``.te`` may be built with the devel Makefile, so
``manage_file_perms`` from a log must never reach it); a finding with a bad
name is reported in :attr:`GenerateResult.rejected` and skipped (a bad
permission alone leaves the finding's other permissions in). Everything else
from the log (comm, exe, paths, commands) only reaches comments, cleaned by
:func:`~avcfix.policy.model.clean_comment`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from avcfix.audit.model import DenialGroup
from avcfix.explain.model import AdviceKind, Finding, Reason
from avcfix.names.identifiers import Kind, check_identifier, check_version, identifier_problem
from avcfix.policy.complete import Completion
from avcfix.policy.model import SELF, AvRule, Module, NameSet, Rule, RuleKind, XpermKind, XpermRule, clean_comment
from avcfix.policy.requires import with_computed_require

#: Reasons an allow rule cannot fix: never put into a module, even with include_advised.
NOT_FIXABLE_BY_ALLOW = frozenset(
    {Reason.ALLOWED_NOW, Reason.CONSTRAINT, Reason.RBAC, Reason.BOUNDS, Reason.UNKNOWN_CLASS, Reason.UNKNOWN_PERM}
)

#: How many distinct comms / exes are named in one evidence comment.
EVIDENCE_LIMIT = 3

#: Longest comment line written from log text.
COMMENT_LIMIT = 400


class Rejected(NamedTuple):
    """Something from the log that was not written into policy, and why."""

    what: str
    reason: str


@dataclass(frozen=True, slots=True)
class GenerateResult:
    """The module, the findings left out of it, and what was rejected."""

    module: Module
    left_out: tuple[Finding, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    #: The completed permissions written into the module (see :mod:`avcfix.policy.complete`).
    completed: tuple[Completion, ...] = ()


@dataclass(slots=True)
class _Acc:
    """Evidence collected for one (source, target, class) while generating."""

    perms: set[str] = field(default_factory=set)
    #: The denial groups seen, by (permissive, first seen, permissions).
    groups: dict[tuple[bool, float, tuple[str, ...]], DenialGroup] = field(default_factory=dict)
    ioctlcmds: set[int] = field(default_factory=set)
    advised: set[str] = field(default_factory=set)
    #: dontaudit permissions (findings whose first advice is a dontaudit rule).
    dontaudit: set[str] = field(default_factory=set)
    #: ioctl commands for allowxperm (findings of reason xperm).
    xperm_cmds: set[int] = field(default_factory=set)
    #: Why the dontaudit rule is written instead of an allow rule (the advice's why).
    special_why: set[str] = field(default_factory=set)
    #: Permissions added by completion (not denied themselves).
    completed: list[Completion] = field(default_factory=list)


#: An advice's rule, as :mod:`avcfix.explain.commands` writes it.
_SPECIAL_RE = re.compile(
    r"(?P<kind>dontaudit|allowxperm) (?P<s>\S+) (?P<t>\S+):(?P<c>\S+) (?:ioctl )?"
    r"(?:\{ (?P<many>[^{}]+) \}|(?P<one>[^\s{};]+));")


def _special(f: Finding, include_advised: bool) -> tuple[AdviceKind, tuple[str, ...], str] | None:
    """(kind, perms or hex commands, why) when the finding's first advice is an
    allowxperm or dontaudit rule for its own source, target and class."""
    if not f.advice or f.advice[0].kind not in (AdviceKind.XPERM, AdviceKind.DONTAUDIT):
        return None
    advice = f.advice[0]
    if advice.kind is AdviceKind.DONTAUDIT and (include_advised or f.reason in NOT_FIXABLE_BY_ALLOW):
        return None
    m = _SPECIAL_RE.fullmatch(advice.command)
    g = f.group
    if m is None or (m["s"], m["t"], m["c"]) != (g.source, g.target, g.tclass):
        return None
    if (m["kind"] == "allowxperm") != (advice.kind is AdviceKind.XPERM):
        return None
    words = tuple((m["many"] or m["one"]).split())
    return advice.kind, words, advice.why


def _finding_order(f: Finding) -> tuple[str, str, str, bool, tuple[str, ...], str]:
    g = f.group
    return (g.source, g.target, g.tclass, g.permissive, f.perms, f.reason.value)


def _where(f: Finding) -> str:
    ex = f.group.example
    return f" ({clean_comment(ex.source)}:{ex.line})" if ex.source else ""


#: (what, name, kind) of a name to check with identifier_problem.
_NameCheck = tuple[str, str, Kind]


def _check_names(f: Finding, reserved: Collection[str]) -> tuple[tuple[str, ...], list[Rejected]]:
    """The finding's valid permissions, and rejections (all perms rejected
    when the source, target or class is invalid)."""
    g = f.group
    rejected = []
    checks: tuple[_NameCheck, ...] = (("source type", g.source, "type"), ("target type", g.target, "type"),
                                      ("class", g.tclass, "class"))
    for what, name, kind in checks:
        problem = identifier_problem(name, kind, reserved)
        if problem:
            rejected.append(Rejected(f"{what} {clean_comment(repr(name))}{_where(f)}", problem))
    if rejected:
        return (), rejected
    perms = []
    for perm in f.perms:
        problem = identifier_problem(perm, "permission", reserved)
        if problem:
            rejected.append(Rejected(f"permission {clean_comment(repr(perm))}{_where(f)}", problem))
        else:
            perms.append(perm)
    return tuple(perms), rejected


def _wanted(f: Finding, include_advised: bool) -> bool:
    if f.needs_module:
        return True
    return include_advised and f.reason not in NOT_FIXABLE_BY_ALLOW


def _special_names(f: Finding, special: tuple[AdviceKind, tuple[str, ...], str],
                   reserved: Collection[str]) -> list[Rejected]:
    """Rejections for a dontaudit / allowxperm rule's names (none when all are valid)."""
    g = f.group
    kind, words, _ = special
    checks: list[_NameCheck] = [("source type", g.source, "type"), ("target type", g.target, "type"),
                                ("class", g.tclass, "class")]
    if kind is AdviceKind.DONTAUDIT:
        checks += [("permission", w, "permission") for w in words]
    out = []
    for what, name, k in checks:
        problem = identifier_problem(name, k, reserved)
        if problem:
            out.append(Rejected(f"{what} {clean_comment(repr(name))}{_where(f)}", problem))
    if kind is AdviceKind.XPERM and not all(re.fullmatch(r"0x[0-9a-f]{1,4}", w) for w in words):
        out.append(Rejected(f"ioctl commands {clean_comment(repr(words))}{_where(f)}", "not 16-bit hex numbers"))
    return out


def _left_out_line(f: Finding) -> str:
    g = f.group
    text = f"{g.source} {g.target}:{g.tclass} {{ {' '.join(f.perms)} }}: {f.reason.value}"
    if f.advice:
        text += f"; fix: {f.advice[0].command}"
    elif f.detail:
        text += f"; {f.detail}"
    return clean_comment(text, COMMENT_LIMIT)


def _example_path(groups: list[DenialGroup]) -> str | None:
    """One telling path: for a file-like class, prefer one that is not a directory."""
    paths = sorted({p for g in groups for p in g.paths})
    if not paths:
        return next((g.example.example_path for g in groups if g.example.example_path), None)
    if groups[0].tclass != "dir":
        files = [p for p in paths if not p.endswith("/")]
        if files:
            return files[0]
    return paths[0]


def _completed_lines(acc: _Acc) -> tuple[str, ...]:
    """One comment per (denial completed, permission set): which permissions completion added."""
    by: dict[tuple[str, str], list[str]] = {}
    for c in acc.completed:
        by.setdefault((c.after, c.set), []).append(c.perm)
    return tuple(clean_comment(f"completed: {{ {' '.join(sorted(perms))} }} after denied {after} "
                               f"(refpolicy {pset})", COMMENT_LIMIT) for (after, pset), perms in sorted(by.items()))


def _evidence(acc: _Acc) -> tuple[str, ...]:
    if not acc.groups:
        return ("no denial of its own: permissions added by completion",) + _completed_lines(acc)
    groups = [acc.groups[k] for k in sorted(acc.groups)]
    count = sum(g.count for g in groups)
    comms = sorted({c for g in groups for c in (g.comms or ((g.example.comm,) if g.example.comm else ()))})
    exes = sorted({e for g in groups for e in (g.exes or ((g.example.exe,) if g.example.exe else ()))})
    example_path = _example_path(groups)
    parts = [f"{count} denial{'s' if count != 1 else ''}"]
    for label, values in (("comm", comms), ("exe", exes)):
        if values:
            shown = ", ".join(values[:EVIDENCE_LIMIT])
            more = f" (+{len(values) - EVIDENCE_LIMIT} more)" if len(values) > EVIDENCE_LIMIT else ""
            parts.append(f"{label}: {shown}{more}")
    if example_path:
        parts.append(f"path: {example_path}")
    ports = sorted({port for g in groups for port in g.ports})
    if ports:
        parts.append("port: " + ", ".join(str(port) for port in ports[:EVIDENCE_LIMIT])
                     + (f" (+{len(ports) - EVIDENCE_LIMIT} more)" if len(ports) > EVIDENCE_LIMIT else ""))
    lines = ["; ".join(parts)]
    permissive = sum(g.count for g in groups if g.permissive)
    if permissive:
        lines.append(f"permissive: {permissive} of {count} logged in permissive mode (allowed, not blocked)")
    for command in sorted(acc.advised):
        lines.append(f"included with --include-advised; advised instead: {command}")
    return tuple(clean_comment(line, COMMENT_LIMIT) for line in lines) + _completed_lines(acc)


def generate_module(
    findings: Sequence[Finding],
    *,
    name: str,
    version: str = "1.0",
    include_advised: bool = False,
    xperms: bool = False,
    reserved: Collection[str] = (),
    completions: Sequence[Completion] = (),
) -> GenerateResult:
    """Build one module from ``findings`` (see the module docstring).

    ``completions`` (from :func:`avcfix.policy.complete.complete`): permissions
    added to the rules besides the denied ones, each marked in a comment on its
    rule; one whose names fail the identifier checks is rejected, one already
    denied is not marked. Without them the module is what it always was.

    ``reserved``: more m4 macro names no name may contain as a word, besides
    those :mod:`avcfix.names.m4names` refuses everywhere: the installed
    headers' interfaces (:func:`avcfix.toolchain.headers.header_macro_names`,
    which build and bundle pass).

    Raises :class:`~avcfix.names.identifiers.InvalidIdentifier` (a
    ``PolicyError``) when ``name`` or ``version`` is not valid.
    """
    check_identifier(name, "module name", "module", reserved)
    check_version(version)
    accs: dict[tuple[str, str, str], _Acc] = {}
    left_out: list[Finding] = []
    rejected: list[Rejected] = []
    for f in sorted(findings, key=_finding_order):
        special = _special(f, include_advised)
        if special is not None:
            problems = _special_names(f, special, reserved)
            rejected.extend(p for p in problems if p not in rejected)
            if not problems:
                g = f.group
                acc = accs.setdefault((g.source, g.target, g.tclass), _Acc())
                acc.groups[(g.permissive, g.first_seen, g.perms)] = g
                kind, words, why = special
                if kind is AdviceKind.XPERM:
                    acc.xperm_cmds.update(int(w, 16) for w in words)
                else:
                    acc.dontaudit.update(words)
                    acc.special_why.add(why)
            continue
        if not _wanted(f, include_advised):
            left_out.append(f)
            continue
        perms, problems = _check_names(f, reserved)
        rejected.extend(p for p in problems if p not in rejected)
        if not perms:
            continue
        g = f.group
        acc = accs.setdefault((g.source, g.target, g.tclass), _Acc())
        acc.perms.update(perms)
        acc.groups[(g.permissive, g.first_seen, g.perms)] = g
        if "ioctl" in perms:
            acc.ioctlcmds.update(c for c in g.ioctlcmds if 0 <= c <= 0xFFFF)
        if not f.needs_module and f.advice:
            acc.advised.add(f.advice[0].command)

    completed: list[Completion] = []
    for comp in sorted(set(completions)):
        checks: tuple[_NameCheck, ...] = (("source type", comp.source, "type"),
                                          ("target type", comp.target, "type"),
                                          ("class", comp.tclass, "class"),
                                          ("permission", comp.perm, "permission"))
        problems = [Rejected(f"completed {what} {clean_comment(repr(name))}", problem)
                    for what, name, kind in checks
                    for problem in [identifier_problem(name, kind, reserved)] if problem]
        if problems:
            rejected.extend(p for p in problems if p not in rejected)
            continue
        acc = accs.setdefault((comp.source, comp.target, comp.tclass), _Acc())
        if comp.perm in acc.perms:
            continue  # denied itself: nothing to mark
        acc.perms.add(comp.perm)
        acc.completed.append(comp)
        completed.append(comp)

    rules: list[Rule] = []
    for (source, target, tclass), acc in sorted(accs.items()):
        src = NameSet.of(source)
        tgt = NameSet.of(SELF if target == source else target)
        cls = NameSet.of(tclass)
        if acc.perms:
            rules.append(AvRule(RuleKind.ALLOW, src, tgt, cls, NameSet(tuple(acc.perms)), _evidence(acc)))
        if acc.dontaudit:
            whys = tuple(clean_comment(f"dontaudit, not allow: {w}", COMMENT_LIMIT) for w in sorted(acc.special_why))
            rules.append(AvRule(RuleKind.DONTAUDIT, src, tgt, cls, NameSet(tuple(acc.dontaudit)),
                                (_evidence(acc)[0],) + whys))
        if acc.xperm_cmds:
            cmds = ", ".join(f"0x{c:04x}" for c in sorted(acc.xperm_cmds))
            rules.append(XpermRule(
                XpermKind.ALLOWXPERM, src, tgt, cls, "ioctl", tuple((c, c) for c in acc.xperm_cmds),
                comments=(_evidence(acc)[0], clean_comment(
                    f"allowxperm, not allow: the policy allows ioctl but its allowxperm rules leave out {cmds}",
                    COMMENT_LIMIT))))
        if xperms and acc.ioctlcmds:
            cmds = ", ".join(f"0x{c:x}" for c in sorted(acc.ioctlcmds))
            rules.append(
                XpermRule(
                    XpermKind.ALLOWXPERM, src, tgt, cls, "ioctl",
                    tuple((c, c) for c in acc.ioctlcmds),
                    comments=(f"ioctl commands seen: {cmds}",),
                )
            )

    comments: list[str] = []
    if left_out:
        comments.append("Left out: the best fix for these is not a new allow rule (--include-advised adds them):")
        comments += [_left_out_line(f) for f in left_out]
    if rejected:
        comments.append("Rejected: names from the log that are not valid SELinux identifiers "
                        "(or that m4 would expand):")
        comments += [clean_comment(f"{r.what}: {r.reason}") for r in rejected]
    module = Module(name=name, version=version, rules=tuple(rules), comments=tuple(comments))
    return GenerateResult(with_computed_require(module), tuple(left_out), tuple(rejected), tuple(completed))
