"""`avcfix why` (placeholder until the audit layer lands)."""
from __future__ import annotations

from avcfix.cli.app import app


@app.command()
def why() -> None:
    """Explain every denial in audit logs."""
    raise NotImplementedError("avcfix why is being written (issue 2)")
