"""The values the explanation engine produces (frozen, typed).

Contract between ``explain/`` and its consumers (why's report and JSON,
policy generation, loop, bundle). Fields may be added; these keep their names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from avcfix.audit.model import DenialGroup

if TYPE_CHECKING:
    from avcfix.explain.objects import DeniedObject


class Reason(str, enum.Enum):
    """Why a denial happened. Every denial (or split part of a group) gets one."""

    TE_RULE = "te_rule"            # a type-enforcement allow rule is missing
    BOOLEAN = "boolean"            # a boolean (or a pair) would allow it
    CONSTRAINT = "constraint"      # a constraint (user/role/level) forbids it
    RBAC = "rbac"                  # a role allow / role-type association is missing
    BOUNDS = "bounds"              # typebounds forbid it
    DONTAUDIT = "dontaudit"        # a dontaudit rule exists (seen with dontaudit off)
    ALLOWED_NOW = "allowed_now"    # this policy allows it now
    PERMISSIVE = "permissive"      # logged in permissive mode: nothing was blocked
    XPERM = "xperm"                # the class permission is allowed, the ioctl command is not (allowxperm)
    UNKNOWN_TYPE = "unknown_type"  # source or target type not in the policy
    UNKNOWN_CLASS = "unknown_class"
    UNKNOWN_PERM = "unknown_perm"
    NO_POLICY = "no_policy"        # no policy given: reasons need --policy


class AdviceKind(str, enum.Enum):
    """Kinds of fix, in the order an admin should prefer them."""

    PORT_LABEL = "port_label"      # semanage port -a -t TYPE -p PROTO PORT
    RESTORECON = "restorecon"      # restorecon -v PATH
    FCONTEXT = "fcontext"          # semanage fcontext -a -t TYPE 'REGEX' + restorecon
    FCONTEXT_EQUAL = "fcontext_equal"  # semanage fcontext -a -e STANDARD CUSTOM + restorecon
    BOOLEAN = "boolean"            # setsebool -P NAME on
    XPERM = "allowxperm"           # allowxperm S T:C ioctl CMD; (a module)
    DONTAUDIT = "dontaudit"        # dontaudit S T:C perms; (a module that silences noise)
    PROGRAM = "program"            # change the program or its files (execstack -c, close-on-exec)
    NARROWER_PERM = "narrower_perm"
    MODULE = "module"              # a custom policy module (avcfix build)


@dataclass(frozen=True, slots=True)
class Advice:
    """One ranked fix, with the exact command to run."""

    kind: AdviceKind
    command: str
    confidence: int  # 0-100: 70+ only when the policy backs this specific fix; a guess stays under 50
    why: str
    #: The advisor that gave it (``explain/advisors/NAME.py``).
    advisor: str = ""
    #: What the fix acts on: the path it relabels (``restorecon``, ``fcontext``),
    #: or ``None`` for a fix in the policy (boolean, port label, rule).
    acts_on: str | None = None
    #: The facts it rests on, for people and ``--json`` (policy rules, file_contexts, log fields).
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """The explanation of (part of) a :class:`DenialGroup`.

    A group whose permissions have different reasons is split: each finding
    covers only ``perms``, a subset of ``group.perms``. ``advice`` is ranked,
    best first. ``detail`` is free text for people (constraint text, the
    booleans' descriptions, the unknown name...).
    """

    group: DenialGroup
    perms: tuple[str, ...]
    reason: Reason
    advice: tuple[Advice, ...] = ()
    risks: tuple[str, ...] = ()
    detail: str = ""
    #: For BOOLEAN: the booleans (name, value) that would allow it.
    booleans: tuple[tuple[str, bool], ...] = ()
    #: For PERMISSIVE: the reason the access would have been denied when
    #: enforcing (its advice is kept); ``None`` otherwise.
    underlying: Reason | None = None
    #: For CONSTRAINT (and RBAC): which of user, role, level differ.
    differs: tuple[str, ...] = ()
    #: The object the denial is about, resolved from the kernel's evidence
    #: (:func:`avcfix.explain.objects.resolve`); ``None`` when not resolved.
    object: DeniedObject | None = None

    @property
    def needs_module(self) -> bool:
        """True when the best fix is a new allow rule (what ``build`` writes)."""
        if self.reason not in (Reason.TE_RULE, Reason.PERMISSIVE, Reason.NO_POLICY):
            return False
        return not self.advice or self.advice[0].kind is AdviceKind.MODULE
