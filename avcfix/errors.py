"""The exception tree and the documented exit codes.

Every error avcfix reports on purpose is an :class:`AvcfixError`; the CLI turns
it into a message and its ``exit_code``. Anything else is a bug.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes. Documented in the README; never renumber."""

    OK = 0
    #: An unexpected internal error (a bug: please report it).
    INTERNAL = 1
    #: Bad command line: unknown option, bad value, ambiguous name.
    USAGE = 2
    #: An input file is missing, unreadable, a directory, or not a log.
    INPUT = 3
    #: ``--strict`` was given and some lines were skipped.
    STRICT = 4
    #: The policy file or a .te module could not be read or parsed.
    POLICY = 5
    #: checkmodule / semodule_package failed on a generated module.
    COMPILE = 6
    #: semodule (install/remove) or another system tool failed.
    INSTALL = 7
    #: loop: stopped without converging (no progress, max iterations).
    NOT_CONVERGED = 10
    #: loop: stopped because a fix needs an admin's decision.
    NEEDS_DECISION = 11
    #: loop: another avcfix loop holds the lock on this service / root / lab dir.
    BUSY = 12
    #: loop: a preflight check failed (SELinux off, no systemd, unknown unit,
    #: auditing off, audit log unreadable, no right to install); nothing changed.
    PREFLIGHT = 13
    #: Interrupted by the user (Ctrl-C).
    INTERRUPTED = 130
    #: The reader of stdout went away (``avcfix why | head``): 128 + SIGPIPE, as a shell reports it.
    CLOSED_PIPE = 141


class AvcfixError(Exception):
    """Base of every error avcfix reports on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(AvcfixError, ValueError):
    exit_code = ExitCode.USAGE


class InputError(AvcfixError, OSError):
    """An input could not be read (missing, unreadable, a directory...)."""

    exit_code = ExitCode.INPUT


class PolicyError(AvcfixError):
    """A binary policy or a .te file could not be read or understood."""

    exit_code = ExitCode.POLICY


class ToolError(AvcfixError):
    """An external tool failed; carries the :class:`avcfix.proc.Result`."""

    exit_code = ExitCode.INSTALL

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result


class CompileError(ToolError):
    exit_code = ExitCode.COMPILE


class InstallError(ToolError):
    exit_code = ExitCode.INSTALL
