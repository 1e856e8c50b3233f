"""A policy root's file-labelling files, read one way for both policy backends.

:class:`avcfix.index.setools_facts.PolicyFacts` (the setools ground truth) and the
policy index (:mod:`avcfix.index.build`, :mod:`avcfix.index.queries`) read
file_contexts, its ``.subs`` files and the run-time context files through
these functions, and look paths up through one :class:`FileLabeler`
(libselinux's ``selabel``, opened on first use from an explicit path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avcfix.audit.model import Context

#: The ``st_mode`` file type selabel is asked about for each file class.
CLASS_MODE = {"dir": 0o040000, "file": 0o100000, "lnk_file": 0o120000, "sock_file": 0o140000,
              "fifo_file": 0o010000, "chr_file": 0o020000, "blk_file": 0o060000}

#: Files next to ``contexts/files`` naming types assigned at run time
#: (restorecon leaves them alone or breaks them).
RUNTIME_CONTEXT_FILES = ("customizable_types", "virtual_image_context", "virtual_domain_context", "lxc_contexts")


def fc_entries(path: Path) -> list[tuple[str, str, str]]:
    """One file_contexts file's entries: (regex, file type flag such as ``--``/``-d``
    or ``""``, type), in file order; ``<<none>>`` entries and bad lines left out;
    ``[]`` when the file cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) not in (2, 3):
            continue
        ctx = Context.parse(words[-1])
        if ctx is None:
            continue
        out.append((words[0], words[1] if len(words) == 3 else "", ctx.type))
    return out


def subs_entries(path: Path) -> list[tuple[str, str]]:
    """One ``.subs``/``.subs_dist`` file's (path, equivalent path) pairs; ``[]`` when unreadable."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2:
            out.append((words[0], words[1]))
    return out


def runtime_types(contexts_dir: Path) -> set[str]:
    """Types named in the policy root's customizable and run-time context files."""
    found: set[str] = set()
    for name in RUNTIME_CONTEXT_FILES:
        try:
            text = (contexts_dir / name).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            value = line.split("=", 1)[-1].strip().strip('"')
            ctx = Context.parse(value)
            found.add(ctx.type if ctx else value)
    return found


class FileLabeler:
    """libselinux's ``selabel`` over one file_contexts (with its ``.local``,
    ``.homedirs``, ``.subs*``), opened on first use; never the live host's
    unless that file is given."""

    __slots__ = ("file_contexts", "_handle", "_failed")

    def __init__(self, file_contexts: Path | None) -> None:
        self.file_contexts = file_contexts
        self._handle: Any = None
        self._failed = False

    def _open(self) -> Any:
        if self._handle is not None or self._failed:
            return self._handle
        if self.file_contexts is None or not self.file_contexts.is_file():
            self._failed = True
            return None
        try:
            import selinux
        except ImportError:  # no libselinux bindings: no file_contexts lookups (the labels are unknown)
            self._failed = True
            return None

        opt = selinux.selinux_opt()
        opt.type = selinux.SELABEL_OPT_PATH
        opt.value = str(self.file_contexts)
        try:
            self._handle = selinux.selabel_open(selinux.SELABEL_CTX_FILE, opt, 1)
        except OSError:
            self._failed = True
            return None
        return self._handle

    def type_of(self, path: str, mode: int = 0) -> str | None:
        """The type ``path`` gets as a file of ``mode`` (``st_mode`` file type bits;
        0: any); ``None`` for a relative or control-character path, or when unknown."""
        if not path.startswith("/") or "\x00" in path or "\n" in path:
            return None
        handle = self._open()
        if handle is None:
            return None
        import selinux

        try:
            _rc, context = selinux.selabel_lookup(handle, path, mode)
        except (OSError, ValueError, TypeError, UnicodeError):
            return None
        ctx = Context.parse(context) if context else None
        return ctx.type if ctx else None

    def close(self) -> None:
        if self._handle is not None:
            import selinux

            selinux.selabel_close(self._handle)
            self._handle = None


def fc_literal_dir(regex: str) -> str:
    """The directory a file_contexts regex starts with: ``/var/www(/.*)?`` -> ``/var/www``,
    ``/var/www/html/[^/]*/cgi-bin`` -> ``/var/www/html``, ``/srv/.*`` -> ``/srv``."""
    out: list[str] = []
    i = 0
    while i < len(regex):
        c = regex[i]
        if c == "\\" and i + 1 < len(regex):
            out.append(regex[i + 1])
            i += 2
            continue
        if c in "()[]{}*+?|^$.":
            if regex.startswith("(/", i):  # "/var/www(/.*)?": the text so far is a whole name
                return "".join(out).rstrip("/") or "/"
            break
        out.append(c)
        i += 1
    else:
        return "".join(out).rstrip("/") or "/"
    text = "".join(out)
    return text[: text.rfind("/")] or "/" if "/" in text else "/"
