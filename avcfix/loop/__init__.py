"""``avcfix loop``: restart a service, collect new denials, rebuild, reinstall, until none appear.

The orchestrator (:mod:`avcfix.loop.engine`) drives small Protocols
(:mod:`avcfix.looptypes.interfaces`) implemented by the real system
(:mod:`avcfix.system`) and by the lab (:mod:`avcfix.lab`).
"""
