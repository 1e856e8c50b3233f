"""Fixes that are not a module: the advice the loop can apply itself (pure).

The explanation engine ranks advice as text commands for people
(``setsebool -P NAME on``, ``semanage port -a -t TYPE -p udp 63822``,
``restorecon -v PATH``, ``semanage fcontext -a -t TYPE 'REGEX'``). The loop
never hands such text to a shell: :func:`fix_for` turns a finding's best advice
into a :class:`Fix` with validated fields (identifiers checked against SELinux's
grammar, ports as ints, paths absolute) and the argv lists to run. A command
whose form is not one of these is returned as ``None``: the admin decides.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from avcfix.explain.model import AdviceKind, Finding
from avcfix.explain.commands import is_system_tree, safe_path
from avcfix.policy.identifiers import is_identifier

#: Advice kinds the loop knows how to apply (``--apply-advice``).
APPLICABLE = (AdviceKind.PORT_LABEL, AdviceKind.BOOLEAN, AdviceKind.RESTORECON, AdviceKind.FCONTEXT)

_PROTOS = ("tcp", "udp", "sctp", "dccp")


@dataclass(frozen=True, slots=True)
class Fix:
    """One applicable fix. ``argv`` are the commands a real system runs, in order."""

    kind: AdviceKind
    command: str
    argv: tuple[tuple[str, ...], ...]
    booleans: tuple[tuple[str, bool], ...] = ()
    port: tuple[str, int, str] | None = None  # (proto, port, type)
    fcontext: tuple[str, str] | None = None  # (regex, type)
    paths: tuple[str, ...] = ()  # restorecon targets

    @property
    def key(self) -> tuple:
        return (self.kind.value, self.argv)

    def to_json(self) -> dict[str, Any]:
        """For the loop's journal (:meth:`from_json` reads it back)."""
        return {"kind": self.kind.value, "command": self.command, "argv": [list(a) for a in self.argv],
                "booleans": [[n, v] for n, v in self.booleans],
                "port": list(self.port) if self.port else None,
                "fcontext": list(self.fcontext) if self.fcontext else None, "paths": list(self.paths)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Fix":
        """A fix as journaled; its names are checked again (a journal is a file anyone root can edit)."""
        kind = AdviceKind(doc["kind"])
        booleans = tuple((str(n), bool(v)) for n, v in doc.get("booleans") or ())
        port = doc.get("port")
        fc = doc.get("fcontext")
        paths = tuple(str(p) for p in doc.get("paths") or ())
        names = [n for n, _ in booleans] + ([str(port[2])] if port else []) + ([str(fc[1])] if fc else [])
        if not all(is_identifier(n) for n in names) or not all(p.startswith("/") for p in paths + ((str(fc[0]),) if fc else ())):
            raise ValueError(f"a journaled fix with a bad name: {doc.get('command')!r}")
        return cls(kind, str(doc.get("command", "")), tuple(tuple(str(w) for w in a) for a in doc.get("argv") or ()),
                   booleans=booleans,
                   port=(str(port[0]), int(port[1]), str(port[2])) if port else None,
                   fcontext=(str(fc[0]), str(fc[1])) if fc else None, paths=paths)


def fix_for(finding: Finding) -> Fix | None:
    """The :class:`Fix` for a finding's best advice, or ``None`` when it cannot be applied safely."""
    if not finding.advice:
        return None
    advice = finding.advice[0]
    if advice.kind not in APPLICABLE:
        return None
    try:
        commands = _split_commands(advice.command)
    except ValueError:
        return None
    if advice.kind is AdviceKind.BOOLEAN:
        return _boolean(finding, advice.command, commands)
    if advice.kind is AdviceKind.PORT_LABEL:
        return _port(advice.command, commands)
    if advice.kind is AdviceKind.RESTORECON:
        return _restorecon(advice.command, commands)
    return _fcontext(advice.command, commands)


def _split_commands(text: str) -> list[list[str]]:
    """``a && b`` / ``a; b`` -> [[a...], [b...]] (shlex, no shell)."""
    lex = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lex.whitespace_split = True
    out: list[list[str]] = [[]]
    for tok in lex:
        if tok in ("&&", ";"):
            out.append([])
        elif set(tok) <= set(";&|"):
            raise ValueError(f"unsupported shell operator {tok!r}")
        else:
            out[-1].append(tok)
    return [c for c in out if c]


def _boolean(finding: Finding, text: str, commands: list[list[str]]) -> Fix | None:
    settings: list[tuple[str, bool]] = list(finding.booleans)
    if not settings:
        for cmd in commands:
            if cmd[:1] != ["setsebool"]:
                return None
            words = [w for w in cmd[1:] if w != "-P"]
            if len(words) % 2:
                return None
            for name, value in zip(words[::2], words[1::2]):
                if value not in ("on", "off", "1", "0", "true", "false"):
                    return None
                settings.append((name, value in ("on", "1", "true")))
    if not settings or not all(is_identifier(n) for n, _ in settings):
        return None
    settings = sorted(set(settings))
    argv = ("setsebool", "-P", *[w for n, v in settings for w in (n, "on" if v else "off")])
    return Fix(AdviceKind.BOOLEAN, text, (argv,), booleans=tuple(settings))


def _opt(cmd: list[str], flag: str) -> str | None:
    for i, w in enumerate(cmd[:-1]):
        if w == flag:
            return cmd[i + 1]
    return None


def _port(text: str, commands: list[list[str]]) -> Fix | None:
    if len(commands) != 1:
        return None
    cmd = commands[0]
    if cmd[:2] != ["semanage", "port"] or not ({"-a", "-m"} & set(cmd)):
        return None
    type_name, proto, number = _opt(cmd, "-t"), _opt(cmd, "-p"), cmd[-1]
    if type_name is None or not is_identifier(type_name) or proto not in _PROTOS or not number.isdigit():
        return None
    port = int(number)
    if not 0 < port < 65536:
        return None
    argv = ("semanage", "port", "-a", "-t", type_name, "-p", proto, str(port))
    return Fix(AdviceKind.PORT_LABEL, text, (argv,), port=(proto, port, type_name))


def _restorecon(text: str, commands: list[list[str]]) -> Fix | None:
    argvs: list[tuple[str, ...]] = []
    paths: list[str] = []
    for cmd in commands:
        if cmd[:1] != ["restorecon"]:
            return None
        targets = [w for w in cmd[1:] if not w.startswith("-")]
        if not targets or not all(safe_path(t) is not None for t in targets):
            return None
        letters = "".join(w[1:] for w in cmd[1:] if w.startswith("-"))
        if not set(letters) <= set("vRF"):
            return None  # an option the loop does not know: the admin decides
        flags = [f"-{c}" for c in "RFv" if c in letters]  # -Rv as avcfix advises it: -R -v
        if "-R" in flags and any(is_system_tree(t) for t in targets):
            return None
        paths += targets
        argvs.append(("restorecon", *flags, "--", *targets) if flags else ("restorecon", "--", *targets))
    return Fix(AdviceKind.RESTORECON, text, tuple(argvs), paths=tuple(paths))


def _fcontext(text: str, commands: list[list[str]]) -> Fix | None:
    fc: tuple[str, str] | None = None
    argvs: list[tuple[str, ...]] = []
    paths: list[str] = []
    for cmd in commands:
        if cmd[:2] == ["semanage", "fcontext"] and ({"-a", "-m"} & set(cmd)):
            type_name, regex = _opt(cmd, "-t"), cmd[-1]
            if type_name is None or not is_identifier(type_name) or not regex.startswith("/"):
                return None
            fc = (regex, type_name)
            argvs.append(("semanage", "fcontext", "-a", "-t", type_name, regex))
        elif cmd[:1] == ["restorecon"]:
            sub = _restorecon(shlex.join(cmd), [cmd])
            if sub is None:
                return None
            argvs += sub.argv
            paths += sub.paths
        else:
            return None
    if fc is None:
        return None
    return Fix(AdviceKind.FCONTEXT, text, tuple(argvs), fcontext=fc, paths=tuple(paths))
