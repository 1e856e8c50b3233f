"""The values that flow out of the audit layer (frozen, typed).

This module is the contract between ``audit/`` and everything downstream
(explain, policy generation, bundle, loop). Fields may be added; the ones
listed here keep their names and meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from sys import intern


@dataclass(frozen=True, slots=True)
class Context:
    """An SELinux security context split into its parts."""

    user: str
    role: str
    type: str
    level: str | None = None

    @classmethod
    def parse(cls, text: str) -> Context | None:
        """Split ``user:role:type[:level]``; ``None`` when it is not a context.

        The parts are interned: a log with many distinct contexts repeats the
        same users, roles and levels, and every group keeps its contexts."""
        parts = text.split(":", 3)
        if len(parts) < 3 or not all(parts[:3]):
            return None
        return cls(intern(parts[0]), intern(parts[1]), intern(parts[2]),
                   intern(parts[3]) if len(parts) == 4 else None)

    def __str__(self) -> str:
        base = f"{self.user}:{self.role}:{self.type}"
        return f"{base}:{self.level}" if self.level is not None else base


@dataclass(frozen=True, slots=True)
class Skipped:
    """One input line that was not understood, and why."""

    source: str
    line: int
    reason: str
    excerpt: str = ""


@dataclass(frozen=True, slots=True)
class PathItem:
    """One PATH record of the event (what the kernel looked up).

    A value is ``None`` when the record does not give it or gives something
    that is not one (a non-numeric ``inode=``, a ``mode=`` that is not octal
    digits, an ``obj=`` that is not a context)."""

    item: int  # item=N
    #: ``name=``, decoded (hex or quoted) and made absolute with the CWD as
    #: ``Denial.paths`` is; ``None`` for ``(null)``, ``?`` or an empty name.
    name: str | None
    nametype: str | None  # NORMAL, PARENT, CREATE, DELETE, UNKNOWN (as logged), or None
    inode: int | None  # inode= (decimal, at most 20 digits)
    dev: str | None  # dev= as logged, e.g. "fd:00"
    mode: int | None  # mode= parsed as octal (0o100644)
    otype: str | None  # the type of obj= (e.g. "httpd_sys_content_t")


@dataclass(frozen=True, slots=True)
class Denial:
    """One denied (or permissively logged) access, with its event's context.

    ``perms`` is sorted. ``paths`` holds the PATH items of the event (made
    absolute with the CWD record where they were relative), then the AVC's own
    ``path=`` if it adds something. ``records`` holds the raw text of every
    record of the event, in the order ausearch would print them, for ``--raw``
    and bug-report bundles. ``items`` holds every PATH record of the event as a
    :class:`PathItem`, in item order (equal items from the same record text are
    the same object); ``ino`` and ``dev`` are the AVC record's own ``ino=`` and
    ``dev=`` (unquoted).
    """

    kind: str  # "AVC", "USER_AVC", "SELINUX_ERR" or "USER_SELINUX_ERR"
    node: str | None
    time: float
    serial: int
    scontext: Context
    tcontext: Context
    tclass: str
    perms: tuple[str, ...]
    permissive: bool
    pid: int | None = None
    comm: str | None = None
    exe: str | None = None
    syscall: str | None = None
    syscall_nr: int | None = None
    arch: str | None = None
    success: bool | None = None
    exit: int | None = None
    name: str | None = None
    path: str | None = None
    paths: tuple[str, ...] = ()
    cwd: str | None = None
    proctitle: str | None = None
    port: int | None = None
    ioctlcmd: int | None = None
    capability: int | None = None
    items: tuple[PathItem, ...] = ()
    ino: int | None = None
    dev: str | None = None
    source: str = ""
    line: int = 0
    records: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def stype(self) -> str:
        return self.scontext.type

    @property
    def ttype(self) -> str:
        return self.tcontext.type

    @property
    def example_path(self) -> str | None:
        """The most telling path for a human: a PATH item, the AVC path, or name."""
        if self.paths:
            return self.paths[-1] if len(self.paths) == 1 else self.paths[0]
        return self.path or self.name


@dataclass(frozen=True, slots=True)
class DenialGroup:
    """Denials of one source domain on one (target type, class), enforcing or
    permissive kept apart, with the union of their permissions."""

    source: str
    target: str
    tclass: str
    permissive: bool
    perms: tuple[str, ...]
    count: int
    first_seen: float
    last_seen: float
    #: The first denial seen in the group (evidence: comm, exe, syscall, path).
    example: Denial
    #: Distinct full contexts seen (scontext, tcontext), sorted; usually one.
    contexts: tuple[tuple[str, str], ...] = ()
    #: Distinct comms / exes / paths seen (sorted, capped).
    comms: tuple[str, ...] = ()
    exes: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    ioctlcmds: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[str, str, str, bool]:
        return (self.source, self.target, self.tclass, self.permissive)
