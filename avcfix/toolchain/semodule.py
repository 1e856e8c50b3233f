"""Install, remove, list and roll back modules with the real ``semodule``.

Every command is built by :meth:`PolicyRoot.semodule_argv`, so a private root
(``--root DIR``) becomes ``semodule -p DIR -s NAME``. A failed install whose
cause is a name the target policy lacks is reported with that name, not with
libsemanage's "Failed to resolve ... at .../cil:LINE".
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avcfix import proc
from avcfix.errors import InstallError, UsageError
from avcfix.toolchain.store import PolicyRoot

#: libsemanage's resolution error: "Failed to resolve allow statement at /ROOT/.../modules/400/NAME/cil:2"
_RESOLVE_RE = re.compile(r"Failed to resolve (?P<what>[\w-]+) statement at (?P<path>\S+/(?P<name>[^/\s]+)/cil):(?P<line>\d+)")
#: Converts a .pp into CIL (what libsemanage does itself); present on Debian and Fedora.
PP_TO_CIL = Path("/usr/libexec/selinux/hll/pp")
_CIL_WORDS = frozenset({
    "allow", "auditallow", "dontaudit", "neverallow", "allowx", "ioctl", "typeattributeset",
    "typeattribute", "cil_gen_require", "roletype", "type", "role", "self", "and", "or", "not",
    "all", "range", "typetransition", "typemember", "typechange", "classpermission",
})
_CIL_TOKEN_RE = re.compile(r"[A-Za-z_][\w.-]*")
#: Priorities semodule accepts.
PRIORITY_RANGE = range(1, 1000)
#: Installing into the full reference policy takes 5-20 s; a generous limit.
INSTALL_TIMEOUT = 900.0


@dataclass(frozen=True, slots=True)
class InstalledModule:
    """One line of ``semodule --list-modules=full``."""

    priority: int
    name: str
    kind: str
    disabled: bool = False


def _check_priority(priority: int | None) -> None:
    if priority is not None and priority not in PRIORITY_RANGE:
        raise UsageError(f"priority {priority} is out of range (semodule accepts 1-999)")


def _priority_args(priority: int | None) -> list[str]:
    _check_priority(priority)
    return ["-X", str(priority)] if priority is not None else []


def install_argv(root: PolicyRoot, module_path: Path, *, priority: int | None = None) -> list[str]:
    """argv of ``semodule [-p ROOT -s NAME] [-X PRIO] -i FILE`` (.pp or .cil)."""
    return root.semodule_argv(*_priority_args(priority), "-i", str(module_path))


def remove_argv(root: PolicyRoot, name: str, *, priority: int | None = None) -> list[str]:
    """argv of ``semodule [-p ROOT -s NAME] [-X PRIO] -r MODULE``."""
    return root.semodule_argv(*_priority_args(priority), "-r", name)


def list_argv(root: PolicyRoot) -> list[str]:
    """argv of ``semodule [-p ROOT -s NAME] --list-modules=full``."""
    return root.semodule_argv("--list-modules=full")


def parse_list(text: str) -> tuple[InstalledModule, ...]:
    """Parse ``semodule --list-modules=full`` output, sorted by (name, priority)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        out.append(InstalledModule(int(parts[0]), parts[1], parts[2], "disabled" in parts[3:]))
    return tuple(sorted(out, key=lambda m: (m.name, m.priority)))


def list_modules(root: PolicyRoot, *, record: Callable[[proc.Result], None] | None = None) -> tuple[InstalledModule, ...]:
    """The modules installed in ``root``, with their priorities."""
    r = proc.run(list_argv(root), timeout=120, record=record)
    if not r.ok:
        raise InstallError(f"semodule could not list the modules: {r.stderr.strip()}", r)
    return parse_list(r.stdout)


#: The priority ``semodule -i`` uses when none is given.
DEFAULT_PRIORITY = 400


def extract_argv(root: PolicyRoot, name: str, *, priority: int | None = None) -> list[str]:
    """argv of ``semodule [-p ROOT -s NAME] -X PRIO -E MODULE`` (writes MODULE.pp/.cil in the cwd).

    avcfix itself never runs it: semodule runs in ``semanage_t``, which an
    enforcing policy may not let write to the caller's directory (``/tmp``
    is denied). :func:`stored_package` reads the same bytes from the store.
    """
    prio = DEFAULT_PRIORITY if priority is None else priority
    return root.semodule_argv(*_priority_args(prio), "-E", name)


def module_dir(root: PolicyRoot, name: str, *, priority: int | None = None) -> Path:
    """``STORE/active/modules/PRIO/NAME``: where libsemanage keeps an installed module."""
    prio = DEFAULT_PRIORITY if priority is None else priority
    _check_priority(prio)
    return root.store_dir / "active" / "modules" / str(prio) / name


def stored_package(root: PolicyRoot, name: str, *, priority: int | None = None) -> tuple[bytes, str] | None:
    """The package installed as ``name`` at ``priority`` and its kind (``pp``, ``cil``), or None.

    libsemanage keeps the file given to ``semodule -i`` as ``hll`` (bzip2
    compressed unless ``bzip-blocksize=0``) with its kind in ``lang_ext``;
    this is what ``semodule -E`` hands back. Read in place, as root: nothing
    is run and nothing written. None when absent, disabled or unreadable.
    """
    mdir = module_dir(root, name, priority=priority)
    try:
        if (root.store_dir / "active" / "disabled" / name).exists():
            return None
        kind = (mdir / "lang_ext").read_text(encoding="ascii", errors="replace").strip()
        data = (mdir / "hll").read_bytes()
    except OSError:
        return None
    if data.startswith(b"BZh"):
        import bz2

        try:
            data = bz2.decompress(data)
        except (OSError, ValueError, EOFError):
            return None
    return data, kind


