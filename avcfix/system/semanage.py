"""PolicyAdmin on a real policy: semanage, semodule, setsebool, restorecon, getenforce.

On the live system (root ``/``) the permissive mark, ports and booleans go
through ``semanage``/``setsebool`` exactly as an admin would type them. For a
private policy root (``semodule -p ROOT``, used by tests and dry runs)
``semanage`` cannot be pointed at the root, so the permissive mark is made the
way semanage makes it: a CIL module ``permissive_DOMAIN`` holding
``(typepermissive DOMAIN)``, installed at priority 400. Port, boolean and
file-label fixes need the live system and are refused for a private root.
Every command is an argv list through :mod:`avcfix.proc`.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Callable

from avcfix import proc
from avcfix.errors import InstallError, ToolError
from avcfix.loop.fixes import Fix
from avcfix.policy.identifiers import check_identifier, is_identifier
from avcfix.toolchain.store import PolicyRoot

#: The priority semanage installs its permissive_* modules at.
PERMISSIVE_PRIORITY = 400

Runner = Callable[..., proc.Result]

_DONTAUDIT_RE = re.compile(r"Dontaudit:\s+(\d+)")


def parse_permissive_list(text: str) -> frozenset[str]:
    """Types listed by ``semanage permissive -l -n`` (customized and builtin)."""
    return frozenset(w for line in text.splitlines() for w in line.split()[:1] if is_identifier(w)
                     and w.endswith("_t"))


def permissive_module(domain: str) -> str:
    return f"permissive_{domain}"


def getenforce(runner: Runner = proc.run) -> str:
    """``Enforcing``, ``Permissive`` or ``Disabled`` (``unknown`` when getenforce cannot run)."""
    r = runner(["getenforce"], timeout=10)
    return r.stdout.strip() if r.ok and r.stdout.strip() else "unknown"


class SemanageAdmin:
    """The real PolicyAdmin for ``root`` (``/``: semanage; a private root: semodule -p)."""

    def __init__(self, root: PolicyRoot, *, runner: Runner = proc.run,
                 record: Callable[[proc.Result], None] | None = None) -> None:
        self.root = root
        self.runner = runner
        self.record = record

    @property
    def live(self) -> bool:
        return self.root.root == Path("/")

    def _run(self, argv: list[str], what: str, timeout: float = 600.0) -> proc.Result:
        r = self.runner(argv, timeout=timeout, record=self.record)
        if not r.ok:
            raise InstallError(f"{what} failed (exit {r.returncode}): {r.stderr.strip()[:500]}", r)
        return r

    # ---------------------------------------------------------------- permissive

    def permissive_argv(self, domain: str, on: bool) -> list[str]:
        """``semanage permissive -a|-d DOMAIN`` (live system)."""
        return ["semanage", "permissive", "-a" if on else "-d", check_identifier(domain, "domain")]

    def permissive_domains(self) -> frozenset[str]:
        if self.live:
            r = self.runner(["semanage", "permissive", "-l", "-n"], timeout=120, record=self.record)
            return parse_permissive_list(r.stdout) if r.ok else frozenset()
        r = self.runner(self.root.semodule_argv("-l"), timeout=120, record=self.record)
        prefix = "permissive_"
        return frozenset(line.split()[0][len(prefix):] for line in r.stdout.splitlines()
                         if line.startswith(prefix) and is_identifier(line.split()[0]))

    def set_permissive(self, domain: str, on: bool) -> None:
        if self.live:
            self._run(self.permissive_argv(domain, on), f"semanage permissive {'-a' if on else '-d'} {domain}")
            return
        check_identifier(domain, "domain")
        name = permissive_module(domain)
        if not on:
            self._run(self.root.semodule_argv("-X", str(PERMISSIVE_PRIORITY), "-r", name),
                      f"removing {name}")
            return
        with tempfile.TemporaryDirectory(prefix="avcfix-permissive-") as tmp:
            cil = Path(tmp) / f"{name}.cil"
            cil.write_text(f"(typepermissive {domain})\n", encoding="ascii")
            self._run(self.root.semodule_argv("-X", str(PERMISSIVE_PRIORITY), "-i", str(cil)),
                      f"installing {name}")

    # ---------------------------------------------------------------- dontaudit

    def dontaudit_enabled(self) -> bool:
        """True unless the root's binary policy holds no dontaudit rule (``seinfo``)."""
        r = self.runner(["seinfo", str(self.root.policy_file)], timeout=120, record=self.record)
        m = _DONTAUDIT_RE.search(r.stdout) if r.ok else None
        return True if m is None else int(m.group(1)) > 0

    def dontaudit_argv(self, enabled: bool) -> list[str]:
        return self.root.semodule_argv("-B") if enabled else self.root.semodule_argv("-D", "-B")

    def set_dontaudit(self, enabled: bool) -> None:
        self._run(self.dontaudit_argv(enabled), "semodule -B" if enabled else "semodule -DB")

    # ---------------------------------------------------------------- fixes

    def apply_fix(self, fix: Fix) -> str:
        if not self.live:
            raise ToolError(f"{fix.command}: port, boolean and file-label fixes need the live system "
                            f"(policy root {self.root.root} is a private copy)")
        for argv in fix.argv:
            if argv[0] not in ("semanage", "setsebool", "restorecon"):
                raise ToolError(f"refusing to run {argv[0]!r}: not a fix command")
            self._run(list(argv), " ".join(argv))
        return "; ".join(" ".join(a) for a in fix.argv)
