"""Documents built from the core values (denials, groups, findings, modules):
the ``avcfix why --json`` document and the JSON forms of rules. Pure: no CLI,
no UI, no tools; used by ``cli``/``ui`` and ``bundle`` alike."""
