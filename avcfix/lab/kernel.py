"""The lab's simulated kernel: runs a scenario's accesses against the REAL policy.

This is a simulation, and named so everywhere it shows: there is no SELinux
kernel on most machines that run avcfix's tests and demos. What is simulated is
only the kernel's bookkeeping (which process, which label a file or port has,
whether the domain is permissive, the runtime boolean values); every access
decision comes from the real binary policy of the lab's policy root, through
:class:`avcfix.explain.protocol.Facts` (libselinux's audit2why, per permission).

Kernel semantics kept:

- enforcing: the first denied check fails its syscall with ``-EACCES`` and the
  service exits (a daemon stops at its first failure);
- permissive (global, or a permissive domain): every denied check is logged
  with ``permissive=1`` and the service goes on;
- a denial the policy dontaudits is not logged unless dontaudit rules are
  disabled (``semodule -DB``), but still fails the syscall in enforcing mode;
- runtime booleans: a check the policy would allow with a boolean set is
  allowed when the lab's boolean has that value (``setsebool`` in the lab);
- the records appended to the log are real ``audit.log`` records.

The state lives on disk as a real machine's does (``state_file``, the lab
dir's ``lab-state.json``, written atomically after every change): a lab run
killed half-way leaves its permissive mark, booleans, port labels and file
labels behind, for the loop's crash recovery to find, and a rerun on the same
lab dir goes on from the state the last one left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from avcfix.audit.syscalls import available as syscalls_available
from avcfix.audit.syscalls import syscall_number
from avcfix.errors import UsageError
from avcfix.explain.model import Reason
from avcfix.explain.protocol import AccessKey, Analysis
from avcfix.lab import records as R
from avcfix.lab.scenario import OPEN_FLAGS, Access, Check, Scenario, Target, default_open_flags

#: Linux capability numbers (include/uapi/linux/capability.h), for ``capability=N``.
CAPABILITIES = {
    name: nr
    for nr, name in enumerate(
        "chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap linux_immutable "
        "net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module sys_rawio "
        "sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time "
        "sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog "
        "wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore".split()
    )
}

#: Seconds of simulated time between two accesses, and for a service start.
STEP = 0.001
START_GAP = 1.0


#: A user-space pointer, as the SYSCALL record shows one (a path, a sockaddr, a buffer).
_POINTER = 0x7FFD5E1C2A10
_AT_FDCWD = 0xFFFFFF9C


def syscall_args(access: Access) -> tuple[int, int, int, int]:
    """The SYSCALL record's a0..a3 for ``access`` (x86_64): the scenario's ``args``, else
    for open/openat/creat the path pointer, the flags (``flags``, else derived from the
    checks: :func:`~avcfix.lab.scenario.default_open_flags`) and the mode (0644 with
    O_CREAT); bind/connect: fd 3, a sockaddr pointer, its length (16); others as before."""
    if access.args is not None:
        return access.args
    if access.syscall in ("open", "openat", "creat"):
        flags = access.flags if access.flags is not None else default_open_flags(access.checks)
        mode = 0o644 if flags & OPEN_FLAGS["O_CREAT"] or access.syscall == "creat" else 0
        if access.syscall == "open":
            return (_POINTER, flags, mode, 0)
        if access.syscall == "creat":
            return (_POINTER, 0o644, 0, 0)
        return (_AT_FDCWD, _POINTER, flags, mode)
    if access.syscall in ("bind", "connect"):
        return (3, _POINTER, 16, 0)
    return R.DEFAULT_ARGS


class Analyzer(Protocol):
    """What the kernel needs from the policy: per-permission verdicts."""

    def analyze(self, keys: Sequence[AccessKey]) -> dict[AccessKey, Analysis]:
        ...

    def expected_type(self, path: str) -> str | None:
        ...


def _type_of(context: str) -> str:
    """The type field of a ``user:role:type[:level]`` context (validated on load)."""
    return context.split(":")[2]


def _EXECVE(exe: str) -> Access:
    """The execve of the service's binary, for its SYSCALL and PATH records."""
    return Access(what=f"execve {exe}", syscall="execve", checks=(), paths=(exe,))


