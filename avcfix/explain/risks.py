"""Risk flags: accesses that should make an admin stop and think.

The list is data, in this one place, with a one-line reason per entry. A
finding is flagged by every entry whose permissions, classes and target types
all match it (an empty set matches anything).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Permissions that change a file or directory.
WRITE_PERMS = frozenset(
    {"write", "append", "create", "unlink", "rename", "setattr", "add_name",
     "remove_name", "link", "reparent", "relabelto"}
)

#: Classes that are files or directories.
FILE_CLASSES = frozenset(
    {"file", "dir", "lnk_file", "chr_file", "blk_file", "sock_file", "fifo_file"}
)

#: Classes that hold Linux capabilities.
CAPABILITY_CLASSES = frozenset({"capability", "cap_userns"})


@dataclass(frozen=True, slots=True)
class RiskRule:
    """One risky kind of access and why it is risky."""

    name: str
    reason: str
    perms: frozenset[str]
    classes: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    #: Matches only when the target is an unconfined domain (needs the policy).
    unconfined_target: bool = False

    def matches(self, target: str, tclass: str, perms: tuple[str, ...],
                is_unconfined: Callable[[str], bool]) -> bool:
        """True when this entry flags ``perms`` on ``target``:``tclass``."""
        if self.classes and tclass not in self.classes:
            return False
        if self.targets and target not in self.targets:
            return False
        if not self.perms.intersection(perms):
            return False
        return not self.unconfined_target or is_unconfined(target)

    def text(self) -> str:
        """``name: reason``, as shown in reports and JSON."""
        return f"{self.name}: {self.reason}"


def _write(target: str, reason: str) -> RiskRule:
    return RiskRule(f"write {target}", reason, WRITE_PERMS, FILE_CLASSES, frozenset({target}))


def _cap(perm: str, reason: str) -> RiskRule:
    return RiskRule(perm, reason, frozenset({perm}), CAPABILITY_CLASSES)


RISKS: tuple[RiskRule, ...] = (
    _write("shadow_t", "password hashes; a domain that writes them can create or take over accounts"),
    _write("etc_t", "system configuration; writing it changes how every service and login behaves"),
    _write("bin_t", "system programs; writing them plants code that root and other domains run"),
    _write("lib_t", "shared libraries; writing them injects code into every program that loads them"),
    _write("ld_so_t", "the dynamic loader; writing it injects code into every program"),
    _write("boot_t", "kernels and boot loader files; writing them controls the next boot"),
    _write("security_t", "selinuxfs; writing it changes the running SELinux state"),
    RiskRule("execmem", "writable and executable memory defeats W^X; usually a JIT or a library bug",
             frozenset({"execmem"}), frozenset({"process"})),
    RiskRule("execstack", "an executable stack makes stack overflows directly exploitable",
             frozenset({"execstack"}), frozenset({"process"})),
    RiskRule("execheap", "an executable heap makes heap overflows directly exploitable; almost never needed",
             frozenset({"execheap"}), frozenset({"process"})),
    RiskRule("execmod", "executing modified file mappings (text relocations) weakens code integrity",
             frozenset({"execmod"}), frozenset({"file", "chr_file"})),
    _cap("sys_admin", "nearly root: mount, namespaces, many device ioctls; find the narrower need"),
    _cap("sys_module", "loads kernel modules: arbitrary code in the kernel"),
    _cap("sys_ptrace", "reads and controls other processes' memory"),
    _cap("dac_override", "bypasses file permissions on every file; usually a file ownership or mode problem"),
    _cap("sys_rawio", "raw device and I/O port access can bypass every other control"),
    RiskRule("mac_admin", "may change SELinux labels and policy-level settings",
             frozenset({"mac_admin", "mac_override"}), frozenset({"capability2", "cap2_userns"})),
    RiskRule("ptrace", "controls another process's memory and execution",
             frozenset({"ptrace"}), frozenset({"process"})),
    RiskRule("load_policy", "replaces the whole SELinux policy", frozenset({"load_policy"}), frozenset({"security"})),
    RiskRule("setenforce", "switches SELinux between enforcing and permissive",
             frozenset({"setenforce"}), frozenset({"security"})),
    RiskRule("setbool", "changes SELinux booleans, and with them the policy",
             frozenset({"setbool"}), frozenset({"security"})),
    RiskRule("unconfined transition", "enters an unconfined domain, which SELinux does not restrict",
             frozenset({"transition", "dyntransition"}), frozenset({"process"}), unconfined_target=True),
)


def risks_for(target: str, tclass: str, perms: tuple[str, ...],
              is_unconfined: Callable[[str], bool]) -> tuple[str, ...]:
    """The flags (``name: reason``) for ``perms`` on ``target``:``tclass``, in list order."""
    return tuple(r.text() for r in RISKS if r.matches(target, tclass, perms, is_unconfined))
