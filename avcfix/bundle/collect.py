"""Collect a bundle: logs + explanations + host facts -> archive members.

::

    recorder = proc.Recorder()
    host = SystemHostFacts(record=recorder)
    with Triage(["audit.log"], policy=policy) as triage:
        bundle = collect(BundleOptions(), host, triage, recorder)
    write_archive(Path("bug.tar.gz"), bundle.archive)

The order matters for redaction: everything is scanned, explained and
gathered first; then the :class:`~avcfix.bundle.redact.Redactor` learns every
sensitive value from all of it; only then is anything rendered, so a value
gets the same placeholder in every file.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shlex
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from avcfix import proc
from avcfix.audit.api import Progress, ScanStats
from avcfix.audit.group import Key
from avcfix.audit.model import Denial, DenialGroup, Skipped
from avcfix.audit.raw import format_event
from avcfix.bundle.archive import archive_bytes
from avcfix.bundle.cap import DEFAULT_MAX_EVENTS, EventCap, Selection
from avcfix.bundle.environment import Environment, TouchedBoolean, gather_environment
from avcfix.bundle.hostfacts import HostFacts
from avcfix.bundle.redact import Counts, Redactor, compile_extra
from avcfix.bundle.report import ModuleText, ReportInput, render_readme
from avcfix.errors import InputError, PolicyError, UsageError
from avcfix.explain.model import Finding
from avcfix.explain.protocol import Facts
from avcfix.names.identifiers import default_module_name
from avcfix.report.jsondoc import document_text, rules_json
from avcfix.triage import Triage

_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=True, indent=2)


@dataclass(frozen=True, slots=True)
class BundleOptions:
    """What to put into the bundle (the ``avcfix bundle`` options; the
    sources and filters are the :class:`~avcfix.triage.Triage`'s)."""

    module: Path | None = None
    redact: bool = False
    redact_extra: tuple[str, ...] = ()
    max_events: int = DEFAULT_MAX_EVENTS
    #: Human text for the README ("--domain x", "--since today").
    filter_text: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bundle:
    """The members of a bundle and what the CLI reports about it."""

    members: tuple[tuple[str, bytes], ...]
    mtime: int
    selection: Selection
    stats: tuple[tuple[str, int], ...]
    skipped: tuple[Skipped, ...]
    redaction: Counts | None
    missing_facts: tuple[tuple[str, str], ...]
    #: Files the bundle refused or could not read and went on without: ``(name, reason)``.
    left_out: tuple[tuple[str, str], ...] = ()

    @property
    def readme(self) -> str:
        return dict(self.members)["README.md"].decode("utf-8")

    @property
    def archive(self) -> bytes:
        """The deterministic ``.tar.gz`` bytes."""
        return archive_bytes(dict(self.members), self.mtime)


# --------------------------------------------------------------------- helpers

def _redact_comments(text: str, mark: str, red: Redactor) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        code, sep, comment = line.partition(mark)
        out.append(code + sep + red.text(comment) if sep else line)
    return "".join(out)


def _label_paths(groups: Sequence[DenialGroup], denials: Iterable[Denial]) -> list[str]:
    paths: set[str] = set()
    for g in groups:
        paths.update(g.exes)
        paths.update(g.paths)
    for d in denials:
        if d.exe:
            paths.add(d.exe)
        paths.update(d.paths)
    return sorted(p for p in paths if p.startswith("/") and "\0" not in p)


def _touched_booleans(findings: Sequence[Finding] | None, facts: Facts | None) -> list[TouchedBoolean]:
    default = getattr(facts, "boolean_state", None)
    names = sorted({name for f in findings or () for name, _ in getattr(f, "booleans", ())})
    return [TouchedBoolean(n, default(n) if default is not None else None) for n in names]


def _commands_text(results: Sequence[proc.Result], text: Callable[[str], str]) -> str:
    lines = ["# Commands avcfix ran to gather the environment (argv, exit code).", ""]
    for r in results:
        lines.append(f"$ {text(shlex.join(r.argv))}")
        lines.append(f"  exit {r.returncode}")
        if not r.ok and r.stderr.strip():
            first = r.stderr.strip().splitlines()[0][:300]
            lines.append(f"  stderr: {text(first)}")
    if not results:
        lines.append("(none)")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ redaction

def _learn(red: Redactor, host: HostFacts, denials: Iterable[Denial], groups: Sequence[DenialGroup],
           findings: Sequence[Finding] | None, stats: ScanStats, env: Environment,
           results: Sequence[proc.Result], module_texts: Iterable[str]) -> None:
    """Teach ``red`` every sensitive value of the bundle (before any is replaced).

    Placeholders number in this order: the kept events (time order), the
    groups' evidence, explanations, sources, labels, commands, the module,
    then the host's own names and local accounts.
    """
    learned: set[str] = set()
    for d in denials:
        red.learn_host(d.node, machine=True)
        for rec in d.records:
            if rec not in learned:
                learned.add(rec)
                red.learn_record(rec)
        for value in (d.comm, d.exe, d.name, d.path, d.cwd, d.proctitle, d.source, *d.paths):
            red.learn_text(value)
    for g in groups:
        red.learn_host(g.example.node, machine=True)
        for value in (*g.comms, *g.exes, *g.paths):
            red.learn_text(value)
    for f in findings or ():
        red.learn_text(getattr(f, "detail", ""))
        for a in getattr(f, "advice", ()):
            red.learn_text(a.command)
    for s in (*stats.sources, *(k.source for k in stats.skipped)):
        red.learn_text(s)
    for k in stats.skipped:  # a line that is not a whole record may still say node=HOST
        red.learn_record(k.excerpt)
    for path in env.labels:
        red.learn_text(path)
    for _, reason in env.missing():
        red.learn_text(reason)
    if env.policy_file.ok and isinstance(env.policy_file.value, dict):
        red.learn_text(str(env.policy_file.value.get("path", "")))
    for r in results:
        red.learn_text(shlex.join(r.argv))
        red.learn_text(r.stderr)
    for text in module_texts:
        red.learn_text(text)
    # The host's own names and accounts last: values seen in the logs number first.
    for name in host.host_names():
        red.learn_host(name, machine=True)
    for user in host.local_users():
        red.learn_user(user.name)
        red.learn_id("uid", user.uid)
        red.learn_text(user.home)


def _red_denial(red: Redactor, d: Denial, seen: dict[str, str]) -> Denial:
    """``d`` redacted; ``seen`` caches redacted record texts (an event's denials share them)."""
    records = []
    for r in d.records:
        done = seen.get(r)
        if done is None:
            done = seen[r] = red.record(r)
        records.append(done)
    return dataclasses.replace(
        d, node=red.host(d.node), comm=red.maybe(d.comm), exe=red.maybe(d.exe), name=red.maybe(d.name),
        path=red.maybe(d.path), paths=red.texts(d.paths), cwd=red.maybe(d.cwd),
        proctitle=red.maybe(d.proctitle), source=red.text(d.source), records=tuple(records),
        items=tuple(dataclasses.replace(i, name=red.maybe(i.name)) for i in d.items),
    )


def _red_group(red: Redactor, g: DenialGroup, seen: dict[str, str]) -> DenialGroup:
    return dataclasses.replace(
        g, example=_red_denial(red, g.example, seen),
        comms=tuple(sorted(set(red.texts(g.comms)))), exes=tuple(sorted(set(red.texts(g.exes)))),
        paths=tuple(sorted(set(red.texts(g.paths)))),
    )


def _red_finding(red: Redactor, f: Finding, groups: dict[Key, DenialGroup]) -> Finding:
    return dataclasses.replace(
        f, group=groups[f.group.key],
        advice=tuple(dataclasses.replace(a, command=red.text(a.command), why=red.text(a.why),
                                         acts_on=red.maybe(a.acts_on), evidence=red.texts(a.evidence))
                     for a in f.advice),
        risks=red.texts(f.risks), detail=red.text(f.detail),
        object=None if f.object is None else dataclasses.replace(
            f.object, path=red.maybe(f.object.path), entry=red.maybe(f.object.entry),
            evidence=red.text(f.object.evidence)),
    )


def _red_stats(red: Redactor, stats: ScanStats) -> ScanStats:
    out = ScanStats(lines=stats.lines, events=stats.events, denials=stats.denials,
                    skipped_lines=stats.skipped_lines, denials_total=stats.denials_total)
    out.sources = [red.text(s) for s in stats.sources]
    out.skipped = [Skipped(red.text(s.source), s.line, s.reason, red.text(s.excerpt)) for s in stats.skipped]
    return out


# ------------------------------------------------------------------ modules

#: Largest module file (``.te`` or ``.cil``) a bundle reads. A policy module is
#: a few KiB of text (the reference policy's biggest ``.te`` is ~150 KiB); a
#: bigger file is not one, and has no place in a public report.
MAX_MODULE_BYTES = 1 << 20


class Refused(Exception):
    """A file the bundle will not read: why (``is a symbolic link``...)."""


_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def read_regular(name: str, dir_fd: int, limit: int = MAX_MODULE_BYTES) -> bytes:
    """The bytes of ``name`` in the directory ``dir_fd``, if it is a regular file of
    at most ``limit`` bytes; never through a symbolic link (``O_NOFOLLOW``).

    Raises :class:`Refused` (a link, a FIFO or device, too big),
    :class:`IsADirectoryError`, or the ``OSError`` of the open. A non-regular
    file is refused before it is opened (opening a FIFO blocks, a device may
    act); the opened file is checked again (``fstat``), so a swap in between
    is refused too.
    """
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        st = None  # let the open report it
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        for test, kind in _KINDS:
            if test(st.st_mode):
                raise Refused(f"is {kind} (a bundle reads only regular files, never through a link)")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused("is a symbolic link (a bundle reads only regular files, never through a link)") from None
        raise
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(st.st_mode):
            raise Refused("is not a regular file (a bundle reads only regular files, never through a link)")
        if st.st_size > limit:
            raise Refused(f"is larger than {limit} bytes ({st.st_size})")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:   # it grew while being read
            raise Refused(f"is larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class GivenModule:
    """``--module DIR/NAME.te`` as read: its text, ``NAME.cil`` if it was read,
    and the files left out with the reason (``(file name, reason)``)."""

    te_name: str
    te: str
    cil_name: str | None
    cil: str | None
    left_out: tuple[tuple[str, str], ...]


def _given_module(path: Path) -> GivenModule:
    """Read ``--module DIR/NAME.te`` and ``NAME.cil`` beside it (see :func:`read_regular`).

    The ``.te`` must be readable (else exit 3; a directory too), a regular
    file no bigger than :data:`MAX_MODULE_BYTES` and not a symbolic link (else
    exit 5), and parse (else exit 5). ``NAME.cil`` is optional: when it is
    refused or unreadable the bundle is made without it and says so.
    """
    from avcfix.policy.te_parse import parse_te

    if path.suffix != ".te" or path.name == ".te":
        raise UsageError(f"--module {path}: expected a .te file")
    parent = path.parent if str(path.parent) else Path(".")
    try:
        dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(f"cannot read --module {path}: {exc.strerror or exc}") from None
    try:
        try:
            raw = read_regular(path.name, dir_fd)
        except Refused as exc:
            raise PolicyError(f"--module {path}: refused: {exc}") from None
        except OSError as exc:
            raise InputError(f"cannot read --module {path}: {exc.strerror or exc}") from None
        te = raw.decode("utf-8", errors="replace")
        parse_te(te, str(path))  # a broken .te is a policy error (exit 5), not a silent attachment
        cil_name = path.stem + ".cil"
        cil: str | None = None
        left_out: list[tuple[str, str]] = []
        try:
            cil = read_regular(cil_name, dir_fd).decode("utf-8", errors="replace")
        except FileNotFoundError:
            pass
        except Refused as exc:
            left_out.append((cil_name, str(exc)))
        except OSError as exc:
            left_out.append((cil_name, f"cannot be read: {exc.strerror or exc}"))
    finally:
        os.close(dir_fd)
    return GivenModule(path.name, te, cil_name if cil is not None else None, cil, tuple(left_out))


def _generated_modules(findings: Sequence[Finding]) -> list[ModuleText]:
    from avcfix.policy.generate import generate_module
    from avcfix.policy.render import NotRepresentable, render_cil, render_te
    from avcfix.toolchain.headers import header_dirs, header_macro_names

    reserved = header_macro_names(*header_dirs())  # the .te may be built with the devel Makefile

    out = []
    domains = sorted({f.group.source for f in findings})
    for domain in domains:
        mine = [f for f in findings if f.group.source == domain]
        if not any(f.needs_module for f in mine):
            continue
        name = default_module_name(domain)
        try:
            result = generate_module(mine, name=name, reserved=reserved)
        except ValueError:  # the domain is not a valid identifier (hostile log)
            continue
        if not result.module.rules:
            continue
        try:
            cil: str | None = render_cil(result.module)
        except NotRepresentable:
            cil = None
        out.append(ModuleText(name, f"{name}.te", render_te(result.module),
                              f"{name}.cil" if cil is not None else None, cil, True))
    return out


# ------------------------------------------------------------------ collect

def collect(
    options: BundleOptions,
    host: HostFacts,
    triage: Triage,
    recorder: proc.Recorder,
    *,
    progress: Progress | None = None,
    version: str = "",
) -> Bundle:
    """Build every member of the bundle (see the module docstring).

    ``triage`` scans the sources and explains against its facts (``None``:
    reasons need a policy; ``explain=False``: no findings), which its owner
    closes. ``recorder`` is the one ``host`` records its commands into.
    """
    extra = compile_extra(options.redact_extra)
    if extra and not options.redact:
        raise UsageError("--redact-extra needs --redact")
    given = _given_module(options.module) if options.module is not None else None

    cap = EventCap(options.max_events)
    for d in triage.scan(progress):
        cap.add(d)
    stats, facts = triage.stats, triage.facts
    groups = triage.acc.groups()
    selection = cap.select()
    findings = triage.explain(groups)
    env = gather_environment(
        host,
        policy_path=getattr(facts, "path", None),
        paths=_label_paths(groups, selection.denials),
        booleans=_touched_booleans(findings, facts),
    )
    results = tuple(recorder.results)

    red: Redactor | None = None
    kept = selection.denials
    events = [e.denials[0] for e in selection.events]
    if options.redact:
        red = Redactor(extra=extra)
        _learn(red, host, kept, groups, findings, stats, env, results,
               [given.te, given.cil or ""] if given else [])
        seen: dict[str, str] = {}
        red_groups = {g.key: _red_group(red, g, seen) for g in groups}
        groups = [red_groups[g.key] for g in groups]
        findings = [_red_finding(red, f, red_groups) for f in findings] if findings is not None else None
        by_id = {id(d): _red_denial(red, d, seen) for d in kept}
        kept = tuple(by_id[id(d)] for d in kept)
        events = [by_id[id(d)] for d in events]
        stats = _red_stats(red, stats)
    text: Callable[[str], str] = red.text if red is not None else (lambda s: s)

    # Modules: the one given, else what `avcfix build` would generate per domain.
    if given is not None:
        te, cil = given.te, given.cil
        if red is not None:
            te = _redact_comments(te, "#", red)
            cil = _redact_comments(cil, ";", red) if cil is not None else None
        modules = [ModuleText(given.te_name[:-3], given.te_name, te, given.cil_name, cil, False)]
    else:
        modules = _generated_modules(findings) if findings else []

    denials_json = document_text(kept, rules_json(groups, findings), stats)

    env_doc = env.as_json(text)
    members: dict[str, bytes] = {
        "events.log": "".join(format_event(d) for d in events).encode("utf-8", "surrogateescape"),
        "denials.json": denials_json.encode("utf-8"),
        "environment.json": (_JSON.encode(env_doc) + "\n").encode("utf-8"),
        "commands.txt": _commands_text(results, text).encode("utf-8"),
    }
    for m in modules:
        members[m.te_file] = m.te.encode("utf-8", "surrogateescape")
        if m.cil_file and m.cil is not None:
            members[m.cil_file] = m.cil.encode("utf-8", "surrogateescape")
    left_out = tuple((text(name), text(reason)) for name, reason in (given.left_out if given else ()))
    note = None
    if facts is None:
        note = ("No policy was available to explain against (SELinux is off here and no --policy/--root "
                "was given): reasons are `no_policy`.")
    readme = render_readme(ReportInput(
        version=version, sources=tuple(stats.sources), stats=stats.as_dict(), groups=tuple(groups),
        findings=tuple(findings) if findings is not None else None, modules=tuple(modules),
        environment=env_doc, selection=selection, filters=tuple(text(f) for f in options.filter_text),
        redaction=red.counts if red is not None else None, policy_note=note, left_out=left_out,
    ))
    members["README.md"] = readme.encode("utf-8", "surrogateescape")
    last = max((e.time for e in selection.events), default=0.0)
    return Bundle(
        members=tuple(sorted(members.items())), mtime=int(last), selection=selection,
        stats=tuple(sorted(stats.as_dict().items())), skipped=tuple(stats.skipped),
        redaction=red.counts if red is not None else None, missing_facts=tuple(env.missing()),
        left_out=left_out,
    )
