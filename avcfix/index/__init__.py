"""The policy index: what explain asks a binary policy, built once and cached.

- :mod:`avcfix.index.build` reads a binary policy with setools (plus its
  file_contexts and policy.xml) into an SQLite database;
- :mod:`avcfix.index.cache` keeps one database per set of inputs (keyed by
  their SHA-256) in the user's cache directory, written atomically, checked
  on open, rebuilt when stale or corrupt, and kept in memory when the cache
  cannot be written;
- :mod:`avcfix.index.evaluate` is the pure logic: conditional expressions,
  constraint expressions and MLS levels;
- :mod:`avcfix.index.facts` answers the :class:`~avcfix.explain.protocol.Facts`
  questions from the database by look-up.
"""


from pathlib import Path
from typing import Any


def open_index_facts(policy: Path, file_contexts: Path | None, policy_xml: Path | None) -> Any:
    """IndexFacts for a policy file (its index read from the cache, or built)."""
    from avcfix.index.build import Inputs
    from avcfix.index.cache import open_index
    from avcfix.index.facts import IndexFacts

    xml = policy_xml if policy_xml is not None and policy_xml.is_file() else None
    inputs = Inputs(policy, file_contexts, xml)
    return IndexFacts(open_index(inputs), inputs)
