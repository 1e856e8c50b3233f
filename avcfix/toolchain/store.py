"""Policy roots: the machine's own, or a private copy for tests and the lab.

A :class:`PolicyRoot` names a directory tree laid out like ``/`` for SELinux:
``ROOT/etc/selinux/NAME`` (the binary policy, file_contexts) and
``ROOT/var/lib/selinux/NAME`` (the module store). ``semodule -p ROOT`` and
``semanage`` with ``-S`` work on it without an SELinux kernel.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from avcfix.errors import PolicyError

_POLICY_RE = re.compile(r"^policy\.(\d+)$")


@dataclass(frozen=True, slots=True)
class PolicyRoot:
    """A policy root directory and the policy name (type) inside it."""

    root: Path
    name: str = "default"

    @property
    def etc_dir(self) -> Path:
        return self.root / "etc" / "selinux" / self.name

    @property
    def store_dir(self) -> Path:
        return self.root / "var" / "lib" / "selinux" / self.name

    @property
    def file_contexts(self) -> Path:
        return self.etc_dir / "contexts" / "files" / "file_contexts"

    @property
    def policy_file(self) -> Path:
        """The binary policy with the highest version number in this root."""
        pdir = self.etc_dir / "policy"
        found = []
        if pdir.is_dir():
            for p in pdir.iterdir():
                m = _POLICY_RE.match(p.name)
                if m:
                    found.append((int(m.group(1)), p))
        if not found:
            raise PolicyError(f"no binary policy under {pdir}")
        return max(found)[1]

    def semodule_argv(self, *args: str) -> list[str]:
        """argv for semodule working on this root (no ``-p`` for ``/``)."""
        argv = ["semodule"]
        if self.root != Path("/"):
            argv += ["-p", str(self.root)]
        if self.name != "default" or self.root != Path("/"):
            argv += ["-s", self.name]
        return argv + list(args)


def host_policy_name(root: Path = Path("/")) -> str:
    """SELINUXTYPE from ROOT/etc/selinux/config, or ``default``."""
    cfg = root / "etc" / "selinux" / "config"
    try:
        for line in cfg.read_text().splitlines():
            line = line.strip()
            if line.startswith("SELINUXTYPE="):
                return line.split("=", 1)[1].strip() or "default"
    except OSError:
        pass
    return "default"


def copy_root(src: PolicyRoot, dest: Path) -> PolicyRoot:
    """Copy the store and the installed policy of ``src`` into a new root.

    Only ``src`` is read; the copy is what later ``semodule -p`` calls change.
    """
    if not src.store_dir.is_dir():
        raise PolicyError(f"no policy store at {src.store_dir} (is selinux-policy-default installed?)")
    new = PolicyRoot(Path(dest), src.name)
    shutil.copytree(src.store_dir, new.store_dir, symlinks=True)
    shutil.copytree(src.etc_dir, new.etc_dir, symlinks=True)
    for extra in ("config", "semanage.conf"):
        f = src.root / "etc" / "selinux" / extra
        if f.is_file():
            shutil.copy2(f, new.root / "etc" / "selinux" / extra)
    return new
