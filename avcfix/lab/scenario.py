"""Lab scenarios: a simulated service and the accesses it makes, read from TOML.

A scenario (``avcfix/lab/scenarios/NAME.toml``, package data) describes one service: its domain and
process identity, the lab's own tables (file labels on the lab's "disk", port
labels added with ``semanage port``, runtime booleans) and the accesses the
service makes on start, in order. Each access is one syscall made of one or
more permission checks; the simulated kernel decides every check with the real
policy (see :mod:`avcfix.lab.kernel`). Nothing here decides anything.

Format (every key is documented in ``avcfix/lab/scenarios/README.md``)::

    [service]
    name = "eucanetd"
    context = "system_u:system_r:eucalyptus_eucanetd_t:s0"
    exe = "/usr/sbin/eucanetd"
    argv = ["/usr/sbin/eucanetd", "-d"]
    policy_modules = ["eucalyptus"]

    [[files]]
    path = "/run/eucalyptus"
    context = "system_u:object_r:eucalyptus_var_run_t:s0"
    fcontext = "system_u:object_r:eucalyptus_var_run_t:s0"   # what restorecon sets

    [[ports]]
    proto = "udp"
    port = 63822
    context = "system_u:object_r:eucalyptus_eucanetd_port_t:s0"

    [[access]]
    what = "bind udp 63822"
    syscall = "bind"
    checks = [{ class = "udp_socket", perms = ["name_bind"], port = 63822 }]
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from avcfix.audit.model import Context
from avcfix.errors import InputError, UsageError
from avcfix.names.identifiers import identifier_problem

#: Where the shipped scenarios live: package data (``avcfix/lab/scenarios``), found
#: through importlib.resources so that an installed wheel or distribution package
#: runs ``loop --lab NAME`` as the source tree does. avcfix is installed as files
#: (it carries C extensions; never zip-imported), so this is a real directory.
LABS_DIR = Path(str(resources.files("avcfix.lab") / "scenarios"))

_PROTOS = ("tcp", "udp", "sctp", "dccp")


@dataclass(frozen=True, slots=True)
class Target:
    """What a check is about: the process itself, a path, a port or a fixed context."""

    kind: str  # "self", "path", "port", "context"
    path: str | None = None
    port: int | None = None
    proto: str | None = None
    context: str | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One permission check the kernel makes (one ``avc_has_perm`` call)."""

    tclass: str
    perms: tuple[str, ...]
    target: Target
    #: The AVC's ``name=`` (last path component) when the target is a path.
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Access:
    """One syscall of the service: its checks in kernel order."""

    what: str
    syscall: str
    checks: tuple[Check, ...]
    #: PATH items of the SYSCALL event (absolute paths).
    paths: tuple[str, ...] = ()
    #: Return value on success (fd number, 0...).
    result: int = 0
    #: open/openat/creat flags (x86_64 values); None: derived from the checks (:func:`default_open_flags`).
    flags: int | None = None
    #: The SYSCALL record's a0..a3 as given; None: derived from the syscall (:mod:`avcfix.lab.kernel`).
    args: tuple[int, int, int, int] | None = None
    #: bind/connect: the SOCKADDR's IPv4 address (default 0.0.0.0 for bind, 127.0.0.1 for connect).
    address: str | None = None


#: open(2) flags by name, x86_64 values (asm-generic/fcntl.h), for a scenario's ``flags``.
OPEN_FLAGS = {
    "O_RDONLY": 0o0, "O_WRONLY": 0o1, "O_RDWR": 0o2, "O_CREAT": 0o100, "O_EXCL": 0o200, "O_NOCTTY": 0o400,
    "O_TRUNC": 0o1000, "O_APPEND": 0o2000, "O_NONBLOCK": 0o4000, "O_DIRECTORY": 0o200000,
    "O_NOFOLLOW": 0o400000, "O_CLOEXEC": 0o2000000,
}


def default_open_flags(checks: tuple[Check, ...]) -> int:
    """The flags an open making ``checks`` would have: a file created -> O_WRONLY|O_CREAT|O_TRUNC,
    a file written -> O_WRONLY (O_APPEND for append), else O_RDONLY; always O_CLOEXEC."""
    f = OPEN_FLAGS
    files = [c for c in checks if c.tclass != "dir"]
    if any("create" in c.perms for c in files):
        return f["O_WRONLY"] | f["O_CREAT"] | f["O_TRUNC"] | f["O_CLOEXEC"]
    if any("append" in c.perms for c in files):
        return f["O_WRONLY"] | f["O_APPEND"] | f["O_CLOEXEC"]
    if any("write" in c.perms for c in files):
        return f["O_WRONLY"] | f["O_CLOEXEC"]
    return f["O_RDONLY"] | f["O_CLOEXEC"]


