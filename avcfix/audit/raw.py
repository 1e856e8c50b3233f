"""A denial's event in ausearch's layout (for ``why --raw`` and bundles)."""

from __future__ import annotations

import time

from avcfix.audit.model import Denial


def format_time(epoch: float) -> str:
    """``time->`` text as ausearch prints it (C locale, local time)."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(epoch))


def format_event(d: Denial) -> str:
    """``----``, ``time->...`` and every record of ``d``'s event, one per line.

    Record text is printed as it was read (minus control characters other
    than the ENRICHED separator), so the output can be fed back to avcfix,
    ausearch or audit2allow.
    """
    lines = ["----", f"time->{format_time(d.time)}"]
    for rec in d.records:
        lines.append("".join(c for c in rec if c == "\x1d" or c >= " " or c == "\t"))
    return "\n".join(lines) + "\n"
