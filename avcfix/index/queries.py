"""The advisors' questions over the policy index (a mixin of IndexFacts).

TEMPORARY BRIDGE (being ported): questions not yet answered from the index
are delegated to a lazily opened setools PolicyFacts.
"""

from __future__ import annotations

from typing import Any


class AdvisorQueries:
    """The advisor questions of :class:`~avcfix.explain.protocol.Facts`."""

    def _init_queries(self) -> None:
        self._bridge: Any = None

    def _close_queries(self) -> None:
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        bridge = self.__dict__.get("_bridge")
        if bridge is None:
            from avcfix.explain.facts import PolicyFacts

            me: Any = self
            bridge = PolicyFacts(me.path, me.file_contexts, me.policy_xml)
            self.__dict__["_bridge"] = bridge
        return getattr(bridge, name)
