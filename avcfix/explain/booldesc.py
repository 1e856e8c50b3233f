"""Boolean descriptions from refpolicy's ``policy.xml`` (pure parsing).

A binary policy carries boolean names and default values, not their meaning.
refpolicy's build writes every ``<bool>`` and ``<tunable>`` with its ``<desc>``
into ``policy.xml`` (``/usr/share/selinux/devel/policy.xml`` with
selinux-policy-dev / selinux-policy-devel). This module turns that text into a
name -> description mapping; the caller reads the file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_SPACE_RE = re.compile(r"\s+")


def parse_descriptions(xml_bytes: bytes) -> dict[str, str]:
    """Map boolean/tunable name -> one-paragraph description.

    Malformed XML yields an empty mapping (descriptions are a nicety, never a
    reason to fail).
    """
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}
    for tag in ("bool", "tunable"):
        for elem in root.iter(tag):
            name = elem.get("name")
            desc = elem.find("desc")
            if not name or desc is None:
                continue
            text = _SPACE_RE.sub(" ", "".join(desc.itertext())).strip()
            if text:
                out.setdefault(name, text)
    return out
