"""How both Facts backends choose and order the specific types they suggest.

The setools backend (:mod:`avcfix.index.setools_facts`) and the policy index
(:mod:`avcfix.index.queries`) find candidate types their own way, as
``(direct, name)`` pairs: ``direct`` when a rule names the type itself rather
than an attribute holding it. Both rank them here, so the two give the same
order (``tests/integration/test_index_queries.py`` holds them equal).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

#: At most this many candidate types are suggested.
MAX_CANDIDATES = 5

#: Attributes larger than this are not expanded when looking for a specific
#: port or file type (``port_type`` and ``file_type`` name everything).
MAX_ATTRIBUTE_EXPANSION = 24

#: The file-label advisors: attributes larger than this are not expanded by
#: label_candidates (file_type, non_security_file_type...).
MAX_LABEL_EXPANSION = 512

#: Attributes of types that are never the right label for a service's data
#: (programs, entry points, security files).
NOT_DATA_ATTRIBUTES = frozenset({"exec_type", "entry_type", "security_file_type"})


def rank_by_name(domain: str, found: Sequence[tuple[bool, str]]) -> tuple[str, ...]:
    """File types best first: the longest name prefix shared with ``domain``
    (without ``_t``), then named directly by a rule, then by name."""
    stem = domain[:-2] if domain.endswith("_t") else domain

    def score(item: tuple[bool, str]) -> tuple[int, int, str]:
        direct, name = item
        shared = len(os.path.commonprefix([stem, name]))
        return (-shared, 0 if direct else 1, name)

    return tuple(n for _, n in sorted(found, key=score)[:MAX_CANDIDATES])


def rank_ports(found: Sequence[tuple[bool, str]],
               port_ranges: Callable[[str], Sequence[tuple[str, int, int]]]) -> tuple[str, ...]:
    """Port types best first by evidence: named directly by a rule, then holding
    reserved (<1024) ports, then most portcon entries (``port_ranges``); name last."""

    def score(item: tuple[bool, str]) -> tuple[int, int, int, str]:
        direct, name = item
        ranges = port_ranges(name)
        return (0 if direct else 1, 0 if any(low < 1024 for _, low, _ in ranges) else 1, -len(ranges), name)

    return tuple(n for _, n in sorted(found, key=score)[:MAX_CANDIDATES])
