"""Where environment facts come from: the :class:`HostFacts` protocol.

:class:`SystemHostFacts` asks the real machine (selinuxfs, ``getenforce``,
``semodule -lfull``, ``dpkg-query`` or ``rpm``, ``/etc/os-release``, the
``security.selinux`` extended attribute that ``ls -Z`` shows). Every command
goes through :func:`avcfix.proc.run` with the bundle's recorder, so
``commands.txt`` lists it with its exit code. :class:`StaticHostFacts` holds
the same answers as data, for tests and for describing another machine.
Nothing here raises for a missing fact: it is a :class:`Fact` with a reason.
"""

from __future__ import annotations

import errno
import os
import platform
import shutil
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from avcfix import proc
from avcfix.bundle.facts import Fact, LocalUser
from avcfix.toolchain.store import PolicyRoot, host_policy_name

#: Magic number at the start of a binary SELinux policy (little endian).
POLICY_MAGIC = 0xF97CFF8C
#: ``config`` bit of the policy header: the policy is MLS/MCS.
POLICY_CONFIG_MLS = 0x1

#: The packages whose versions a bundle reports, per package manager.
DEB_PACKAGES = {"selinux-policy": "selinux-policy-*", "policycoreutils": "policycoreutils"}
RPM_PACKAGES = {"selinux-policy": "selinux-policy", "policycoreutils": "policycoreutils"}


class HostFacts(Protocol):
    """Questions a bundle asks about the host. Answers are :class:`Fact`s."""

    def selinux_mode(self) -> Fact:
        """``enforcing``, ``permissive`` or ``disabled``."""

    def policy_name(self) -> Fact:
        """The policy type (SELINUXTYPE), e.g. ``targeted`` or ``default``."""

    def kernel_policy(self) -> Fact:
        """The loaded policy: ``{"version": N, "mls": bool}``."""

    def policy_file(self, path: Path | None) -> Fact:
        """``{"path", "version", "mls"}`` of ``path`` (else the host's policy file)."""

    def modules(self) -> Fact:
        """Installed modules: ``[{"name", "priority", "kind"}]``."""

    def boolean_values(self, names: Sequence[str]) -> Fact:
        """Current values of the booleans ``names``: ``{name: bool}``."""

    def packages(self) -> Mapping[str, Fact]:
        """Versions of selinux-policy, policycoreutils and avcfix."""

    def os_release(self) -> Fact:
        """``{"PRETTY_NAME", "ID", "VERSION_ID"}`` from os-release."""

    def kernel(self) -> Fact:
        """The kernel release (``uname -r``)."""

    def label(self, path: str) -> Fact:
        """The SELinux label of ``path`` (what ``ls -Z`` shows)."""

    def host_names(self) -> tuple[str, ...]:
        """This host's names (redacted wherever they appear)."""

    def local_users(self) -> tuple[LocalUser, ...]:
        """Accounts with uid > 999 (redacted wherever they appear)."""


