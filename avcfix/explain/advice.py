"""Fix advice builders: one function per kind, each returns ranked candidates.

Pure logic over a :class:`~avcfix.explain.protocol.Facts` (or none). Every
command is built by :mod:`avcfix.explain.commands`, so log text never reaches a
command unquoted or unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from avcfix.audit.model import Denial, DenialGroup
from avcfix.explain import commands
from avcfix.explain.generic import GENERIC_FILE_TYPES, GENERIC_PORT_TYPES, PORT_PERMS, PORT_PROTOCOLS
from avcfix.explain.model import Advice, AdviceKind
from avcfix.explain.protocol import BoolSetting, Facts
from avcfix.explain.risks import FILE_CLASSES

#: Most ports (or boolean alternatives) turned into separate advice.
MAX_ALTERNATIVES = 4


@dataclass(frozen=True, slots=True)
class Narrower:
    """A permission that is often enough where a broader one was denied."""

    tclass: str
    denied: str
    instead: str
    why: str


#: The narrower-permission table (data).
NARROWER: tuple[Narrower, ...] = (
    Narrower("capability", "dac_override", "dac_read_search",
             "dac_read_search is enough to read or search files the process does not own; "
             "dac_override also lets it write them. Better still: fix the files' owner or mode."),
    Narrower("cap_userns", "dac_override", "dac_read_search",
             "dac_read_search is enough to read or search files the process does not own "
             "inside its user namespace; dac_override also lets it write them."),
)


def port_label(group: DenialGroup, perms: tuple[str, ...], facts: Facts | None,
               ) -> tuple[list[Advice], bool]:
    """``semanage port`` advice for name_bind/name_connect on a generic port type.

    Returns the advice and whether a specific port type exists (when it does,
    no allow rule on the generic port type may be suggested).
    """
    proto = PORT_PROTOCOLS.get(group.tclass)
    perm = next((p for p in perms if p in PORT_PERMS), None)
    if proto is None or perm is None or group.target not in GENERIC_PORT_TYPES or facts is None:
        return [], False
    types = facts.port_types(group.source, group.tclass, perm)
    if not types:
        return [], False
    best = types[0]
    own = _related(group.source, best)
    if own:
        confidence, caveat = 90, ""
    else:
        confidence = 50 if len(types) == 1 else 40
        caveat = (f" {best} is not named after the domain: use it only if the service on this port "
                  "really is that kind of service; otherwise give the domain a port type of its own.")
    ports: list[int | None] = list(group.ports[:MAX_ALTERNATIVES]) or [group.example.port]
    verb = "bind to" if perm == "name_bind" else "connect to"
    others = f" (other candidates: {', '.join(types[1:])})" if len(types) > 1 else ""
    out = []
    for port in ports:
        cmd = commands.semanage_port(best, proto, port)
        if cmd is None:
            continue
        where = f"port {port}" if port is not None else "the port (not in the log: replace PORT)"
        out.append(Advice(
            AdviceKind.PORT_LABEL, cmd, confidence if port is not None else min(confidence, 60),
            f"{group.source} may already {verb} {best} ports; {where} carries the generic "
            f"{group.target}, so label it {best} instead of allowing every {group.target} port{others}."
            + caveat))
    return out, True


def _related(domain: str, type_name: str) -> bool:
    """True when ``type_name`` looks like the domain's own (shares its first name word)."""
    stem = domain[:-2] if domain.endswith("_t") else domain
    first = stem.split("_", 1)[0]
    return len(first) >= 3 and (type_name.startswith(first) or first.startswith(type_name.split("_", 1)[0]))


def object_path(denial: Denial) -> str | None:
    """The path of the object the denial is about (the PATH item named like the AVC's name=)."""
    paths = [p for p in denial.paths if p.startswith("/")]
    if denial.name:
        for p in paths:
            if p.rstrip("/").rsplit("/", 1)[-1] == denial.name:
                return p
    if len(paths) == 1:
        return paths[0]
    if denial.path and denial.path.startswith("/"):
        return denial.path
    return None


def restorecon(group: DenialGroup, perms: tuple[str, ...], facts: Facts | None) -> list[Advice]:
    """``restorecon -v PATH`` when file_contexts expects another label for the path."""
    if facts is None or group.tclass not in FILE_CLASSES or set(perms) <= {"create"}:
        return []
    if facts.fixed_label(group.target):
        return []  # the filesystem gives this label (nfs_t, cifs_t...): restorecon cannot change it
    path = object_path(group.example)
    if path is None or commands.safe_path(path) is None:
        return []
    expected = facts.expected_type(path)
    if expected is None or expected == group.target or expected in ("<<none>>",):
        return []
    cmd = commands.restorecon(path.rstrip("/") or "/", recursive=group.tclass == "dir")
    if cmd is None:
        return []
    return [Advice(AdviceKind.RESTORECON, cmd, 95,
                   f"{path} is labelled {group.target} but the policy's file_contexts expect {expected}: "
                   f"the file is mislabelled (created in the wrong place, copied or moved); "
                   "restore its label instead of allowing the wrong type.")]


