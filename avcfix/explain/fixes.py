"""Fixes that are not a module: the advice the loop can apply itself (pure).

The explanation engine ranks advice as text commands for people
(``setsebool -P NAME on``, ``semanage port -a -t TYPE -p udp 63822``,
``restorecon -v PATH``, ``semanage fcontext -a -t TYPE 'REGEX'``,
``semanage fcontext -a -e SRC DST && restorecon -Rv DST``). The loop never
hands such text to a shell: :func:`fix_from_advice` turns one advice into a
:class:`Fix` with validated fields (identifiers checked against SELinux's
grammar, ports as ints, paths absolute) and the argv lists to run. A command
whose form is not one of these is returned as ``None``: the admin decides.

A relabel is applied only when it is aimed at the denied object
(:func:`aimed_at_object`): the finding's resolved object is a known path
(certain, or matched by name; never ``UNKNOWN``), the advice's ``acts_on`` is
that path or a tree holding it, and what the commands really relabel covers
it (a tree only with ``restorecon -R``; a file-context rule whose regex
matches the object; an equivalence whose DST holds it).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from avcfix.explain.commands import is_system_tree, safe_path
from avcfix.explain.model import Advice, AdviceKind, Finding
from avcfix.names.identifiers import is_identifier

#: Advice kinds the loop knows how to apply (``--apply-advice``).
APPLICABLE = (AdviceKind.PORT_LABEL, AdviceKind.BOOLEAN, AdviceKind.RESTORECON, AdviceKind.FCONTEXT,
              AdviceKind.FCONTEXT_EQUAL)
#: The kinds that relabel files: applied only when aimed at the denied object.
RELABELS = (AdviceKind.RESTORECON, AdviceKind.FCONTEXT, AdviceKind.FCONTEXT_EQUAL)

_PROTOS = ("tcp", "udp", "sctp", "dccp")


#: What makes two fixes one: the advice kind's value and the commands.
FixKey = tuple[str, tuple[tuple[str, ...], ...]]


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
    equal: tuple[str, str] | None = None  # (src, dst) of semanage fcontext -a -e SRC DST

    def relabels(self) -> tuple[tuple[str, bool], ...]:
        """(path, recursive) for every ``restorecon`` the fix runs."""
        out: list[tuple[str, bool]] = []
        for argv in self.argv:
            if argv[:1] != ("restorecon",):
                continue
            flags = argv[1:argv.index("--")] if "--" in argv else ()
            targets = argv[argv.index("--") + 1:] if "--" in argv else argv[1:]
            out += [(t, "-R" in flags) for t in targets]
        return tuple(out)

    @property
    def key(self) -> FixKey:
        return (self.kind.value, self.argv)

    def to_json(self) -> dict[str, Any]:
        """For the loop's journal (:meth:`from_json` reads it back)."""
        return {"kind": self.kind.value, "command": self.command, "argv": [list(a) for a in self.argv],
                "booleans": [[n, v] for n, v in self.booleans],
                "port": list(self.port) if self.port else None,
                "fcontext": list(self.fcontext) if self.fcontext else None, "paths": list(self.paths),
                "equal": list(self.equal) if self.equal else None}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Fix:
        """A fix as journaled; its names are checked again (a journal is a file anyone root can edit)."""
        kind = AdviceKind(doc["kind"])
        booleans = tuple((str(n), bool(v)) for n, v in doc.get("booleans") or ())
        port = doc.get("port")
        fc = doc.get("fcontext")
        paths = tuple(str(p) for p in doc.get("paths") or ())
        eq = doc.get("equal")
        equal = (str(eq[0]), str(eq[1])) if eq else None
        names = [n for n, _ in booleans] + ([str(port[2])] if port else []) + ([str(fc[1])] if fc else [])
        if not all(is_identifier(n) for n in names) or not all(
                p.startswith("/") for p in paths + ((str(fc[0]),) if fc else ()) + (equal or ())):
            raise ValueError(f"a journaled fix with a bad name: {doc.get('command')!r}")
        if equal is not None and not all(safe_path(p) == p for p in equal):
            raise ValueError(f"a journaled fix with a bad path: {doc.get('command')!r}")
        return cls(kind, str(doc.get("command", "")), tuple(tuple(str(w) for w in a) for a in doc.get("argv") or ()),
                   booleans=booleans,
                   port=(str(port[0]), int(port[1]), str(port[2])) if port else None,
                   fcontext=(str(fc[0]), str(fc[1])) if fc else None, paths=paths, equal=equal)


def fix_for(finding: Finding) -> Fix | None:
    """The :class:`Fix` for a finding's best advice, or ``None`` when it cannot be applied safely
    (not a kind the loop applies, a command of another form, or a relabel not aimed at the object)."""
    if not finding.advice:
        return None
    fix = fix_from_advice(finding, finding.advice[0])
    if fix is None or not aimed_at_object(finding, finding.advice[0], fix):
        return None
    return fix


def fix_from_advice(finding: Finding, advice: Advice) -> Fix | None:
    """The :class:`Fix` for one advice of ``finding``, or ``None`` when its form is not one the
    loop applies (whether it is aimed at the object is :func:`aimed_at_object`)."""
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
    if advice.kind is AdviceKind.FCONTEXT_EQUAL:
        return _fcontext_equal(advice.command, commands)
    return _fcontext(advice.command, commands)


