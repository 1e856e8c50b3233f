"""Compile a ``.te`` module with the real toolchain: checkmodule, then semodule_package.

``checkmodule -m [-M] -o NAME.mod NAME.te`` then ``semodule_package -o NAME.pp
-m NAME.mod``. Both run in a private temporary directory next to the output,
and the finished ``.pp`` replaces the old one with a rename, so an interrupted
build never leaves a half-written package. The package it replaces is kept as
``NAME.pp.prev`` (what a rollback reinstalls). A checkmodule error is mapped to
the ``.te`` line it points at.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avcfix import proc
from avcfix.errors import CompileError

#: checkmodule's diagnostic: ``FILE:LINE:ERROR 'MESSAGE' at token 'TOKEN' on line N:``
_DIAG_RE = re.compile(
    r"^(?P<file>[^\n:]*):(?P<line>\d+):(?P<level>ERROR|WARNING) '(?P<msg>.*?)'"
    r"(?: at token '(?P<token>.*?)' on line \d+)?:?\s*$",
    re.MULTILINE,
)
_NAME_MISMATCH_RE = re.compile(r"Module name (\S+) is different than the output base filename (\S+)")

_WORD_RE = re.compile(r"[A-Za-z_][\w.-]*")
#: Words of checkmodule's messages that are never the culprit.
_MESSAGE_WORDS = frozenset({
    "unknown", "type", "class", "permission", "is", "not", "defined", "for", "role",
    "attribute", "user", "syntax", "error", "module", "allow", "require", "the", "in",
})

#: refpolicy's module build system (selinux-policy-dev / selinux-policy-devel).
DEVEL_MAKEFILE = Path("/usr/share/selinux/devel/Makefile")

#: Suffix of the package a new build replaced (kept for rollback).
PREV_SUFFIX = ".prev"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One checkmodule message, placed on its ``.te`` line."""

    path: str
    line: int
    message: str
    token: str = ""
    source_line: str = ""

    def render(self) -> str:
        """The message, then the offending ``.te`` line with a caret under the token."""
        head = f"{self.path}:{self.line}: {self.message}"
        if not self.source_line:
            return head
        text = self.source_line.rstrip("\n")
        gutter = f"{self.line:>5} | "
        span = _focus(self.message, self.token, text)
        if span is None:
            return f"{head}\n{gutter}{text}"
        caret = " " * (len(gutter) + span[0]) + "^" * (span[1] - span[0])
        return f"{head}\n{gutter}{text}\n{caret}"


def _focus(message: str, token: str, text: str) -> tuple[int, int] | None:
    """The span of ``text`` to underline.

    checkmodule reports the token where it noticed the error, often the
    statement's closing ``;``; a name quoted by the message ("unknown type
    foo_t", "permission opne is not defined") is a better place to point at.
    """
    for word in _WORD_RE.findall(message):
        m = re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w.-])", text)
        if m and word not in _MESSAGE_WORDS:
            return m.span()
    if token:
        col = text.rfind(token) if token == ";" else text.find(token)
        if col >= 0:
            return col, col + len(token)
    return None


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled module: the package, whether ``-M`` was used (None: the
    refpolicy headers decided), the package it replaced, what ran."""

    te_path: Path
    pp_path: Path
    mls: bool | None
    previous: Path | None
    results: tuple[proc.Result, ...]


def checkmodule_argv(te_path: Path, mod_path: Path, *, mls: bool) -> list[str]:
    """argv of ``checkmodule`` for a non-base module (``-M`` for an MLS/MCS target)."""
    argv = ["checkmodule"]
    if mls:
        argv.append("-M")
    return argv + ["-m", "-o", str(mod_path), str(te_path)]


def semodule_package_argv(pp_path: Path, mod_path: Path, fc_path: Path | None = None) -> list[str]:
    """argv of ``semodule_package`` (with ``-f FILE_CONTEXTS`` when one is given)."""
    argv = ["semodule_package", "-o", str(pp_path), "-m", str(mod_path)]
    if fc_path is not None:
        argv += ["-f", str(fc_path)]
    return argv


def parse_diagnostics(stderr: str, te_path: Path, te_text: str) -> tuple[Diagnostic, ...]:
    """checkmodule's error lines, each with the ``.te`` line it points at.

    checkmodule names the file it was given (here a temporary copy), so the
    diagnostics are reported against ``te_path`` instead.
    """
    lines = te_text.splitlines()
    out: list[Diagnostic] = []
    for m in _DIAG_RE.finditer(stderr):
        n = int(m.group("line"))
        src = lines[n - 1] if 0 < n <= len(lines) else ""
        msg = m.group("msg") if m.group("level") == "ERROR" else f"warning: {m.group('msg')}"
        out.append(Diagnostic(str(te_path), n, msg, m.group("token") or "", src))
    mm = _NAME_MISMATCH_RE.search(stderr)
    if mm:
        out.append(Diagnostic(
            str(te_path), 1,
            f"the module is named {mm.group(1)} but the file is {te_path.name}: "
            "checkmodule needs NAME.te to declare 'module NAME'",
            mm.group(1), lines[0] if lines else "",
        ))
    return tuple(out)


class ModuleCompileError(CompileError):
    """checkmodule or semodule_package rejected a module; ``diagnostics`` holds
    checkmodule's messages placed on their ``.te`` lines (exit code 6)."""

    def __init__(self, message: str, result: proc.Result, diagnostics: tuple[Diagnostic, ...]) -> None:
        super().__init__(message, result)
        self.diagnostics = diagnostics


