"""The loop's types: its values, its Protocols and the host's preflight checks.

Below the backends that implement them: :mod:`avcfix.system` (the real host)
and :mod:`avcfix.lab` (a simulated kernel) implement the Protocols of
:mod:`avcfix.looptypes.interfaces`, :class:`avcfix.system.hostfacts.RealHost`
answers :class:`avcfix.looptypes.preflight.HostFacts`, and the orchestrator
(:mod:`avcfix.loop`) drives them with the values of :mod:`avcfix.looptypes.model`.
"""
