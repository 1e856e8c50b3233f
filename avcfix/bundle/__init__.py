"""``avcfix bundle``: a bug-report archive that is safe to attach in public.

Collection (:mod:`.collect`) reads the logs, keeps the first and last events
of each group (:mod:`.cap`), asks a :class:`~.hostfacts.HostFacts` for the
environment (:mod:`.environment`), redacts everything consistently when asked
(:mod:`.redact`), renders the issue text (:mod:`.report`) and writes a
deterministic ``.tar.gz`` (:mod:`.archive`).
"""