def _holds(top: str, path: str) -> bool:
    top = top.rstrip("/") or "/"
    return path == top or top == "/" or path.startswith(top + "/")


def aimed_at_object(finding: Finding, advice: Advice, fix: Fix) -> bool:
    """True when ``fix`` (made from ``advice``) acts on ``finding``'s denied object.

    Booleans and port labels change policy, not a path: always. A relabel
    needs a known object path (:class:`~avcfix.explain.objects.DeniedObject`
    of kind PATH: certain, or matched by name), ``advice.acts_on`` equal to it
    or a tree holding it, and commands that really relabel it.
    """
    if fix.kind not in RELABELS:
        return True
    from avcfix.explain.objects import ObjectKind

    obj = finding.object
    if obj is None or obj.kind is not ObjectKind.PATH or obj.path is None or not advice.acts_on:
        return False
    where = advice.acts_on.rstrip("/") or "/"
    target = obj.path
    if not _holds(where, target):
        return False
    relabels = fix.relabels()
    if not relabels and fix.fcontext is None:
        return False
    # every relabel is the object or a tree holding it, and one reaches it (a file-context
    # rule alone relabels nothing yet: its regex must match the object)
    if not all(_holds(p, target) for p, _ in relabels):
        return False
    if relabels and not any(p.rstrip("/") == target or (rec and _holds(p, target)) for p, rec in relabels):
        return False  # restorecon -v DIR does not relabel DIR/file
    if fix.fcontext is not None:
        try:
            return re.fullmatch(fix.fcontext[0], target) is not None
        except re.error:
            return False
    if fix.equal is not None:
        return _holds(fix.equal[1], target)
    return True


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


_ON_OFF = {"on": True, "1": True, "true": True, "off": False, "0": False, "false": False}


def _boolean(finding: Finding, text: str, commands: list[list[str]]) -> Fix | None:
    """``setsebool -P NAME on`` / ``setsebool -P A=on B=off``: exactly the settings of the command.

    When audit2why named the booleans that allow the access (``finding.booleans``,
    every alternative), each setting must be one of them: one alternative is
    one advice, and applying it sets that alternative only.
    """
    settings: list[tuple[str, bool]] = []
    for cmd in commands:
        if cmd[:1] != ["setsebool"]:
            return None
        words = [w for w in cmd[1:] if w != "-P"]
        while words:
            w = words.pop(0)
            if "=" in w:
                name, _, value = w.partition("=")
            elif words:
                name, value = w, words.pop(0)
            else:
                return None
            if value not in _ON_OFF:
                return None
            settings.append((name, _ON_OFF[value]))
    if not settings or not all(is_identifier(n) for n, _ in settings):
        return None
    if finding.booleans and not set(settings) <= set(finding.booleans):
        return None  # a setting audit2why did not name for this access
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
    op = "-m" if "-m" in cmd else "-a"  # -m: the policy already defines the port (undo: -d restores it)
    argv = ("semanage", "port", op, "-t", type_name, "-p", proto, str(port))
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


def _fcontext_equal(text: str, commands: list[list[str]]) -> Fix | None:
    """``semanage fcontext -a -e SRC DST && restorecon -Rv DST`` (exactly that form)."""
    if len(commands) != 2:
        return None
    sem, rc = commands
    if sem[:2] != ["semanage", "fcontext"] or len(sem) != 6:
        return None
    words = sem[2:]
    if words[:2] == ["-a", "-e"]:
        src, dst = words[2], words[3]
    elif words[0] == "-e" and words[2] == "-a":
        src, dst = words[1], words[3]
    else:
        return None
    if safe_path(src) != src or safe_path(dst) != dst or src.rstrip("/") == dst.rstrip("/"):
        return None
    if is_system_tree(dst) or dst in ("/",) or _holds(dst, src) or _holds(src, dst):
        return None  # a whole system tree, or a path made equivalent to its own subtree
    sub = _restorecon(shlex.join(rc), [rc])
    if sub is None or sub.paths != (dst,):
        return None
    argv = (("semanage", "fcontext", "-a", "-e", src, dst), *sub.argv)
    return Fix(AdviceKind.FCONTEXT_EQUAL, text, argv, paths=sub.paths, equal=(src, dst))


def restorecon_fix(paths: tuple[str, ...], recursive: bool = True) -> Fix | None:
    """``restorecon [-R] -v -- PATHS`` as a :class:`Fix` (``loop --new-domain`` relabels the
    executable and the new domain's directories); ``None`` when a path is not safe."""
    if not paths or not all(safe_path(p) == p for p in paths):
        return None
    if recursive and any(is_system_tree(p) for p in paths):
        return None
    flags = ("-R", "-v") if recursive else ("-v",)
    text = shlex.join(["restorecon", "".join(["-", *(f[1] for f in flags)]), *paths])
    return Fix(AdviceKind.RESTORECON, text, (("restorecon", *flags, "--", *paths),), paths=tuple(paths))
