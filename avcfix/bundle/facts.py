"""Environment facts: a value, or missing with the reason (frozen values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact about the host: ``value`` when known, else ``missing`` (why not).

    ``value`` is plain JSON data (str, int, bool, list, dict). A missing fact
    never aborts a bundle; it is recorded with its reason.
    """

    value: Any = None
    missing: str | None = None

    @classmethod
    def known(cls, value: Any) -> Fact:
        return cls(value=value)

    @classmethod
    def absent(cls, reason: str) -> Fact:
        return cls(missing=reason)

    @property
    def ok(self) -> bool:
        return self.missing is None

    def as_json(self) -> dict[str, object]:
        """``{"value": ...}`` or ``{"missing": "reason"}``."""
        return {"value": self.value} if self.missing is None else {"missing": self.missing}


@dataclass(frozen=True, slots=True)
class LocalUser:
    """An account of this host (for redaction only; never written out)."""

    name: str
    uid: int
    home: str
