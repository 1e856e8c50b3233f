"""Kernel module loading: ``module_request``, ``module_load`` and ``sys_module``.

setroubleshoot's ``kernel_modules`` plugin. A confined service that asks the
kernel to load a module (``module_request`` on ``kernel_t``, often for a
network protocol family: ``kmod="net-pf-10"``) or loads one itself
(``sys_module``, ``module_load``) rarely should: the module is usually
needed by the system, not by the service. The fix is to load the module at
boot (``/etc/modules-load.d``). Fedora's policy has the
``domain_kernel_load_modules`` boolean for ``module_request`` (audit2why names
it, the boolean advisor gives it); without it, a module rule is a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from avcfix.explain import commands
from avcfix.explain.advisors import Situation
from avcfix.explain.model import Advice, AdviceKind, Reason

NAME = "module_load"
REASONS = frozenset({Reason.TE_RULE, Reason.NO_POLICY, Reason.BOOLEAN})

BOOLEAN = "domain_kernel_load_modules"

_KMOD_FIELD = re.compile(r'\bkmod="([^"\x00-\x1f]{1,128})"')


def kmod(s: Situation) -> str | None:
    """The module the kernel was asked for (the AVC's ``kmod=`` field), when logged."""
    for text in s.example.records:
        if "avc:" in text and "module_request" in text:
            m = _KMOD_FIELD.search(text)
            if m:
                return m.group(1)
    return None


def _asks(s: Situation) -> str | None:
    if s.tclass == "system" and "module_request" in s.perms:
        return "module_request"
    if s.tclass == "system" and "module_load" in s.perms:
        return "module_load"
    if s.tclass in ("capability", "cap_userns") and "sys_module" in s.perms:
        return "sys_module"
    return None


def advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]:
    perm = _asks(s)
    if perm is None:
        return []
    name = kmod(s) if perm == "module_request" else None
    evidence = [f"log: {perm} ({s.source} {s.target}:{s.tclass})"] + ([f'log: kmod="{name}"'] if name else [])
    out: list[Advice] = []
    if name and name.startswith("net-pf-") and perm == "module_request":
        # a socket of a protocol family whose module is not loaded (net-pf-10: IPv6 disabled on
        # purpose): loading it at boot undoes the admin's choice; silence the request, as the
        # reference policy does for many domains (kernel_dontaudit_request_load_module)
        rule = commands.dontaudit_rule(s.source, s.target, s.tclass, s.perms)
        if rule is not None:
            out.append(Advice(
                AdviceKind.DONTAUDIT, rule, 65,
                f"{s.source} opened a socket of a protocol family whose module is not loaded ({name}; "
                "net-pf-10 is IPv6, usually disabled on purpose). The service works without it: silence the "
                "request (the policy's kernel_dontaudit_request_load_module does this for many domains), "
                "or enable the protocol if the service should use it.",
                evidence=tuple(evidence)))
    boot = commands.modules_load(name)
    if boot is None:
        boot = "# list the kernel module the service needs in /etc/modules-load.d/NAME.conf (loaded at boot)"
    out.append(Advice(
        AdviceKind.PROGRAM, boot, (45 if out else 55) if name else 40,
        f"{s.source} asked the kernel for a module it may not load; a service rarely needs to: load it at "
        "boot instead" + (f" ({name} is the name the kernel asked for)" if name else "")
        + ", and the request does not happen again.",
        evidence=tuple(evidence)))
    if s.reason is Reason.BOOLEAN:
        return out  # the boolean advisor gives the boolean audit2why found
    has_bool = s.facts is not None and s.facts.boolean_state(BOOLEAN) is not None
    note = (f" The policy's {BOOLEAN} boolean does not cover this access." if has_bool else
            f" This policy has no {BOOLEAN} boolean." if s.facts is not None else "")
    rule = commands.allow_rule(s.source, s.target, s.tclass, s.perms)
    if rule is not None:
        out.append(Advice(
            AdviceKind.MODULE, rule, 30,
            "loading kernel modules puts code in the kernel; allow it only for a program whose job is to "
            "load modules." + note,
            evidence=tuple(evidence)))
    return out
