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