def read_policy_header(path: Path) -> Fact:
    """``{"path", "version", "mls"}`` from a binary policy file's header."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        return Fact.absent(f"cannot read {path}: {exc.strerror or exc}")
    try:
        magic, length = struct.unpack_from("<II", head, 0)
        if magic != POLICY_MAGIC or length > 32:
            return Fact.absent(f"{path} is not a binary SELinux policy")
        version, config = struct.unpack_from("<II", head, 8 + length)
    except struct.error:
        return Fact.absent(f"{path} is too short to be a binary SELinux policy")
    return Fact.known({"path": str(path), "version": version, "mls": bool(config & POLICY_CONFIG_MLS)})


def _read(path: Path) -> tuple[str | None, str]:
    try:
        return path.read_text(errors="replace").strip(), ""
    except FileNotFoundError:
        return None, f"{path} does not exist"
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0][:200] if lines else ""


def _avcfix_version() -> Fact:
    from importlib import metadata

    try:
        return Fact.known(metadata.version("avcfix"))
    except metadata.PackageNotFoundError:
        return Fact.absent("avcfix is not installed as a Python distribution")


@dataclass(slots=True)
class SystemHostFacts:
    """The real machine. ``root`` is the policy root whose store and config are read."""

    root: PolicyRoot = field(default_factory=lambda: PolicyRoot(Path("/"), host_policy_name()))
    record: Callable[[proc.Result], None] | None = None
    selinuxfs: Path = Path("/sys/fs/selinux")
    os_release_files: tuple[Path, ...] = (Path("/etc/os-release"), Path("/usr/lib/os-release"))
    passwd: Path = Path("/etc/passwd")

    def _run(self, argv: list[str], timeout: float = 60.0) -> proc.Result:
        return proc.run(argv, timeout=timeout, record=self.record)

    def selinux_mode(self) -> Fact:
        reasons = []
        if shutil.which("getenforce"):
            r = self._run(["getenforce"])
            word = r.stdout.strip().lower()
            if r.ok and word in ("enforcing", "permissive", "disabled"):
                if word != "disabled":
                    return Fact.known(word)
                reasons.append("getenforce says Disabled")
            else:
                reasons.append(f"getenforce failed (exit {r.returncode})")
        else:
            reasons.append("getenforce is not installed")
        text, why = _read(self.selinuxfs / "enforce")
        if text in ("0", "1"):
            return Fact.known("enforcing" if text == "1" else "permissive")
        reasons.append(f"{why or 'unexpected content'} (selinuxfs not mounted: SELinux is not enabled)")
        return Fact.known("disabled") if reasons[0] == "getenforce says Disabled" else Fact.absent("; ".join(reasons))

    def policy_name(self) -> Fact:
        cfg = self.root.root / "etc" / "selinux" / "config"
        text, why = _read(cfg)
        if text is None:
            return Fact.absent(why)
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("SELINUXTYPE="):
                return Fact.known(line.split("=", 1)[1].strip())
        return Fact.absent(f"{cfg} has no SELINUXTYPE= line")

    def kernel_policy(self) -> Fact:
        vers, why = _read(self.selinuxfs / "policyvers")
        if vers is None or not vers.isdigit():
            return Fact.absent(f"{why or 'unexpected policyvers'}: no policy is loaded (SELinux is not enabled)")
        mls, _ = _read(self.selinuxfs / "mls")
        return Fact.known({"version": int(vers), "mls": mls == "1" if mls is not None else None})

    def policy_file(self, path: Path | None) -> Fact:
        if path is None:
            try:
                path = self.root.policy_file
            except Exception as exc:  # PolicyError: no policy.N in the root
                return Fact.absent(str(exc))
        return read_policy_header(Path(path))

    def modules(self) -> Fact:
        argv = self.root.semodule_argv("-lfull")
        if not shutil.which("semodule"):
            return Fact.absent("semodule is not installed (policycoreutils)")
        r = self._run(argv)
        if not r.ok:
            return Fact.absent(f"{' '.join(argv)} failed (exit {r.returncode}): {_first_line(r.stderr)}")
        mods = []
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].isdigit():
                mods.append({"priority": int(parts[0]), "name": parts[1],
                             "kind": parts[2] if len(parts) > 2 else "", "disabled": "disabled" in parts[3:]})
        mods.sort(key=lambda m: (m["name"], m["priority"]))
        return Fact.known(mods)

    def boolean_values(self, names: Sequence[str]) -> Fact:
        bdir = self.selinuxfs / "booleans"
        if not bdir.is_dir():
            return Fact.absent(f"{bdir} does not exist: SELinux is not enabled, current values unknown")
        out: dict[str, bool] = {}
        for name in sorted(set(names)):
            text, _ = _read(bdir / name)
            if text and text.split()[0] in ("0", "1"):
                out[name] = text.split()[0] == "1"
        return Fact.known(out)

    def packages(self) -> Mapping[str, Fact]:
        out: dict[str, Fact] = {}
        if shutil.which("dpkg-query"):
            for key, pattern in DEB_PACKAGES.items():
                r = self._run(["dpkg-query", "-W", "-f", r"${db:Status-Abbrev}|${Package}|${Version}\n", pattern])
                found = [ln.split("|") for ln in r.stdout.splitlines() if ln.startswith("ii")]
                if found:
                    out[key] = Fact.known(", ".join(f"{p[1]} {p[2]}" for p in sorted(found)))
                else:
                    out[key] = Fact.absent(f"no installed package matches {pattern} (dpkg-query exit {r.returncode})")
        elif shutil.which("rpm"):
            for key, name in RPM_PACKAGES.items():
                r = self._run(["rpm", "-q", "--qf", r"%{NAME} %{VERSION}-%{RELEASE}\n", name])
                out[key] = (Fact.known(r.stdout.strip()) if r.ok
                            else Fact.absent(f"rpm -q {name}: {_first_line(r.stdout + r.stderr)}"))
        else:
            for key in DEB_PACKAGES:
                out[key] = Fact.absent("neither dpkg-query nor rpm is installed")
        out["avcfix"] = _avcfix_version()
        return out

    def os_release(self) -> Fact:
        for path in self.os_release_files:
            text, _ = _read(path)
            if text is None:
                continue
            info = {}
            for line in text.splitlines():
                key, sep, value = line.partition("=")
                if sep and key in ("PRETTY_NAME", "ID", "VERSION_ID"):
                    info[key] = value.strip().strip('"')
            return Fact.known(info)
        return Fact.absent("no /etc/os-release or /usr/lib/os-release")

    def kernel(self) -> Fact:
        return Fact.known(platform.release())

    def label(self, path: str) -> Fact:
        try:
            raw = os.getxattr(path, "security.selinux", follow_symlinks=False)
        except FileNotFoundError:
            return Fact.absent("does not exist on this host")
        except OSError as exc:
            if exc.errno in (errno.ENODATA, errno.ENOTSUP, getattr(errno, "ENOATTR", errno.ENODATA)):
                return Fact.absent("no security.selinux attribute (file system not labelled here)")
            return Fact.absent(f"cannot read its label: {exc.strerror or exc}")
        return Fact.known(raw.rstrip(b"\0").decode("utf-8", "replace"))

    def host_names(self) -> tuple[str, ...]:
        names = {socket.gethostname()}
        try:
            names.add(socket.getfqdn())
        except OSError:
            pass
        text, _ = _read(Path("/etc/hostname"))
        if text:
            names.add(text)
        return tuple(sorted(n for n in names if n and n != "localhost"))

    def local_users(self) -> tuple[LocalUser, ...]:
        text, _ = _read(self.passwd)
        users = []
        for line in (text or "").splitlines():
            parts = line.split(":")
            if len(parts) >= 6 and parts[2].isdigit() and 999 < int(parts[2]) < 65534:
                users.append(LocalUser(parts[0], int(parts[2]), parts[5]))
        return tuple(sorted(users, key=lambda u: u.uid))


@dataclass(frozen=True, slots=True)
class StaticHostFacts:
    """Answers given as data (tests, or another machine's facts)."""

    mode: Fact = Fact.absent("not recorded")
    name: Fact = Fact.absent("not recorded")
    loaded: Fact = Fact.absent("not recorded")
    policy: Fact = Fact.absent("not recorded")
    module_list: Fact = Fact.absent("not recorded")
    booleans: Mapping[str, bool] | None = None
    package_versions: Mapping[str, Fact] = field(default_factory=dict)
    release: Fact = Fact.absent("not recorded")
    kernel_release: Fact = Fact.absent("not recorded")
    labels: Mapping[str, str] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    users: tuple[LocalUser, ...] = ()

    def selinux_mode(self) -> Fact:
        return self.mode

    def policy_name(self) -> Fact:
        return self.name

    def kernel_policy(self) -> Fact:
        return self.loaded

    def policy_file(self, path: Path | None) -> Fact:
        return read_policy_header(path) if path is not None else self.policy

    def modules(self) -> Fact:
        return self.module_list

    def boolean_values(self, names: Sequence[str]) -> Fact:
        if self.booleans is None:
            return Fact.absent("not recorded")
        return Fact.known({n: self.booleans[n] for n in sorted(set(names)) if n in self.booleans})

    def packages(self) -> Mapping[str, Fact]:
        return dict(self.package_versions)

    def os_release(self) -> Fact:
        return self.release

    def kernel(self) -> Fact:
        return self.kernel_release

    def label(self, path: str) -> Fact:
        found = self.labels.get(path)
        return Fact.known(found) if found is not None else Fact.absent("does not exist on this host")

    def host_names(self) -> tuple[str, ...]:
        return self.names

    def local_users(self) -> tuple[LocalUser, ...]:
        return self.users