def fcontext(group: DenialGroup, perms: tuple[str, ...], facts: Facts | None) -> list[Advice]:
    """``semanage fcontext`` + restorecon when a generic label meets a domain with its own types."""
    if facts is None or group.tclass not in FILE_CLASSES or group.target not in GENERIC_FILE_TYPES:
        return []
    if facts.fixed_label(group.target):
        return []
    path = object_path(group.example)
    if path is None or commands.safe_path(path) is None:
        return []
    expected = facts.expected_type(path)
    if expected is not None and expected not in GENERIC_FILE_TYPES and expected != group.target:
        return []  # restorecon covers it
    wanted = tuple(p for p in perms if p != "create") or perms
    types = facts.file_types(group.source, group.tclass, wanted)
    if not types:
        return []
    best = types[0]
    tree = group.tclass == "dir"
    cmd = commands.semanage_fcontext(best, path, tree)
    if cmd is None:
        return []
    others = f" (other candidates: {', '.join(types[1:])})" if len(types) > 1 else ""
    return [Advice(AdviceKind.FCONTEXT, cmd, 70 if len(types) == 1 else 60,
                   f"{path} carries the generic {group.target}; {group.source} may already "
                   f"{' '.join(wanted)} {best} {group.tclass}s, so label the path {best}{others} "
                   "rather than allowing access to everything labelled " + group.target + ".")]


def boolean(group: DenialGroup, alternatives: Sequence[tuple[BoolSetting, ...]],
            facts: Facts | None) -> list[Advice]:
    """``setsebool -P`` advice, one per alternative (single booleans before pairs)."""
    out = []
    ordered = sorted(alternatives, key=lambda alt: (len(alt), alt))[:MAX_ALTERNATIVES]
    for alt in ordered:
        cmd = commands.setsebool(alt)
        if cmd is None:
            continue
        descs = []
        for name, value in alt:
            desc = facts.boolean_description(name) if facts is not None else None
            descs.append(f"{name}={'on' if value else 'off'}" + (f" ({desc})" if desc else ""))
        both = "together " if len(alt) > 1 else ""
        conf = (85 if len(alt) == 1 else 70) - 5 * (len(ordered) - 1)
        if len(ordered) > 1 and not any(_related(group.source, name) for name, _ in alt):
            conf -= 10  # a boolean named after another service or subsystem: less likely the fix
        out.append(Advice(AdviceKind.BOOLEAN, cmd, max(conf, 40),
                          f"the policy already has this rule under a boolean; setting {both}"
                          + "; ".join(descs) + " allows it (and everything else the boolean covers)."))
    return out


def narrower(group: DenialGroup, perms: tuple[str, ...], also_denied: frozenset[str]) -> list[Advice]:
    """A narrower permission from :data:`NARROWER`.

    ``also_denied`` is every permission the same domain was denied on the same
    target and class in the log; when the narrower one is among them, the
    kernel tried it first, so it is very likely enough.
    """
    out = []
    for n in NARROWER:
        if group.tclass != n.tclass or n.denied not in perms:
            continue
        rule = commands.allow_rule(group.source, group.target, group.tclass, [n.instead])
        if rule is None:
            continue
        tried = n.instead in also_denied
        out.append(Advice(AdviceKind.NARROWER_PERM, rule, 80 if tried else 50,
                          n.why + (f" The log shows {n.instead} denied too: the kernel tried it first."
                                   if tried else "")))
    return out


def module(group: DenialGroup, perms: tuple[str, ...], confidence: int, why: str) -> list[Advice]:
    """The allow rule ``avcfix build`` would write, last."""
    rule = commands.allow_rule(group.source, group.target, group.tclass, perms)
    if rule is None:
        return []
    return [Advice(AdviceKind.MODULE, rule, confidence, why)]


def generic_port_fallback(group: DenialGroup, perms: tuple[str, ...]) -> str | None:
    """Why-text when a generic port type is denied and no specific type exists."""
    if group.target in GENERIC_PORT_TYPES and group.tclass in PORT_PROTOCOLS and PORT_PERMS.intersection(perms):
        return (f"{group.source} may not use any specific port type for this, so there is no port "
                f"label to suggest; this rule allows every {group.target} port. Better: declare a port "
                "type in the domain's module, allow it, and label the port with semanage port.")
    return None