def is_installed(
    root: PolicyRoot,
    module_path: Path,
    *,
    priority: int | None = None,
    record: Callable[[proc.Result], None] | None = None,
) -> bool:
    """Whether exactly this package (same bytes) is installed in ``root`` at ``priority``.

    The store keeps the package as it was installed (:func:`stored_package`),
    so an unchanged module need not be installed again (which rebuilds the
    whole policy). False when it is absent, different, or cannot be read.
    ``record`` is accepted for symmetry; no command runs.
    """
    module_path = Path(module_path)
    stored = stored_package(root, module_path.stem, priority=priority)
    if stored is None or stored[1] != module_path.suffix.lstrip("."):
        return False
    try:
        return stored[0] == module_path.read_bytes()
    except OSError:
        return False


def _module_cil(module_path: Path, record: Callable[[proc.Result], None] | None) -> list[str]:
    """The CIL lines libsemanage resolved for ``module_path`` (converted for a .pp)."""
    if module_path.suffix == ".cil":
        return module_path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not PP_TO_CIL.exists():
        return []
    r = proc.run([str(PP_TO_CIL), str(module_path), "-"], timeout=60, record=record)
    return r.stdout.splitlines() if r.ok else []


def explain_failure(
    stderr: str,
    module_path: Path,
    *,
    known: Callable[[str], bool] | None = None,
    record: Callable[[proc.Result], None] | None = None,
) -> str:
    """A readable cause for a failed ``semodule -i``.

    libsemanage names a line of the CIL it generated; this looks that line up
    and, when ``known`` (is this name defined by the target policy?) is given,
    names the types, attributes or classes the policy lacks.
    """
    m = _RESOLVE_RE.search(stderr)
    if not m:
        return stderr.strip()
    lines = _module_cil(module_path, record)
    n = int(m.group("line"))
    stmt = lines[n - 1].strip() if 0 < n <= len(lines) else ""
    if not stmt:
        return f"semodule could not resolve a {m.group('what')} statement of {module_path.name}"
    unknown: list[str] = []
    if known is not None:
        for tok in _CIL_TOKEN_RE.findall(stmt):
            if tok not in _CIL_WORDS and tok not in unknown and not known(tok):
                unknown.append(tok)
    if unknown:
        names = ", ".join(unknown)
        return (f"the target policy does not define {names} "
                f"(needed by {module_path.name}: {stmt})")
    return f"semodule could not resolve this statement of {module_path.name}: {stmt}"


def _known_in(root: PolicyRoot) -> Callable[[str], bool] | None:
    """``TargetPolicy.defines`` of the root's current policy, or None when unreadable."""
    from avcfix.index.setools_target import TargetPolicy

    try:
        return TargetPolicy(root.policy_file).defines
    except Exception:  # no policy or no setools: fall back to the bare CIL line
        return None


def install(
    root: PolicyRoot,
    module_path: Path,
    *,
    priority: int | None = None,
    known: Callable[[str], bool] | None = None,
    record: Callable[[proc.Result], None] | None = None,
    timeout: float = INSTALL_TIMEOUT,
) -> proc.Result:
    """``semodule -i`` a .pp or .cil into ``root``; :class:`InstallError` (exit 7) on failure."""
    module_path = Path(module_path)
    if module_path.suffix not in (".pp", ".cil"):
        raise UsageError(f"{module_path}: semodule installs .pp or .cil files")
    r = proc.run(install_argv(root, module_path, priority=priority), timeout=timeout, record=record)
    if not r.ok:
        if known is None and _RESOLVE_RE.search(r.stderr):
            known = _known_in(root)
        cause = explain_failure(r.stderr, module_path, known=known, record=record)
        raise InstallError(f"installing {module_path.name} failed: {cause}", r)
    return r


def remove(
    root: PolicyRoot,
    name: str,
    *,
    priority: int | None = None,
    record: Callable[[proc.Result], None] | None = None,
    timeout: float = INSTALL_TIMEOUT,
) -> proc.Result:
    """``semodule -r NAME`` (at ``priority`` when given); :class:`InstallError` on failure."""
    r = proc.run(remove_argv(root, name, priority=priority), timeout=timeout, record=record)
    if not r.ok:
        raise InstallError(f"removing module {name} failed: {r.stderr.strip()}", r)
    return r


def rollback(
    root: PolicyRoot,
    name: str,
    previous: Path | None,
    *,
    priority: int | None = None,
    record: Callable[[proc.Result], None] | None = None,
    timeout: float = INSTALL_TIMEOUT,
) -> proc.Result:
    """Undo the last install of ``name``: reinstall ``previous`` (a ``NAME.pp.prev``)
    or, when there was none, remove the module."""
    if previous is not None and Path(previous).is_file():
        prev = Path(previous)
        if prev.suffix == ".prev":
            # semodule picks the module kind from the suffix: give it NAME.pp again, next to
            # the .prev (not in /tmp: semanage_t may not read the caller's temporary files).
            with tempfile.TemporaryDirectory(prefix=".avcfix-rollback-", dir=prev.parent) as tmp:
                again = Path(tmp) / prev.with_suffix("").name
                shutil.copy2(prev, again)
                return install(root, again, priority=priority, record=record, timeout=timeout)
        return install(root, prev, priority=priority, record=record, timeout=timeout)
    return remove(root, name, priority=priority, record=record, timeout=timeout)
