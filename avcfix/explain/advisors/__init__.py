"""Advisors: one small module per situation, in the spirit of setroubleshoot's plugins.

Every advisor module defines:

- ``NAME``: its name (shown in ``--json`` as ``advisor`` and in docs/advisors.md);
- ``REASONS``: the (enforcing) :class:`~avcfix.explain.model.Reason` values it looks at;
- ``advise(s: Situation, earlier: Sequence[Advice]) -> list[Advice]``: zero or
  more advices, each with the evidence it rests on and a calibrated confidence
  (70 or more only when the policy backs that specific fix; a guess stays below
  50). ``earlier`` is what the advisors before it in :data:`REGISTRY` gave.

The engine (:mod:`avcfix.explain.engine`) runs them in registry order, drops any
advice that does not act on the denied object (:func:`aimed_at_object`), and
ranks the rest by confidence, never by name order. ``catchall`` (the module
rule) is always last.

Advisors are pure over the :class:`~avcfix.explain.protocol.Facts` Protocol;
they build every command with :mod:`avcfix.explain.commands`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from avcfix.audit.model import Denial, DenialGroup
from avcfix.explain.model import Advice, Reason
from avcfix.explain.objects import DeniedObject, ObjectKind
from avcfix.explain.protocol import Facts, Verdict


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything an advisor may look at for one finding."""

    group: DenialGroup
    #: The permissions of this finding (a subset of the group's).
    perms: tuple[str, ...]
    #: The enforcing reason (for a permissive finding: the underlying one).
    reason: Reason
    verdict: Verdict
    #: The object the denial is about (:func:`avcfix.explain.objects.resolve`).
    obj: DeniedObject
    facts: Facts | None
    #: Every permission the same domain was denied on the same target and class in the log.
    also_denied: frozenset[str] = frozenset()

    @property
    def example(self) -> Denial:
        return self.group.example

    @property
    def source(self) -> str:
        return self.group.source

    @property
    def target(self) -> str:
        return self.group.target

    @property
    def tclass(self) -> str:
        return self.group.tclass


def aimed_at_object(advice: Advice, obj: DeniedObject) -> bool:
    """True when ``advice`` acts on the denied object (or changes policy, not a path).

    A relabel acts on a path: it is kept only when that path is the object, or
    a tree that holds the object. An object whose path is unknown gets no
    relabel at all.
    """
    if advice.acts_on is None:
        return True
    if obj.kind is not ObjectKind.PATH or obj.path is None:
        return False
    where = advice.acts_on.rstrip("/") or "/"
    return obj.path == where or obj.path.startswith(where.rstrip("/") + "/")


def _load() -> tuple[ModuleType, ...]:
    from avcfix.explain.advisors import (
        allowed_now,
        boolean,
        catchall,
        custom_location,
        dontaudit_hidden,
        exec_memory,
        home_content,
        leaked_fd,
        module_load,
        mounton,
        narrower,
        port_label,
        restorecon,
        transition_noise,
        write_content,
        xperm,
    )

    return (port_label, home_content, restorecon, mounton, custom_location, write_content, boolean, xperm,
            leaked_fd, transition_noise, exec_memory, module_load, dontaudit_hidden, allowed_now, narrower,
            catchall)


#: The advisors, in the order they run (catchall last).
REGISTRY: tuple[ModuleType, ...] = _load()


def run(s: Situation) -> list[Advice]:
    """Every advisor's advice for ``s`` (unranked), aimed at the denied object."""
    out: list[Advice] = []
    for advisor in REGISTRY:
        if s.reason not in advisor.REASONS:
            continue
        found = advisor.advise(s, tuple(out))
        out += [a if a.advisor else _named(a, advisor.NAME) for a in found]
    return [a for a in out if aimed_at_object(a, s.obj)]


def _named(advice: Advice, name: str) -> Advice:
    from dataclasses import replace

    return replace(advice, advisor=name)


def names() -> Sequence[str]:
    """The advisors' names, in registry order."""
    return tuple(a.NAME for a in REGISTRY)
