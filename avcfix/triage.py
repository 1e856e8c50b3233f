"""The triage pipeline: sources -> scan -> group -> explain -> findings.

One service for ``avcfix why``, ``build``, ``bundle`` and the loop::

    with Triage(["audit.log"], filters=filters, policy=None, root=None) as t:
        for d in t.scan(progress):          # every denial, grouped as it passes
            ...
        findings = t.explain(t.acc.groups())
    # the policy facts it opened are closed here, whatever happened

- **Sources**: paths, ``"-"`` (stdin) or none (a caller that explains the
  groups it has, as the loop does with each iteration's denials).
- **Filters**: :class:`~avcfix.audit.api.Filters` (domain, comm, since/until).
- **The policy** that explains: ``policy`` (a binary policy file, ``--policy``),
  ``root`` (a policy root, ``--root``), neither (the host's loaded policy,
  when SELinux is on; else none: every finding is ``no_policy``), or
  ``explain=False`` (no explanation at all: ``why --raw``). Facts the caller
  opened and closes itself are lent with ``facts=`` (the loop's
  :class:`~avcfix.facts.CurrentFacts`, a test's): they are never
  closed here.
- **The facts' lifetime**: opened on first use (:attr:`Triage.facts`, or
  :meth:`Triage.load_facts` while parallel workers scan), closed by
  :meth:`Triage.close`, which the ``with`` block calls on every path.
- **Parallel**: :meth:`Triage.stream` scans one big plain log with ``jobs``
  processes (:mod:`avcfix.triage_parallel`); the result is the same bytes.
- **Progress**: the scan's callback (``progress(name, done, total)``).
- **The loop's explainer**: :class:`FactsExplainer`, the explain stage over
  the loop's :class:`~avcfix.facts.CurrentFacts` (the loop's ``Explainer`` Protocol).

Orchestration: it imports the core (audit, explain, report) and opens the
facts through :func:`avcfix.facts.open_facts`; nothing in it prints
but the ``why --json`` document it is asked to stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from avcfix.audit.api import Filters, Progress, ScanStats, scan
from avcfix.audit.group import GroupAccumulator, group_denials
from avcfix.audit.model import Denial, DenialGroup
from avcfix.explain.model import Finding
from avcfix.report.jsonstream import JsonStream

if TYPE_CHECKING:
    from avcfix.facts import CurrentFacts
    from avcfix.toolchain.store import PolicyRoot

#: ``facts=`` not given: the service opens (and closes) the policy itself.
_OPEN: Any = object()


class Triage:
    """One run of the pipeline over ``sources`` (see the module docstring).

    ``stats`` and ``acc`` (the groups) fill as the denials are scanned.
    """

    def __init__(self, sources: Sequence[str] = (), *, filters: Filters | None = None,
                 policy: Any = None, root: Any = None, explain: bool = True, facts: Any = _OPEN,
                 jobs: int | None = None, stdin: Any = None) -> None:
        self.sources = list(sources)
        self.filters = filters or Filters()
        self.policy = policy
        self.root = root
        self.explaining = explain
        self.jobs = jobs
        self.stdin = stdin
        self.stats = ScanStats()
        self.acc = GroupAccumulator()
        self._owned = facts is _OPEN
        self._loaded = not self._owned
        self._facts = None if self._owned else facts

    # ------------------------------------------------------------ the facts

    def __enter__(self) -> Triage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load_facts(self) -> None:
        """Open the policy facts now (once): the policy given, the root's, the
        host's, or none. Raises :class:`~avcfix.errors.PolicyError` for a
        missing or invalid policy."""
        if self._loaded:
            return
        self._loaded = True
        if self.explaining:
            from avcfix import facts as facts_module

            self._facts = facts_module.open_facts(self.policy, self.root)

    @property
    def facts(self) -> Any:
        """The policy facts (opened on first use); ``None``: no policy."""
        self.load_facts()
        return self._facts

    def close(self) -> None:
        """Close the facts this service opened (lent facts stay open)."""
        facts, self._facts = self._facts, None
        close = getattr(facts, "close", None) if self._owned else None
        if close is not None:
            close()

    # ----------------------------------------------------------------- scan

    def scan(self, progress: Progress | None = None, *, records: bool = True,
             group: bool = True) -> Iterator[Denial]:
        """The denials of the sources, in order (``records=False``: their
        ``records`` may be empty); each is added to :attr:`acc` unless
        ``group=False`` (a caller that groups a selection itself)."""
        denials = scan(self.sources, stats=self.stats, filters=self.filters, progress=progress,
                       stdin=self.stdin, records=records)
        if not group:
            return denials
        return self._grouped(denials)

    def _grouped(self, denials: Iterator[Denial]) -> Iterator[Denial]:
        add = self.acc.add
        for d in denials:
            add(d)
            yield d

    def stream(self, out: IO[str] | None, progress: Progress | None = None) -> JsonStream | None:
        """Scan every denial into :attr:`acc` and, with ``out``, into the
        denials of a ``why --json`` document written there (its tail is
        :meth:`JsonStream.finish`'s, after the explanation). One big plain
        log is cut and scanned by several processes (``jobs``; the facts are
        opened while they work); any other input sequentially. Raises
        :class:`~avcfix.errors.InputError` before any output for a source
        that cannot be read."""
        from avcfix import triage_parallel

        planned = triage_parallel.plan(self.sources, self.jobs)
        if planned is not None:  # None back: no temporary directory, scan sequentially
            parallel = triage_parallel.run(planned[0], planned[1], self.filters, out, self.acc, self.stats,
                                           meanwhile=self.load_facts)
            if parallel is not None:
                return parallel if isinstance(parallel, JsonStream) else None  # (True when out is None)
        denials = self.scan(progress, records=False, group=False)
        if out is None:
            for d in denials:
                self.acc.add(d)
            return None
        first = next(denials, None)  # raises InputError before any output
        stream = JsonStream(out)
        if first is not None:
            stream.denial(first)
            self.acc.add(first)
        stream.denials(denials, self.acc.add)
        return stream

    # ------------------------------------------------------ group, explain

    @staticmethod
    def group(denials: Sequence[Denial]) -> list[DenialGroup]:
        """The groups of a selection of denials (sorted by key)."""
        return group_denials(denials)

    def explain(self, groups: Sequence[DenialGroup]) -> list[Finding] | None:
        """The findings of ``groups`` (one or more per group, in group order),
        over the facts (opened now if need be); ``None`` with ``explain=False``."""
        if not self.explaining:
            return None
        from avcfix.explain.engine import explain_groups

        return explain_groups(groups, self.facts)

    def iter_findings(self) -> Iterator[Finding]:
        """Every group's findings, in key order, forgetting each group once
        explained: memory does not grow with the number of groups past what
        :attr:`acc` holds (``why --json``'s rules)."""
        from avcfix.explain import engine

        facts = self.facts
        engine.prepare(self.acc.iter_groups(), facts)
        return engine.iter_findings(self.acc.iter_groups(consume=True), facts)


class FactsExplainer:
    """The loop's explainer: the explanation engine over the current policy of ``root`` (or a policy file).

    ``facts``: the :class:`CurrentFacts` to share with the other users of the
    policy in one iteration (the lab's kernel); by default its own.
    """

    def __init__(self, root: PolicyRoot | None = None, policy: Path | None = None,
                 facts: CurrentFacts | None = None) -> None:
        self.root = root
        self.policy = policy
        from avcfix.facts import CurrentFacts

        self.facts = facts if facts is not None else CurrentFacts(root, policy)

    def explain(self, groups: Sequence[DenialGroup]) -> list[Finding]:
        # the triage's explain stage over the loop's facts (lent: CurrentFacts closes them)
        return Triage(facts=self.facts.get()).explain(groups) or []

    def end_iteration(self) -> None:
        """The loop's iteration is over. The facts stay open: the next iteration
        reuses them when no file they were read from changed (an install's
        verification has opened the rebuilt policy already), else reopens."""

    def close(self) -> None:
        """The loop is over: close the facts."""
        self.facts.release()
