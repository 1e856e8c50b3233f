"""Executable memory: execmem, execstack, execheap (the process) and execmod (a file).

setroubleshoot's ``allow_execmem``, ``allow_execstack``, ``allow_execheap``
and ``allow_execmod`` plugins. A boolean that grants the access is found by
audit2why (reason ``boolean``, the boolean advisor); this advisor speaks when
no boolean does:

- ``execstack``: usually a binary or library wrongly marked as needing an
  executable stack; clear the flag (``execstack -c``) on the program the log
  names, a guess below 70 (the flag may come from a library it loads);
- ``execheap``: almost never legitimate; the module rule stays low;
- ``execmem``: a JIT or a library bug; the module rule stays low, with the
  booleans this policy has for execmem (for other domains) as context;
- ``execmod`` on a library with text relocations: label it ``textrel_shlib_t``
  when the policy has that type and lets the domain execmod it.
"""

from __future__ import annotations

from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason
from avcfix.explain.objects import ObjectKind

NAME = "exec_memory"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY})

PROCESS_PERMS = ("execmem", "execstack", "execheap")

#: The type refpolicy and Fedora give shared libraries with text relocations.
TEXTREL_TYPE = "textrel_shlib_t"

#: Booleans that govern executable memory for user domains (Fedora / refpolicy names).
RELATED_BOOLEANS = {
    "execmem": ("deny_execmem", "allow_execmem"),
    "execstack": ("selinuxuser_execstack", "allow_execstack"),
    "execheap": ("selinuxuser_execheap", "allow_execheap"),
    "execmod": ("selinuxuser_execmod", "allow_execmod"),
}

WHY = {
    "execmem": "writable and executable memory: a JIT (Java, JavaScript, Python's ctypes, PCRE JIT) needs "
               "it; otherwise it is a library bug or an exploit. Allow it only for a program that is known to "
               "JIT-compile.",
    "execstack": "an executable stack: usually a binary or library built without the non-executable-stack "
                 "marker (GNU_STACK), rarely a real need.",
    "execheap": "an executable heap is almost never legitimate (no normal program needs it); it is a sign "
                "of a bug or an attack. Do not allow it unless the vendor says the program needs it.",
}


def _related(s: Situation, perm: str) -> str:
    if s.facts is None:
        return ""
    found = [b for b in RELATED_BOOLEANS.get(perm, ()) if s.facts.boolean_state(b) is not None]
    if not found:
        return ""
    return (f" The policy's {', '.join(found)} boolean{'s' if len(found) > 1 else ''} govern{'' if len(found) > 1 else 's'}"
            f" {perm} for user domains only; no boolean grants it to {s.source}.")


def _module(s: Situation, confidence: int, why: str, evidence: tuple[str, ...]) -> list[Advice]:
    rule = commands.allow_rule(s.source, s.target, s.tclass, s.perms)
    if rule is None:
        return []
    return [Advice(AdviceKind.MODULE, rule, confidence, why, evidence=evidence)]


def _process(s: Situation) -> list[Advice]:
    perms = [p for p in PROCESS_PERMS if p in s.perms]
    if not perms or s.source != s.target:
        return []
    exe = s.example.exe
    out: list[Advice] = []
    evidence = (f"log: {' '.join(perms)} on {s.source} itself (class process)",)
    if "execstack" in perms:
        cmd = commands.execstack_clear(exe)
        if cmd is not None:
            out.append(Advice(
                AdviceKind.PROGRAM, cmd, 60,
                f"{exe} (or a library it loads) is marked as needing an executable stack; most programs do "
                "not: clear the flag (execstack -q shows it; find the library with 'execstack -q' on the "
                "libraries it maps) and restart it. A package update undoes it: report it upstream.",
                evidence=evidence + (f"log: exe={exe}",)))
    worst = "execheap" if "execheap" in perms else perms[0]
    confidence = 20 if "execheap" in perms else 40
    why = " ".join(WHY[p] for p in perms) + _related(s, worst)
    out += _module(s, confidence, why, evidence)
    return out


def _execmod(s: Situation) -> list[Advice]:
    obj = s.obj
    out: list[Advice] = []
    evidence = [f"log: execmod on {s.target} {s.tclass}"]
    if obj.kind is ObjectKind.PATH and obj.path is not None and s.facts is not None \
            and s.facts.has_type(TEXTREL_TYPE):
        backed = "execmod" in s.facts.granted_perms(s.source, TEXTREL_TYPE, "file")
        cmd = commands.semanage_fcontext(TEXTREL_TYPE, obj.path, tree=False)
        if cmd is not None:
            evidence += [f"object: {obj.evidence}", f"policy: type {TEXTREL_TYPE} exists"]
            if backed:
                evidence.append(f"policy: allow {s.source} {TEXTREL_TYPE}:file execmod")
            out.append(Advice(
                AdviceKind.FCONTEXT, cmd, 75 if backed else 45,
                f"{obj.path} is a library with text relocations: the loader must patch its code pages. "
                f"The policy labels such libraries {TEXTREL_TYPE}"
                + (f", which {s.source} may execmod" if backed else f", though {s.source} may not execmod it")
                + "; better still, rebuild the library with -fPIC.",
                acts_on=obj.path, evidence=tuple(evidence)))
    out += _module(s, 30, "executing modified file pages (text relocations) weakens code integrity; "
                   "label the library instead" + _related(s, "execmod"), tuple(evidence))
    return out


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    if s.tclass == "process":
        return _process(s)
    if s.tclass == "file" and s.perms == ("execmod",):
        return _execmod(s)
    return []