@dataclass(frozen=True, slots=True)
class FileLabel:
    path: str
    context: str
    #: What ``restorecon`` would set (the policy's file_contexts for this path).
    fcontext: str | None = None
    kind: str = "file"  # "file" or "dir"
    #: The label the file has again each time the service starts: another
    #: program re-creates it or moves it into place first (a deploy hook, an
    #: ``ExecStartPre=`` that copies it with ``cp -a``), so a relabel does not stay.
    at_start: str | None = None


@dataclass(frozen=True, slots=True)
class PortLabel:
    proto: str
    port: int
    context: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario, validated."""

    name: str
    description: str
    service: str
    context: str
    exe: str
    comm: str
    argv: tuple[str, ...]
    cwd: str
    policy_modules: tuple[str, ...]
    files: tuple[FileLabel, ...]
    ports: tuple[PortLabel, ...]
    accesses: tuple[Access, ...]
    start_time: float = 1700000000.0
    first_pid: int = 2051
    first_serial: int = 4101
    #: The context of the process that starts the service (systemd: ``system_u:system_r:init_t:s0``).
    #: When set, the service's domain at each start is computed from the policy, as the kernel's
    #: execve does: a ``type_transition PARENT EXE_TYPE:process NEW`` with its checks allowed gives
    #: NEW, else the service runs in the parent's domain. ``context`` is then the parent's.
    parent: str | None = None

    @property
    def domain(self) -> str:
        ctx = Context.parse(self.context)
        assert ctx is not None  # validated on load
        return ctx.type


def find_scenario(name_or_path: str, labs_dir: Path = LABS_DIR) -> Path:
    """``eucanetd`` -> ``LABS_DIR/eucanetd.toml`` (package data); a path is taken as is."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or "/" in name_or_path:
        if not p.is_file():
            raise InputError(f"{name_or_path}: no such lab scenario file")
        return p
    candidate = labs_dir / f"{name_or_path}.toml"
    if candidate.is_file():
        return candidate
    known = sorted(q.stem for q in labs_dir.glob("*.toml")) if labs_dir.is_dir() else []
    raise UsageError(f"unknown lab scenario {name_or_path!r}; known: {', '.join(known) or 'none'}")


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; errors name the file and the key."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a valid TOML scenario: {exc}") from None
    return parse_scenario(data, str(path))


def parse_scenario(data: Mapping[str, Any], where: str = "<scenario>") -> Scenario:
    """Validate a decoded TOML mapping into a :class:`Scenario`."""
    svc = _table(data, "service", where)
    parent = _context(svc, "parent", f"{where}: [service]") if "parent" in svc else None
    if parent is not None and "context" in svc:
        raise UsageError(f"{where}: [service] gives parent or context, not both (with parent, the "
                         "kernel computes the service's context at each start)")
    context = parent if parent is not None else _context(svc, "context", f"{where}: [service]")
    exe = _str(svc, "exe", f"{where}: [service]")
    argv = tuple(_str_list(svc, "argv", f"{where}: [service]", default=[exe]))
    modules = tuple(_str_list(svc, "policy_modules", f"{where}: [service]", default=[]))
    for m in modules:
        _ident(m, f"{where}: [service] policy_modules")
    files = tuple(_file(f, f"{where}: [[files]] #{i + 1}") for i, f in enumerate(_list(data, "files", where)))
    ports = tuple(_port(p, f"{where}: [[ports]] #{i + 1}") for i, p in enumerate(_list(data, "ports", where)))
    accesses = tuple(
        _access(a, f"{where}: [[access]] #{i + 1}") for i, a in enumerate(_list(data, "access", where))
    )
    if not accesses:
        raise UsageError(f"{where}: a scenario needs at least one [[access]]")
    if parent is not None and not any(f.path == exe for f in files):
        raise UsageError(f"{where}: with [service] parent, the executable {exe} needs its label in [[files]]")
    lab = data.get("lab", {})
    if not isinstance(lab, dict):
        raise UsageError(f"{where}: [lab] must be a table")
    return Scenario(
        name=str(lab.get("name", Path(where).stem)),
        description=str(lab.get("description", "")),
        service=_str(svc, "name", f"{where}: [service]"),
        context=context,
        exe=exe,
        comm=str(svc.get("comm", Path(exe).name))[:15],
        argv=argv,
        cwd=str(svc.get("cwd", "/")),
        policy_modules=modules,
        files=files,
        ports=ports,
        accesses=accesses,
        start_time=float(lab.get("start_time", 1700000000.0)),
        first_pid=int(lab.get("first_pid", 2051)),
        first_serial=int(lab.get("first_serial", 4101)),
        parent=parent,
    )


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    v = data.get(key)
    if not isinstance(v, dict):
        raise UsageError(f"{where}: missing [{key}] table")
    return v


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    v = data.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise UsageError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return v


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v:
        raise UsageError(f"{where}: {key} must be a non-empty string")
    return v


def _str_list(d: Mapping[str, Any], key: str, where: str, default: list[str]) -> list[str]:
    v = d.get(key, default)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise UsageError(f"{where}: {key} must be a list of strings")
    return v