def _fail(what: str, te_path: Path, te_text: str, result: proc.Result) -> ModuleCompileError:
    diags = parse_diagnostics(result.stderr, te_path, te_text)
    if diags:
        body = "\n".join(d.render() for d in diags)
    else:
        body = (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
    return ModuleCompileError(f"{what} rejected {te_path}:\n{body}", result, diags)


def _install_package(pp: Path, out_dir: Path, name: str, work: Path) -> tuple[Path, Path | None]:
    """Move the new ``pp`` to ``OUT_DIR/NAME.pp``, keeping the old one as ``NAME.pp.prev``.

    Copy, then rename: ``NAME.pp`` exists at every instant.
    """
    final = out_dir / f"{name}.pp"
    previous: Path | None = None
    if final.exists():
        previous = final.with_name(final.name + PREV_SUFFIX)
        shutil.copy2(final, work / "prev")
        os.replace(work / "prev", previous)
    os.replace(pp, final)
    return final, previous


def compile_module(
    te_path: Path,
    *,
    mls: bool,
    out_dir: Path | None = None,
    fc_path: Path | None = None,
    record: Callable[[proc.Result], None] | None = None,
    timeout: float = 120.0,
) -> Compiled:
    """Compile ``te_path`` into ``OUT_DIR/NAME.pp`` (NAME = the file's stem).

    Raises :class:`CompileError` (exit code 6) with every diagnostic shown
    next to its ``.te`` line. The previous ``NAME.pp``, if any, is kept as
    ``NAME.pp.prev``; the new one appears with an atomic rename.
    """
    te_path = Path(te_path)
    out_dir = Path(out_dir) if out_dir is not None else te_path.parent
    name = te_path.stem
    te_text = te_path.read_text(encoding="utf-8", errors="replace")
    results: list[proc.Result] = []

    def _record(r: proc.Result) -> None:
        results.append(r)
        if record is not None:
            record(r)

    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.build-", dir=out_dir))
    try:
        # checkmodule insists that the output's base name equals the module name.
        # The tools run inside the work directory with relative output names, so
        # the recorded argv is the same from run to run.
        mod = Path(f"{name}.mod")
        pp = Path(f"{name}.pp")
        te_abs = te_path.resolve()
        fc_abs = fc_path.resolve() if fc_path is not None else None
        r = proc.run(checkmodule_argv(te_abs, mod, mls=mls), cwd=work, timeout=timeout, record=_record)
        if not r.ok:
            raise _fail("checkmodule", te_path, te_text, r)
        r = proc.run(semodule_package_argv(pp, mod, fc_abs), cwd=work, timeout=timeout, record=_record)
        if not r.ok:
            raise _fail("semodule_package", te_path, te_text, r)
        final, previous = _install_package(work / pp, out_dir, name, work)
        return Compiled(te_path, final, mls, previous, tuple(results))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compile_refpolicy_module(
    te_path: Path,
    *,
    out_dir: Path | None = None,
    makefile: Path = DEVEL_MAKEFILE,
    record: Callable[[proc.Result], None] | None = None,
    timeout: float = 300.0,
    headerdir: Path | None = None,
) -> Compiled:
    """Compile a refpolicy-style module (``policy_module(...)``, interface calls)
    with the devel Makefile, which runs m4 over the installed policy headers and
    then checkmodule (with ``-M`` when those headers are MLS) and semodule_package.

    ``NAME.if`` and ``NAME.fc`` next to the ``.te`` are used when present.
    ``headerdir``: the header tree (``HEADERDIR=``; Fedora's Makefile needs it
    when it is not the one under /usr/share/selinux/NAME).
    """
    te_path = Path(te_path)
    out_dir = Path(out_dir) if out_dir is not None else te_path.parent
    name = te_path.stem
    if not makefile.is_file():
        raise CompileError(
            f"{te_path} uses refpolicy interfaces or policy_module(); compiling it needs "
            f"{makefile} (selinux-policy-dev / selinux-policy-devel)"
        )
    results: list[proc.Result] = []

    def _record(r: proc.Result) -> None:
        results.append(r)
        if record is not None:
            record(r)

    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.build-", dir=out_dir))
    try:
        for ext in (".te", ".if", ".fc"):
            src = te_path.with_suffix(ext)
            if src.is_file():
                shutil.copyfile(src, work / f"{name}{ext}")
        argv = ["make", "-f", str(makefile)] + ([f"HEADERDIR={headerdir}"] if headerdir is not None else [])
        r = proc.run(argv + [f"{name}.pp"], cwd=work, timeout=timeout, record=_record)
        if not r.ok or not (work / f"{name}.pp").is_file():
            # m4 keeps line numbers in sync, so checkmodule's lines are the .te's
            te_text = te_path.read_text(encoding="utf-8", errors="replace")
            diags = parse_diagnostics(r.stderr, te_path, te_text)
            if diags:
                body = "\n".join(d.render() for d in diags)
            else:
                body = "\n".join(x for x in (r.stdout.strip(), r.stderr.strip()) if x)[-4000:]
            raise ModuleCompileError(f"the refpolicy build of {te_path} failed:\n{body}", r, diags)
        final, previous = _install_package(work / f"{name}.pp", out_dir, name, work)
        # MLS or not is the installed headers' choice (their build.conf)
        return Compiled(te_path, final, None, previous, tuple(results))
    finally:
        shutil.rmtree(work, ignore_errors=True)