@dataclass(slots=True)
class LabState:
    """The simulated machine's mutable state (owned by one :class:`SimKernel`).

    ``ports`` maps (proto, port) to a context, ``files`` a path to its
    current context, ``fcontexts`` holds ``semanage fcontext`` rules added in
    the lab (regex, type), newest first, ``equivalences`` the ``semanage
    fcontext -a -e SRC DST`` rules (DST -> SRC).
    """

    enforcing: bool = True
    dontaudit: bool = True
    permissive_domains: set[str] = field(default_factory=set)
    booleans: dict[str, bool] = field(default_factory=dict)
    ports: dict[tuple[str, int], str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    fcontexts: list[tuple[str, str]] = field(default_factory=list)
    equivalences: dict[str, str] = field(default_factory=dict)
    clock: float = 0.0
    serial: int = 0
    next_pid: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "enforcing": self.enforcing, "dontaudit": self.dontaudit,
            "permissive_domains": sorted(self.permissive_domains),
            "booleans": dict(sorted(self.booleans.items())),
            "ports": [[proto, port, ctx] for (proto, port), ctx in sorted(self.ports.items())],
            "files": dict(sorted(self.files.items())),
            "fcontexts": [list(fc) for fc in self.fcontexts],
            "equivalences": dict(sorted(self.equivalences.items())),
            "clock": self.clock, "serial": self.serial, "next_pid": self.next_pid,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LabState:
        return cls(
            enforcing=bool(doc["enforcing"]), dontaudit=bool(doc["dontaudit"]),
            permissive_domains={str(d) for d in doc["permissive_domains"]},
            booleans={str(k): bool(v) for k, v in doc["booleans"].items()},
            ports={(str(p), int(n)): str(c) for p, n, c in doc["ports"]},
            files={str(k): str(v) for k, v in doc["files"].items()},
            fcontexts=[(str(r), str(t)) for r, t in doc["fcontexts"]],
            equivalences={str(k): str(v) for k, v in (doc.get("equivalences") or {}).items()},
            clock=float(doc["clock"]), serial=int(doc["serial"]), next_pid=int(doc["next_pid"]),
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one service start did in the lab."""

    pid: int
    ok: bool
    #: The access that failed (enforcing), or None.
    failed: str | None
    #: Denied checks, logged or not.
    denied: int
    #: AVC records appended to the log.
    logged: int
    accesses_done: int


@dataclass(frozen=True, slots=True)
class _Decision:
    denied: tuple[str, ...]
    hidden: bool  # every denied perm is dontaudited (and dontaudit is on)


class SimKernel:
    """Runs a :class:`Scenario` against a policy, appending records to ``log``."""

    def __init__(self, scenario: Scenario, log: Path, analyzer_factory: Callable[[], Analyzer],
                 state_file: Path | None = None,
                 transition: Callable[[str, str], str | None] | None = None) -> None:
        self.scenario = scenario
        self.log = Path(log)
        self._analyzer_factory = analyzer_factory
        self.state_file = Path(state_file) if state_file is not None else None
        self.state = self._initial_state()
        self._kinds = {f.path: f.kind for f in scenario.files}
        #: ``transition(parent_type, exec_type)``: the policy's ``type_transition
        #: PARENT EXEC:process NEW`` default, or None (only with ``[service] parent``).
        self._transition = transition
        #: The service process's context at its last start (the scenario's, or computed).
        self.context = scenario.context

    def _initial_state(self) -> LabState:
        """The scenario's state, or the one the lab dir holds for this scenario."""
        sc = self.scenario
        fresh = LabState(
            ports={(p.proto, p.port): p.context for p in sc.ports},
            files={f.path: f.context for f in sc.files},
            clock=sc.start_time,
            serial=sc.first_serial,
            next_pid=sc.first_pid,
        )
        if self.state_file is None or not self.state_file.is_file():
            return fresh
        try:
            doc = json.loads(self.state_file.read_text(encoding="utf-8"))
            if doc.get("scenario") != sc.name:
                return fresh  # another scenario's lab dir: start from this one's
            state = LabState.from_json(doc["state"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"lab state {self.state_file} is damaged ({exc}): delete it to start the lab "
                             "from its scenario again") from exc
        # labels the scenario added since: as the scenario says
        for key, ctx in fresh.ports.items():
            state.ports.setdefault(key, ctx)
        for path, ctx in fresh.files.items():
            state.files.setdefault(path, ctx)
        return state

    def save(self) -> None:
        """Write the state to the lab dir (atomically, fsynced), as the kernel and semanage would."""
        if self.state_file is None:
            return
        from avcfix.toolchain.atomic import write_json_atomic

        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.state_file, {"scenario": self.scenario.name, "state": self.state.to_json()})

    # ------------------------------------------------------------ labels

    def target_context(self, check: Check) -> str:
        """The context the kernel would find on the check's target."""
        t = check.target
        if t.kind == "self":
            return self.context
        if t.kind == "context":
            assert t.context is not None
            return t.context
        if t.kind == "port":
            assert t.proto is not None and t.port is not None
            ctx = self.state.ports.get((t.proto, t.port))
            if ctx is None:
                raise UsageError(f"lab scenario {self.scenario.name}: no label for {t.proto} port {t.port}; "
                                 "add it to [[ports]]")
            return ctx
        assert t.path is not None
        ctx = self.state.files.get(t.path)
        if ctx is None:
            raise UsageError(f"lab scenario {self.scenario.name}: no label for {t.path}; add it to [[files]]")
        return ctx

    # ------------------------------------------------------------ one start

    def run_service(self) -> RunResult:
        """Start the service once: every access in order, until the first failure."""
        st = self.state
        pid = st.next_pid
        st.next_pid += 7
        st.clock = round(st.clock + START_GAP, 3)
        for f in self.scenario.files:
            if f.at_start is not None:  # re-created or moved into place before the service starts
                st.files[f.path] = f.at_start
        analyzer = self._analyzer_factory()  # lent by its owner (the lab's CurrentFacts), who closes it
        execve = self._execve()  # sets self.context: the domain the service runs in
        proc = R.Process(pid, self.scenario.comm, self.scenario.exe, self.context,
                         self.scenario.argv, self.scenario.cwd)
        analyses = analyzer.analyze(self._keys() + [key for key, _check, _src in execve])
        lines: list[str] = []
        denied = logged = done = 0
        failed: str | None = None
        domain = _type_of(self.context)
        permissive = (not st.enforcing) or domain in st.permissive_domains
        if execve:
            st.clock = round(st.clock + STEP, 3)
            st.serial += 1
            avcs: list[str] = []
            for key, check, source in execve:
                decision = self._decide(analyses[key])
                if not decision.denied:
                    continue
                denied += 1
                lax = (not st.enforcing) or _type_of(source) in st.permissive_domains \
                    or analyses[key].permissive_domain
                who = R.Process(pid, self.scenario.comm, self.scenario.exe, source, self.scenario.argv,
                                self.scenario.cwd)
                if not decision.hidden:
                    avcs.append(R.avc_record(st.clock, st.serial, who, self._avc(check, decision.denied, lax)))
                if not lax:
                    failed = f"execve {self.scenario.exe}"
                    break
            if avcs:
                logged += len(avcs)
                lines += avcs
                lines += self._context_records(_EXECVE(self.scenario.exe), proc, ok=failed is None)
        for access in self.scenario.accesses if failed is None else ():
            st.clock = round(st.clock + STEP, 3)
            st.serial += 1
            event_avcs: list[str] = []
            blocked = False
            for check in access.checks:
                key = self._key(check)
                decision = self._decide(analyses[key])
                if not decision.denied:
                    continue
                denied += 1
                # a permissive type in the policy itself (semanage permissive -a) counts too
                lax = permissive or analyses[key].permissive_domain
                if not decision.hidden:
                    event_avcs.append(R.avc_record(st.clock, st.serial, proc,
                                                   self._avc(check, decision.denied, lax)))
                if not lax:
                    blocked = True
                    break
            if event_avcs:
                logged += len(event_avcs)
                lines += event_avcs
                lines += self._context_records(access, proc, ok=not blocked)
            if blocked:
                failed = access.what
                break
            done += 1
        st.serial += 1
        lines.append(R.service_record(round(st.clock + STEP, 3), st.serial, "SERVICE_START",
                                      self.scenario.service, failed is None))
        self._append(lines)
        self.save()
        return RunResult(pid, failed is None, failed, denied, logged, done)

    def _keys(self) -> list[AccessKey]:
        return sorted({self._key(c) for a in self.scenario.accesses for c in a.checks},
                      key=lambda k: (k.scontext, k.tcontext, k.tclass, k.perms))

    def _key(self, check: Check) -> AccessKey:
        return AccessKey(self.context, self.target_context(check), check.tclass, check.perms)

    def _execve(self) -> list[tuple[AccessKey, Check, str]]:
        """The service's execve by its parent (``[service] parent``), as the kernel does it.

        Sets :attr:`context`. With a ``type_transition PARENT EXE_TYPE:process
        NEW`` in the policy the process enters NEW (the parent's user, role
        and level), after the checks ``file execute`` (parent on the file),
        ``process transition`` (parent to NEW) and ``file entrypoint`` (NEW on
        the file); without one it stays in the parent's domain, after ``file
        { execute execute_no_trans }``. Returns the checks (key, check, source
        context) in the kernel's order; ``[]`` without a parent.
        """
        sc = self.scenario
        if sc.parent is None:
            self.context = sc.context
            return []
        exe = Target("path", path=sc.exe)
        name = sc.exe.rstrip("/").rsplit("/", 1)[-1]
        exe_ctx = self.target_context(Check("file", ("execute",), exe, name))
        parent_type, exec_type = _type_of(sc.parent), _type_of(exe_ctx)
        new = self._transition(parent_type, exec_type) if self._transition is not None else None
        if new is None or new == parent_type:
            self.context = sc.parent
            check = Check("file", ("execute", "execute_no_trans"), exe, name)
            return [(AccessKey(sc.parent, exe_ctx, "file", check.perms), check, sc.parent)]
        user, role, _old, *level = sc.parent.split(":", 3)
        self.context = ":".join([user, role, new, *level])
        execute = Check("file", ("execute",), exe, name)
        transition = Check("process", ("transition",), Target("context", context=self.context))
        entry = Check("file", ("entrypoint",), exe, name)
        return [(AccessKey(sc.parent, exe_ctx, "file", ("execute",)), execute, sc.parent),
                (AccessKey(sc.parent, self.context, "process", ("transition",)), transition, sc.parent),
                (AccessKey(self.context, exe_ctx, "file", ("entrypoint",)), entry, self.context)]

    def _decide(self, analysis: Analysis) -> _Decision:
        denied: list[str] = []
        hidden = True
        for perm, verdict in analysis.verdicts:
            if verdict.reason is Reason.ALLOWED_NOW:
                continue
            if verdict.reason is Reason.BOOLEAN and any(
                all(self.state.booleans.get(name) is value for name, value in alt) for alt in verdict.booleans
            ):
                continue  # allowed by a conditional rule whose boolean the lab has set
            denied.append(perm)
            if not (verdict.reason is Reason.DONTAUDIT and self.state.dontaudit):
                hidden = False
        return _Decision(tuple(denied), hidden and bool(denied))

    def _avc(self, check: Check, perms: tuple[str, ...], permissive: bool) -> R.AvcLine:
        t = check.target
        is_cap = check.tclass in ("capability", "cap_userns", "capability2", "cap2_userns")
        capability = CAPABILITIES.get(perms[0]) if is_cap else None
        return R.AvcLine(
            perms=perms,
            tcontext=self.target_context(check),
            tclass=check.tclass,
            permissive=permissive,
            name=check.name if t.kind == "path" else None,
            path_dev="tmpfs" if t.path and t.path.startswith("/run/") else ("vda1" if t.path else None),
            ino=R.stable_ino(t.path) if t.path else None,
            port=t.port if t.kind == "port" else None,
            capability=capability,
        )

    def _context_records(self, access: Access, proc: R.Process, ok: bool) -> list[str]:
        st = self.state
        nr = syscall_number("x86_64", access.syscall)
        if nr is None:
            why = "" if syscalls_available() else " (its number comes from libaudit: install python3-audit)"
            raise UsageError(f"lab scenario {self.scenario.name}: unknown x86_64 syscall {access.syscall!r}{why}")
        out = [R.syscall_record(st.clock, st.serial, proc, nr, ok, access.result if ok else R.EACCES,
                                len(access.paths), syscall_args(access))]
        port = next((c.target.port for c in access.checks if c.target.kind == "port"), None)
        if access.syscall in ("bind", "connect") and port is not None:
            address = access.address or ("0.0.0.0" if access.syscall == "bind" else "127.0.0.1")
            out.append(R.sockaddr_record(st.clock, st.serial, address, port))
        if access.paths:
            out.append(R.cwd_record(st.clock, st.serial, self.scenario.cwd))
            for i, path in enumerate(access.paths):
                obj = self.state.files.get(path, "system_u:object_r:unlabeled_t:s0")
                out.append(R.path_record(st.clock, st.serial, i, path, obj, self._kinds.get(path) == "dir"))
        out.append(R.proctitle_record(st.clock, st.serial, self.scenario.argv))
        return out

    def _append(self, lines: list[str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")

    # ------------------------------------------------------------ admin actions

    def relabel(self, path: str, analyzer: Analyzer) -> str | None:
        """``restorecon PATH``: the lab's fcontext rules first, then the policy's file_contexts.

        A ``semanage fcontext -a -e SRC DST`` equivalence in the lab makes a
        path below DST look up the same path below SRC, as libselinux does.
        """
        if path not in self.state.files:
            return None
        lookup = path
        for dst, src in sorted(self.state.equivalences.items(), key=lambda kv: -len(kv[0])):
            if path == dst or path.startswith(dst.rstrip("/") + "/"):
                lookup = src.rstrip("/") + path[len(dst.rstrip("/")):] if path != dst else src
                break
        new_type: str | None = None
        for regex, type_name in self.state.fcontexts:
            if re.fullmatch(regex, lookup):
                new_type = type_name
                break
        if new_type is None and lookup == path:
            for f in self.scenario.files:
                if f.path == path and f.fcontext:
                    new_type = f.fcontext.split(":")[2]
                    break
        if new_type is None:
            new_type = analyzer.expected_type(lookup)
        if new_type is None:
            return None
        old = self.state.files[path].split(":")
        old[2] = new_type
        self.state.files[path] = ":".join(old)
        return self.state.files[path]

    def tree(self, top: str) -> list[str]:
        """The lab's files at or below ``top`` (what ``restorecon -R TOP`` walks), sorted."""
        base = top.rstrip("/") or "/"
        return sorted(p for p in self.state.files
                      if p == base or p.startswith(base + "/") or base == "/")