def _ident(name: str, where: str) -> str:
    problem = identifier_problem(name)
    if problem:
        raise UsageError(f"{where}: {name!r}: {problem}")
    return name


def _context(d: Mapping[str, Any], key: str, where: str) -> str:
    text = _str(d, key, where)
    ctx = Context.parse(text)
    if ctx is None:
        raise UsageError(f"{where}: {key}={text!r} is not a user:role:type[:level] context")
    for part in (ctx.user, ctx.role, ctx.type):
        _ident(part, f"{where}: {key}")
    return text


def _file(d: Mapping[str, Any], where: str) -> FileLabel:
    path = _str(d, "path", where)
    if not path.startswith("/"):
        raise UsageError(f"{where}: path must be absolute")
    fcontext = _context(d, "fcontext", where) if "fcontext" in d else None
    kind = str(d.get("kind", "file"))
    if kind not in ("file", "dir"):
        raise UsageError(f"{where}: kind must be 'file' or 'dir'")
    at_start = _context(d, "at_start", where) if "at_start" in d else None
    return FileLabel(path, _context(d, "context", where), fcontext, kind, at_start)


def _proto(v: Any, where: str) -> str:
    if v not in _PROTOS:
        raise UsageError(f"{where}: proto must be one of {', '.join(_PROTOS)}")
    return str(v)


def _portnum(v: Any, where: str) -> int:
    if not isinstance(v, int) or not 0 < v < 65536:
        raise UsageError(f"{where}: port must be an integer 1-65535")
    return v


def _port(d: Mapping[str, Any], where: str) -> PortLabel:
    return PortLabel(_proto(d.get("proto"), where), _portnum(d.get("port"), where), _context(d, "context", where))


def _check(d: Any, where: str) -> Check:
    if not isinstance(d, dict):
        raise UsageError(f"{where}: each check must be an inline table")
    tclass = _ident(_str(d, "class", where), f"{where}: class")
    perms = tuple(_ident(p, f"{where}: perms") for p in _str_list(d, "perms", where, default=[]))
    if not perms:
        raise UsageError(f"{where}: perms must name at least one permission")
    given = [k for k in ("self", "path", "port", "context") if k in d]
    if len(given) != 1:
        raise UsageError(f"{where}: give exactly one target: self = true, path, port or context")
    kind = given[0]
    if kind == "self":
        target = Target("self")
    elif kind == "path":
        path = _str(d, "path", where)
        if not path.startswith("/"):
            raise UsageError(f"{where}: path must be absolute")
        target = Target("path", path=path)
    elif kind == "port":
        proto = _proto(d.get("proto", tclass.split("_", 1)[0]), where)
        target = Target("port", port=_portnum(d["port"], where), proto=proto)
    else:
        target = Target("context", context=_context(d, "context", where))
    name = d.get("name")
    if name is None and target.path:
        name = target.path.rstrip("/").rsplit("/", 1)[-1] or "/"
    return Check(tclass, perms, target, name)


def _access(d: Mapping[str, Any], where: str) -> Access:
    checks_raw = d.get("checks")
    if not isinstance(checks_raw, list) or not checks_raw:
        raise UsageError(f"{where}: checks must be a non-empty array")
    checks = tuple(_check(c, f"{where} check #{i + 1}") for i, c in enumerate(checks_raw))
    paths = tuple(_str_list(d, "paths", where, default=[]))
    result = d.get("result", 0)
    if not isinstance(result, int):
        raise UsageError(f"{where}: result must be an integer")
    return Access(
        what=_str(d, "what", where),
        syscall=_ident(_str(d, "syscall", where), f"{where}: syscall"),
        checks=checks,
        paths=paths,
        result=result,
        flags=_flags(d.get("flags"), where),
        args=_args(d.get("args"), where),
        address=_address(d.get("address"), where),
    )


def _flags(value: Any, where: str) -> int | None:
    """``flags``: an integer or a list of O_* names (see :data:`OPEN_FLAGS`)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32:
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        unknown = [v for v in value if v not in OPEN_FLAGS]
        if unknown:
            raise UsageError(f"{where}: unknown open flag(s) {', '.join(map(repr, unknown))} "
                             f"(known: {', '.join(OPEN_FLAGS)})")
        out = 0
        for v in value:
            out |= OPEN_FLAGS[v]
        return out
    raise UsageError(f"{where}: flags must be an integer or a list of O_* names")


def _args(value: Any, where: str) -> tuple[int, int, int, int] | None:
    """``args``: the SYSCALL record's a0..a3, four unsigned 64-bit integers."""
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64 for v in value)):
        raise UsageError(f"{where}: args must be a list of four unsigned integers (a0..a3)")
    return (value[0], value[1], value[2], value[3])


def _address(value: Any, where: str) -> str | None:
    if value is None:
        return None
    import ipaddress

    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError):
        raise UsageError(f"{where}: address must be an IPv4 address") from None
