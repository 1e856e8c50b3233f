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

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avcfix import proc
from avcfix.errors import InstallError, ToolError
from avcfix.explain.fixes import Fix
from avcfix.names.identifiers import check_identifier, is_identifier
from avcfix.toolchain.store import PolicyRoot

#: The priority semanage installs its permissive_* modules at.
PERMISSIVE_PRIORITY = 400

Runner = Callable[..., proc.Result]

_DONTAUDIT_RE = re.compile(r"Dontaudit:\s+(\d+)")


def parse_permissive_list(text: str) -> frozenset[str]:
    """Types listed by ``semanage permissive -l -n`` (customized and builtin)."""
    return frozenset(w for line in text.splitlines() for w in line.split()[:1] if is_identifier(w)
                     and w.endswith("_t"))


def parse_boolean_list(text: str) -> dict[str, tuple[bool, bool]]:
    """``semanage boolean -l -n``: name -> (current value, persistent value)."""
    out: dict[str, tuple[bool, bool]] = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\S+)\s+\(\s*(on|off)\s*,\s*(on|off)\s*\)", line)
        if m and is_identifier(m.group(1)):
            out[m.group(1)] = (m.group(2) == "on", m.group(3) == "on")
    return out


def parse_local_ports(text: str) -> dict[tuple[str, int], str]:
    """``semanage port -l -C -n``: (proto, port) -> type, for single ports (not ranges)."""
    out: dict[tuple[str, int], str] = {}
    for line in text.splitlines():
        words = line.replace(",", " ").split()
        if len(words) >= 3 and is_identifier(words[0]):
            for w in words[2:]:
                if w.isdigit():
                    out[(words[1], int(w))] = words[0]
    return out


def parse_local_fcontexts(text: str) -> dict[str, str]:
    """``semanage fcontext -l -C -n``: regex -> type, for ``all files`` rules."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"(\S+)\s+all files\s+\S+:\S+:(\S+?):\S+\s*$", line)
        if m and is_identifier(m.group(2)):
            out[m.group(1)] = m.group(2)
    return out


def parse_local_equivalences(text: str) -> dict[str, str]:
    """``semanage fcontext -l -C -n``: the equivalence lines ``DST = SRC`` -> {DST: SRC}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"(/\S*)\s+=\s+(/\S*)\s*$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def file_context(path: str) -> str | None:
    """The SELinux label of ``path`` (not following a symlink), or None."""
    try:
        return os.getxattr(path, "security.selinux", follow_symlinks=False).rstrip(b"\0").decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None


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

    # ---------------------------------------------------------------- journal

    def _query(self, argv: list[str]) -> str:
        r = self._run(argv, " ".join(argv), timeout=300)
        return r.stdout

    def fix_before(self, fix: Fix) -> dict[str, Any]:
        """What ``fix`` changes, as it is now (a private root changes nothing: see apply_fix)."""
        if not self.live:
            return {}
        before: dict[str, Any] = {}
        if fix.booleans:
            values = parse_boolean_list(self._query(["semanage", "boolean", "-l", "-n"]))
            before["booleans"] = {n: list(values[n]) if n in values else None for n, _ in fix.booleans}
        if fix.port is not None:
            proto, port, _ = fix.port
            before["port"] = [proto, port, parse_local_ports(self._query(["semanage", "port", "-l", "-C", "-n"]))
                              .get((proto, port))]
        if fix.fcontext is not None:
            regex = fix.fcontext[0]
            before["fcontext"] = [regex, parse_local_fcontexts(
                self._query(["semanage", "fcontext", "-l", "-C", "-n"])).get(regex)]
        if fix.equal is not None:
            dst = fix.equal[1]
            before["equal"] = [dst, parse_local_equivalences(
                self._query(["semanage", "fcontext", "-l", "-C", "-n"])).get(dst)]
        if fix.paths:
            files: dict[str, str | None] = {}
            recursive = any("-R" in argv for argv in fix.argv if argv[:1] == ("restorecon",))
            for top in fix.paths:
                files[top] = file_context(top)
                if recursive and os.path.isdir(top) and not os.path.islink(top):
                    for dirpath, dirnames, filenames in os.walk(top):
                        for name in dirnames + filenames:
                            p = os.path.join(dirpath, name)
                            files[p] = file_context(p)
            before["files"] = files
        return before

    def undo_fix(self, fix: Fix, before: dict[str, Any]) -> list[str]:
        """Put back what :meth:`fix_before` saw; each step only when the state differs from it."""
        if not self.live:
            return []
        out: list[str] = []
        # newest first: file labels, then the file-context rule, the port, the booleans
        for path, old in sorted((before.get("files") or {}).items(), reverse=True):
            if old is not None and os.path.lexists(path) and file_context(path) != old:
                argv = ["chcon", "-h", "--", old, path]
                self._run(argv, " ".join(argv))
                out.append(" ".join(argv))
        if before.get("fcontext"):
            regex, old = before["fcontext"]
            now = parse_local_fcontexts(self._query(["semanage", "fcontext", "-l", "-C", "-n"])).get(regex)
            if now != old:
                argv = (["semanage", "fcontext", "-d", regex] if old is None
                        else ["semanage", "fcontext", "-m", "-t", check_identifier(old, "type"), regex])
                self._run(argv, " ".join(argv))
                out.append(" ".join(argv))
        if before.get("equal"):
            dst, old = before["equal"]
            now = parse_local_equivalences(self._query(["semanage", "fcontext", "-l", "-C", "-n"])).get(dst)
            if now != old:
                steps = [["semanage", "fcontext", "-d", str(dst)]] if now is not None else []
                if old is not None:
                    steps.append(["semanage", "fcontext", "-a", "-e", str(old), str(dst)])
                for argv in steps:
                    self._run(argv, " ".join(argv))
                    out.append(" ".join(argv))
        if before.get("port"):
            proto, port, old = before["port"]
            now = parse_local_ports(self._query(["semanage", "port", "-l", "-C", "-n"])).get((proto, int(port)))
            if now != old:
                argv = (["semanage", "port", "-d", "-p", proto, str(int(port))] if old is None
                        else ["semanage", "port", "-m", "-t", check_identifier(old, "type"), "-p", proto,
                              str(int(port))])
                self._run(argv, " ".join(argv))
                out.append(" ".join(argv))
        old_bools = before.get("booleans") or {}
        if old_bools:
            now_bools = parse_boolean_list(self._query(["semanage", "boolean", "-l", "-n"]))
            for name, old in sorted(old_bools.items()):
                if old is None or name not in now_bools:
                    continue
                current, persistent = bool(old[0]), bool(old[1])
                now_current, now_persistent = now_bools[name]
                if now_persistent != persistent:
                    argv = ["setsebool", "-P", check_identifier(name, "boolean"), "on" if persistent else "off"]
                    self._run(argv, " ".join(argv))
                    out.append(" ".join(argv))
                    now_current = persistent
                if now_current != current:
                    argv = ["setsebool", check_identifier(name, "boolean"), "on" if current else "off"]
                    self._run(argv, " ".join(argv))
                    out.append(" ".join(argv))
        return out
