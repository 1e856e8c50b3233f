"""Which denials the user asked for: ``--domain``, ``--comm``, ``--since``, ``--until``."""

from __future__ import annotations

from dataclasses import dataclass

from avcfix.audit.model import Denial


@dataclass(frozen=True, slots=True)
class Filters:
    """Denial filters; ``None`` means "no restriction".

    ``domain`` matches the source type exactly (``eucalyptus_eucanetd_t``);
    ``comm`` matches the command name exactly; ``since``/``until`` are epoch
    seconds (inclusive), already resolved by the caller (see
    :mod:`avcfix.audit.timespec`).
    """

    domain: str | None = None
    comm: str | None = None
    since: float | None = None
    until: float | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.domain, self.comm, self.since, self.until))

    def accepts(self, d: Denial) -> bool:
        """True when ``d`` passes every filter."""
        if self.domain is not None and d.scontext.type != self.domain:
            return False
        if self.comm is not None and d.comm != self.comm:
            return False
        if self.since is not None and d.time < self.since:
            return False
        if self.until is not None and d.time > self.until:
            return False
        return True
