"""The advisors' questions over the policy index (a mixin of IndexFacts)."""

from __future__ import annotations


class AdvisorQueries:
    """Placeholder: filled in by the advisor-queries port."""

    def _init_queries(self) -> None:
        pass

    def _close_queries(self) -> None:
        pass
