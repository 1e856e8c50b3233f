"""The explanation engine: DenialGroups + policy facts -> Findings.

Pure logic over the :class:`~avcfix.explain.protocol.Facts` Protocol: every
group gets its policy analysis (one lookup per distinct access, cached by the
facts), is split into one finding per distinct reason, and each finding gets
ranked advice and risk flags.

Reason precedence for permissive denials: when the access was logged with
``permissive=1`` or the domain is permissive in the policy, a finding that
would need a fix (te_rule, boolean, constraint, rbac, bounds, no_policy) is
reported as ``permissive`` -- nothing was blocked, it is a candidate -- and
keeps its underlying reason (``Finding.underlying``) and that reason's advice.
``allowed_now``, ``dontaudit`` and ``unknown_*`` stay what they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from avcfix.audit.model import DenialGroup
from avcfix.explain import advisors
from avcfix.explain.advisors.narrower import NARROWER
from avcfix.explain.generic import UNCONFINED_DOMAIN_NAMES
from avcfix.explain.model import Advice, AdviceKind, Finding, Reason
from avcfix.explain.objects import resolve
from avcfix.explain.protocol import AccessKey, Analysis, Facts, Verdict
from avcfix.explain.risks import risks_for

#: Reasons a permissive denial is reported under as ``permissive``.
_PERMISSIVE_WRAPS = frozenset(
    {Reason.TE_RULE, Reason.BOOLEAN, Reason.CONSTRAINT, Reason.RBAC, Reason.BOUNDS, Reason.NO_POLICY}
)

#: Reasons whose fix may be a new allow rule (a module).
_MODULE_REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY})

#: Order of findings inside one group.
_REASON_ORDER = {r: i for i, r in enumerate(Reason)}
_KIND_ORDER = {k: i for i, k in enumerate(AdviceKind)}

#: What to do when a constraint fails on a context part (no allow rule helps).
CONSTRAINT_HINTS = {
    "user": "the object's SELinux user differs from the process's and the domain may not change "
            "object identity: relabel the object (restorecon, or chcon -u) or create it from a domain that may",
    "role": "the role change is not allowed: run the program from a role that may enter the target role",
    "level": "the process's MLS/MCS range does not dominate the object's level: give the object the "
             "process's categories (chcon -l), or run the process with a range that covers them",
}

#: Most distinct (scontext, tcontext) pairs of one group that are analysed.
MAX_CONTEXTS = 8

NO_POLICY_DETAIL = ("no policy was given and SELinux is not enabled here: reasons need --policy FILE "
                    "(or --root DIR); advice below comes from the log alone")


def access_key(group: DenialGroup) -> AccessKey:
    """The distinct access a group asks the policy about (the example's full contexts)."""
    d = group.example
    return AccessKey(str(d.scontext), str(d.tcontext), group.tclass, group.perms)


def explain_groups(groups: Sequence[DenialGroup], facts: Facts | None) -> list[Finding]:
    """Explain every group: one or more findings per group, in group order.

    With ``facts`` ``None`` every finding has reason ``no_policy`` and only the
    advice the log alone supports.
    """
    analyses: dict[AccessKey, Analysis] = {}
    if facts is not None:
        analyses = facts.analyze([k for g in groups for k in _all_keys(g)])
    denied = _denied_index(groups)
    findings: list[Finding] = []
    for group in groups:
        analysis = analyses.get(access_key(group)) if facts is not None else None
        others = [analyses[k] for k in _all_keys(group)[1:]] if facts is not None else []
        for perms, verdict in _split(group, analysis, facts):
            finding = _finding(group, perms, verdict, analysis, facts, denied)
            note = _other_contexts_note(perms, verdict, others)
            if note:
                finding = replace(finding, detail=f"{finding.detail}; {note}" if finding.detail else note)
            findings.append(finding)
    return findings


#: Groups explained at a time by :func:`iter_findings`.
STREAM_BATCH = 512


def prepare(groups: Iterable[DenialGroup], facts: Facts | None) -> None:
    """Look up every distinct access of ``groups`` in one pass over the policy
    (the facts keep the answers), so that :func:`iter_findings` after it does
    not reopen the policy once per batch."""
    if facts is not None:
        facts.analyze([k for g in groups for k in _all_keys(g)])


def iter_findings(groups: Iterable[DenialGroup], facts: Facts | None,
                  batch: int = STREAM_BATCH) -> Iterator[Finding]:
    """:func:`explain_groups`'s findings, in the same order, for groups that
    come one at a time sorted by key (as
    :meth:`~avcfix.audit.group.GroupAccumulator.iter_groups` gives them):
    explained ``batch`` groups at a time, so memory does not grow with the
    number of groups. A batch is cut only where (source, target, class)
    changes: the permissive and enforcing groups of one access, which the
    advice compares (:func:`_denied_index`), are explained together."""
    pending: list[DenialGroup] = []
    for g in groups:
        if len(pending) >= batch and (g.source, g.target, g.tclass) != (
                pending[-1].source, pending[-1].target, pending[-1].tclass):
            yield from explain_groups(pending, facts)
            pending = []
        pending.append(g)
    if pending:
        yield from explain_groups(pending, facts)


def _all_keys(group: DenialGroup) -> list[AccessKey]:
    """The example's key first, then one per other distinct context pair (capped)."""
    first = access_key(group)
    keys = [first]
    for scon, tcon in group.contexts:
        key = AccessKey(scon, tcon, group.tclass, group.perms)
        if key not in keys and len(keys) < MAX_CONTEXTS:
            keys.append(key)
    return keys


def _other_contexts_note(perms: tuple[str, ...], verdict: Verdict, others: list[Analysis]) -> str:
    """Say when another context pair of the group gets another reason for these perms."""
    notes = []
    for other in others:
        got = dict(other.verdicts)
        reasons = sorted({got[p].reason.value for p in perms if p in got and got[p].reason is not verdict.reason})
        if reasons:
            notes.append(f"{other.key.scontext} -> {other.key.tcontext}: {', '.join(reasons)}")
    if not notes:
        return ""
    return "other contexts in this group get another reason: " + "; ".join(notes)


def _denied_index(groups: Sequence[DenialGroup]) -> dict[tuple[str, str, str], frozenset[str]]:
    """(source, target, class) -> every permission denied on it in the log."""
    acc: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for g in groups:
        acc[(g.source, g.target, g.tclass)].update(g.perms)
    return {k: frozenset(v) for k, v in acc.items()}


def _xperm_verdict(group: DenialGroup, facts: Facts | None) -> Verdict | None:
    """An XPERM verdict when the policy allows ``ioctl`` but its allowxperm rules
    leave out a command the log shows (audit2why sees only the class permission)."""
    if facts is None or "ioctl" not in group.perms:
        return None
    cmds = tuple(sorted(set(group.ioctlcmds) | ({group.example.ioctlcmd} if group.example.ioctlcmd is not None
                                                 else set())))
    if not cmds:
        return None
    denied = facts.xperm_denied(group.source, group.target, group.tclass, cmds)
    if not denied:
        return None
    return Verdict(Reason.XPERM, detail="the policy allows ioctl on this class but its allowxperm rules do not "
                   "list command" + ("s " if len(denied) > 1 else " ")
                   + ", ".join(f"0x{c:04x}" for c in denied))


def _split(group: DenialGroup, analysis: Analysis | None,
           facts: Facts | None = None) -> list[tuple[tuple[str, ...], Verdict]]:
    """Permissions grouped by identical verdict, ordered by reason."""
    if analysis is None:
        none = Verdict(Reason.NO_POLICY, detail=NO_POLICY_DETAIL)
        return [(p, none) for p in _split_narrower(group.tclass, group.perms, none)]
    xperm = _xperm_verdict(group, facts) if any(p == "ioctl" for p, _ in analysis.verdicts) else None
    by_verdict: dict[Verdict, list[str]] = {}
    for perm, verdict in analysis.verdicts:
        if perm == "ioctl" and verdict.reason is Reason.ALLOWED_NOW and xperm is not None:
            verdict = xperm
        by_verdict.setdefault(verdict, []).append(perm)
    parts: list[tuple[tuple[str, ...], Verdict]] = []
    for v, perms in by_verdict.items():
        parts += [(p, v) for p in _split_narrower(group.tclass, tuple(sorted(perms)), v)]
    return sorted(parts, key=lambda item: (_REASON_ORDER[item[1].reason], item[0]))


def _split_narrower(tclass: str, perms: tuple[str, ...], verdict: Verdict) -> list[tuple[str, ...]]:
    """Keep a broad permission apart when its narrower one was requested too.

    ``{ dac_override dac_read_search }``: the kernel asked for dac_read_search
    first, so that rule is plainly needed, while dac_override gets its own
    finding whose first advice is the narrower permission. No rule then mixes
    a needed permission with one an admin should decide on.
    """
    if verdict.reason not in _MODULE_REASONS or len(perms) < 2:
        return [perms]
    broad = {n.denied for n in NARROWER if n.tclass == tclass and n.denied in perms and n.instead in perms}
    rest = tuple(p for p in perms if p not in broad)
    if not broad or not rest:
        return [perms]
    return [rest, tuple(sorted(broad))]


def _finding(group: DenialGroup, perms: tuple[str, ...], verdict: Verdict, analysis: Analysis | None,
             facts: Facts | None, denied: dict[tuple[str, str, str], frozenset[str]]) -> Finding:
    reason = verdict.reason
    underlying = None
    detail = verdict.detail
    if reason is Reason.CONSTRAINT and verdict.differs:
        detail = f"{detail} [differs: {', '.join(verdict.differs)}]" if detail else \
            f"differs: {', '.join(verdict.differs)}"
        hints = [CONSTRAINT_HINTS[p] for p in verdict.differs if p in CONSTRAINT_HINTS]
        if hints:
            detail += ". No allow rule can fix a constraint: " + "; ".join(hints)
    permissive = group.permissive or (analysis is not None and analysis.permissive_domain)
    if permissive and reason in _PERMISSIVE_WRAPS:
        underlying, reason = reason, Reason.PERMISSIVE
        how = "logged with permissive=1" if group.permissive else f"{group.source} is a permissive domain"
        detail = (f"{how}: nothing was blocked, so this is a candidate, not a proven need; "
                  f"when enforcing it would be {underlying.value}" + (f" ({detail})" if detail else ""))
    base = underlying or reason
    if base is Reason.BOOLEAN and verdict.booleans and facts is not None:
        descs = []
        for name, _ in _flat(verdict.booleans):
            desc = facts.boolean_description(name)
            descs.append(f"{name}: {desc}" if desc else name)
        detail = "; ".join(x for x in [detail, *descs] if x)
    is_unconfined = facts.is_unconfined if facts is not None else UNCONFINED_DOMAIN_NAMES.__contains__
    risks = risks_for(group.target, group.tclass, perms, is_unconfined)
    obj = resolve(group.example)
    also = denied.get((group.source, group.target, group.tclass), frozenset())
    situation = advisors.Situation(group, perms, base, verdict, obj, facts, also)
    return Finding(
        group=group,
        perms=perms,
        reason=reason,
        advice=_temper(_rank(advisors.run(situation)), risks),
        risks=risks,
        detail=detail,
        booleans=_flat(verdict.booleans),
        underlying=underlying,
        differs=verdict.differs,
        object=obj,
    )


#: Highest confidence given to an allow rule for a flagged (risky) access.
RISKY_MODULE_CONFIDENCE = 50


def _temper(advice: tuple[Advice, ...], risks: tuple[str, ...]) -> tuple[Advice, ...]:
    """Lower the confidence of an allow rule that grants a flagged access, and say why."""
    if not risks:
        return advice
    out = []
    for a in advice:
        if a.kind is AdviceKind.MODULE and a.confidence > RISKY_MODULE_CONFIDENCE:
            a = replace(a, confidence=RISKY_MODULE_CONFIDENCE,
                        why=a.why + "; but this access is flagged as risky (see risks): make sure the "
                        "service really needs it before granting it")
        out.append(a)
    return _rank(out)


def _flat(alternatives: tuple[tuple[tuple[str, bool], ...], ...]) -> tuple[tuple[str, bool], ...]:
    seen: dict[tuple[str, bool], None] = {}
    for alt in alternatives:
        for setting in alt:
            seen.setdefault(setting, None)
    return tuple(sorted(seen))


def _rank(items: list[Advice]) -> tuple[Advice, ...]:
    """Best first: module last, then by confidence, kind order and command."""
    return tuple(sorted(items, key=lambda a: (a.kind is AdviceKind.MODULE, -a.confidence,
                                              _KIND_ORDER[a.kind], a.command)))
