"""What each probe step does (the ground truth) and how its records become fixtures.

Every entry of :data:`STEPS` says which object the probe's one system call
makes the kernel check, from the probe's own code (``probe.c``) and the tree
``capture_job.sh`` builds: never from the records. The inode comes from
``stat`` inside the VM (``out/stat.tsv``). :func:`write_fixtures` cuts each
step's audit event(s) (found by the probe's pid, printed in ``out/steps.tsv``)
out of the guest's audit.log, byte for byte, and checks that the kernel denied
what the step expects.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

P = "/srv/probe"
PROBE_C = "tests/e2e/kernel/probe.c"


@dataclass(frozen=True, slots=True)
class Den:
    """Another denial of the same event, on its own object (None: the step's object)."""

    tclass: str
    perms: tuple[str, ...]
    path: str | None = None
    kind: str | None = None
    child: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    access: str
    call: str                 # the probe's call, as in probe.c
    syscall: str              # the kernel's name for it (the SYSCALL record must agree)
    tclass: str
    perms: tuple[str, ...]
    path: str | None          # the object the kernel checked (None: not a filesystem object)
    kind: str                 # file, dir, lnk_file, sock_file, ... or why there is no path
    child: str | None = None  # the entry created/removed/renamed inside the dir object
    note: str = ""
    #: the other denials the kernel logs in the same event (any order)
    others: tuple[Den, ...] = ()
    #: the permissive steps run as avcfix-probe-perm (avcfix_probe_perm_t)
    permissive: bool = False

    def denials(self) -> list[Den]:
        """Every denial of the event, each with its object (the step's own first)."""
        own = Den(self.tclass, self.perms, self.path, self.kind, self.child)
        return [own] + [Den(d.tclass, d.perms, d.path or self.path, d.kind or self.kind,
                            d.child if d.path else self.child) for d in self.others]


def _dir_write(name, access, call, syscall, child):
    return Step(name, access + "; the directory may not be written at all", call, syscall, "dir",
                ("write",), f"{P}/ro", "dir", child)


def _dir_entry(name, access, call, syscall, perm, directory, child):
    return Step(name, access + f"; the directory may be written but {perm} is denied", call, syscall,
                "dir", (perm,), f"{P}/{directory}", "dir", child)


STEPS: tuple[Step, ...] = (
    Step("open-read", "open (read) a file the domain may not read; its directory is searchable",
         f'open("{P}/ro/secret", O_RDONLY)', "openat", "file", ("read",), f"{P}/ro/secret", "file"),
    Step("open-noopen", "open a file the domain may read but not open",
         f'open("{P}/ro/noopen", O_RDONLY)', "openat", "file", ("open",), f"{P}/ro/noopen", "file"),
    Step("open-relative", "open (read) by a relative name after chdir (the CWD record matters)",
         f'chdir("{P}/ro"); open("secret", O_RDONLY)', "openat", "file", ("read",),
         f"{P}/ro/secret", "file"),
    # the directory may not be written at all: the kernel checks "write" on it (inode_permission)
    # before it gets to add_name/remove_name
    _dir_write("create-dir-write", "create a file", f'open("{P}/ro/newfile", O_WRONLY|O_CREAT|O_EXCL)',
               "openat", "newfile"),
    _dir_write("create-relative-dir-write", "create a file by a relative name with '..' after chdir",
               f'chdir("{P}/rw"); open("../ro/newrel", O_WRONLY|O_CREAT|O_EXCL)', "openat", "newrel"),
    _dir_write("unlink-dir-write", "unlink a file", f'unlink("{P}/ro/victim")', "unlink", "victim"),
    _dir_write("rename-same-dir-write", "rename within one directory",
               f'rename("{P}/ro/a", "{P}/ro/b")', "rename", "a"),
    _dir_write("rename-cross-dir-target-write", "rename across directories, into this one",
               f'rename("{P}/rw/x", "{P}/ro/x")', "rename", "x"),
    _dir_write("rename-cross-dir-source-write", "rename across directories, out of this one",
               f'rename("{P}/ro/c", "{P}/rw/c")', "rename", "c"),
    _dir_write("mkdir-dir-write", "mkdir", f'mkdir("{P}/ro/newdir")', "mkdir", "newdir"),
    _dir_write("rmdir-dir-write", "rmdir", f'rmdir("{P}/ro/emptydir")', "rmdir", "emptydir"),
    # the directory may be written, but not add_name (noadd) / remove_name (norm)
    _dir_entry("create-add-name", "create a file", f'open("{P}/noadd/newfile", O_WRONLY|O_CREAT|O_EXCL)',
               "openat", "add_name", "noadd", "newfile"),
    _dir_entry("create-relative-add-name", "create a file by a relative name with '..' after chdir",
               f'chdir("{P}/rw"); open("../noadd/newrel", O_WRONLY|O_CREAT|O_EXCL)', "openat",
               "add_name", "noadd", "newrel"),
    _dir_entry("mkdir-add-name", "mkdir", f'mkdir("{P}/noadd/newdir")', "mkdir", "add_name",
               "noadd", "newdir"),
    _dir_entry("unlink-remove-name", "unlink a file", f'unlink("{P}/norm/victim")', "unlink",
               "remove_name", "norm", "victim"),
    _dir_entry("rmdir-remove-name", "rmdir", f'rmdir("{P}/norm/emptydir")', "rmdir", "remove_name",
               "norm", "emptydir"),
    _dir_entry("rename-same-dir-remove-name", "rename within one directory",
               f'rename("{P}/norm/a", "{P}/norm/b")', "rename", "remove_name", "norm", "a"),
    _dir_entry("rename-cross-dir-add-name", "rename across directories, into this one",
               f'rename("{P}/rw/x", "{P}/noadd/x")', "rename", "add_name", "noadd", "x"),
    _dir_entry("rename-cross-dir-remove-name", "rename across directories, out of this one",
               f'rename("{P}/norm/c", "{P}/rw/c")', "rename", "remove_name", "norm", "c"),
    # the entry itself is denied (its directory is writable)
    Step("unlink-file-denied", "unlink a file where unlink on the file itself is denied",
         f'unlink("{P}/rw/nounlink")', "unlink", "file", ("unlink",), f"{P}/rw/nounlink", "file"),
    Step("rename-file-denied", "rename within a writable directory; rename on the file is denied",
         f'rename("{P}/rw/norename", "{P}/rw/renamed")', "rename", "file", ("rename",),
         f"{P}/rw/norename", "file"),
    Step("rmdir-child-denied", "rmdir where rmdir on the directory itself is denied (parent writable)",
         f'rmdir("{P}/rw/subdir")', "rmdir", "dir", ("rmdir",), f"{P}/rw/subdir", "dir"),
    Step("exec-execute", "execute a file the domain may read but not execute",
         f'execve("{P}/ro/noexec")', "execve", "file", ("execute",), f"{P}/ro/noexec", "file"),
    Step("exec-execute-no-trans", "execute a file without a transition where execute_no_trans is denied",
         f'execve("{P}/ro/notrans")', "execve", "file", ("execute_no_trans",), f"{P}/ro/notrans", "file"),
    Step("connect-sock-file", "connect to a unix stream socket whose socket file may not be written",
         f'connect(AF_UNIX, "{P}/sock/denied.sock")', "connect", "sock_file", ("write",),
         f"{P}/sock/denied.sock", "sock_file"),
    Step("connect-connectto", "connect to a unix stream socket (file writable) of a domain the probe "
         "may not connectto", f'connect(AF_UNIX, "{P}/sock/conn.sock")', "connect",
         "unix_stream_socket", ("connectto",), f"{P}/sock/conn.sock", "unix_stream_socket",
         note="the object is the listening socket of the server (unconfined_t) bound at this path; "
              "the inode is that of the socket file"),
    Step("bind-tcp", "bind TCP port 3306 (mysqld_port_t) without name_bind",
         "bind(tcp, 0.0.0.0:3306)", "bind", "tcp_socket", ("name_bind",), None,
         "port tcp/3306 (mysqld_port_t): not a filesystem object"),
    Step("bind-udp", "bind UDP port 63822 (unreserved_port_t) without name_bind",
         "bind(udp, 0.0.0.0:63822)", "bind", "udp_socket", ("name_bind",), None,
         "port udp/63822 (unreserved_port_t): not a filesystem object"),
    Step("ioctl-xperm", "ioctl 0x5413 on a file where allowxperm allows only ioctl 0x5401",
         f'open("{P}/ro/ioctl"); ioctl(fd, 0x5413)', "ioctl", "file", ("ioctl",), f"{P}/ro/ioctl", "file"),
    Step("ioctl-plain", "ioctl 0x5401 on a file the domain may read but has no ioctl on",
         f'open("{P}/ro/rofile"); ioctl(fd, 0x5401)', "ioctl", "file", ("ioctl",), f"{P}/ro/rofile", "file"),
    Step("mount", "mount a tmpfs on a directory without mounton (filesystem mount allowed)",
         f'mount("none", "{P}/mnt", "tmpfs")', "mount", "dir", ("mounton",), f"{P}/mnt", "dir"),
    Step("search-middle", "open a file below a directory the domain may not search",
         f'open("{P}/nosearch/inner/file", O_RDONLY)', "openat", "dir", ("search",),
         f"{P}/nosearch", "dir"),
    Step("stat", "stat a file in a readable directory without getattr on the file",
         f'stat("{P}/ro/secret_stat")', "newfstatat", "file", ("getattr",), f"{P}/ro/secret_stat", "file"),
    Step("readlink", "readlink a symlink the domain may not read",
         f'readlink("{P}/ro/link")', "readlink", "lnk_file", ("read",), f"{P}/ro/link", "lnk_file"),
    Step("follow-link", "open through a symlink the domain may not read",
         f'open("{P}/ro/link", O_RDONLY)', "openat", "lnk_file", ("read",), f"{P}/ro/link", "lnk_file"),
    Step("hardlink", "hard link a file without link on it (directory writable)",
         f'link("{P}/rw/hard", "{P}/rw/hard2")', "link", "file", ("link",), f"{P}/rw/hard", "file",
         others=(Den("file", ("write",)),),
         note="the kernel first logs write on the same file: fs.protected_hardlinks asks "
              "inode_permission(MAY_READ|MAY_WRITE) for a safe source, and the owner (root) then "
              "passes without it"),
    Step("chmod", "chmod a file without setattr",
         f'chmod("{P}/rw/chmod", 0600)', "chmod", "file", ("setattr",), f"{P}/rw/chmod", "file"),
    Step("truncate", "truncate a file the domain may read but not write",
         f'truncate("{P}/ro/trunc", 0)', "truncate", "file", ("write",), f"{P}/ro/trunc", "file"),
    Step("leaked-fd", "a descriptor leaked across the domain transition: unconfined sh opens a file "
         "(fd 7, no O_CLOEXEC) and execs the probe, which may not read it",
         f'sh -c "exec 7< {P}/ro/leak; exec avcfix-probe leaked-fd"', "execve", "file", ("read",),
         f"{P}/ro/leak", "file",
         note="checked at execve when the new domain takes over the descriptors (the fd is "
              "closed, execve succeeds); the file is not among the PATH records"),
)

#: Permissive (avcfix_probe_perm_t): each call succeeds, and its one event logs every check.
PERMISSIVE_STEPS: tuple[Step, ...] = (
    Step("p-search-middle", "permissive: open a secret file below a directory the domain may not "
         "search (two objects in one event)", f'open("{P}/nosearch/inner/secret", O_RDONLY)', "openat",
         "dir", ("search",), f"{P}/nosearch", "dir", permissive=True,
         others=(Den("file", ("read",), f"{P}/nosearch/inner/secret", "file"),
                 Den("file", ("open",), f"{P}/nosearch/inner/secret", "file"))),
    Step("p-create", "permissive: create a file in a directory the domain may not write "
         "(the directory and the new file in one event)",
         f'open("{P}/ro/pnew", O_WRONLY|O_CREAT|O_EXCL)', "openat", "dir", ("write",), f"{P}/ro", "dir",
         "pnew", permissive=True,
         others=(Den("dir", ("add_name",)),
                 Den("file", ("create",), f"{P}/ro/pnew", "file"),
                 Den("file", ("open", "write"), f"{P}/ro/pnew", "file"))),
    Step("p-rename-three", "permissive: rename across directories with remove_name, rename and "
         "add_name all denied (three objects in one event)",
         f'rename("{P}/norm/r3", "{P}/noadd/r3")', "rename", "dir", ("remove_name",), f"{P}/norm",
         "dir", "r3", permissive=True,
         others=(Den("file", ("rename",), f"{P}/norm/r3", "file"),
                 Den("dir", ("add_name",), f"{P}/noadd", "dir", "r3"))),
    Step("p-exec", "permissive: execute a file the domain may not execute (execve succeeds)",
         f'execve("{P}/ro/noexec")', "execve", "file", ("execute",), f"{P}/ro/noexec", "file",
         permissive=True, others=(Den("file", ("execute_no_trans",)), Den("file", ("map",))),
         note="the map check comes from the kernel's ELF loader mapping the new image, already "
              "under the new comm (comm=\"noexec\" in that AVC)"),
)

_SERIAL = re.compile(rb"msg=audit\((\d+\.\d+:\d+)\)")
_AVC_HEAD = re.compile(rb"avc:\s+denied\s+\{([^}]*)\}.*?\bpid=(\d+)\b.*?\bscontext=(\S+).*?\btclass=(\S+)")
_PROBE_DOMAINS = (b":avcfix_probe_t:", b":avcfix_probe_perm_t:")


def read_stat(*paths: Path) -> dict[str, tuple[int, str]]:
    """stat.tsv (name, inode, type, dev, context) -> {name: (inode, type)}; the first file wins."""
    found: dict[str, tuple[int, str]] = {}
    for line in (ln for p in reversed(paths) if p.is_file() for ln in p.read_text().splitlines()):
        parts = line.split("\t")
        if len(parts) >= 3:
            found[parts[0]] = (int(parts[1]), parts[2])
    return found


def read_steps(path: Path) -> dict[str, tuple[int, str, str]]:
    """steps-PASS.tsv (step, pid, rc, errno) -> {step: (pid, rc, errno)}."""
    found = {}
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[1].isdigit():
            found[parts[0]] = (int(parts[1]), parts[2], parts[3])
    return found


def events_by_pid(log: bytes) -> dict[int, list[bytes]]:
    """{pid: [serial]} for every event with an AVC of avcfix_probe_t, in log order."""
    serials: dict[int, list[bytes]] = {}
    for line in log.splitlines():
        if not line.startswith(b"type=AVC "):
            continue
        m, a = _SERIAL.search(line), _AVC_HEAD.search(line)
        if m and a and any(dom in a.group(3) for dom in _PROBE_DOMAINS):
            lst = serials.setdefault(int(a.group(2)), [])
            if m.group(1) not in lst:
                lst.append(m.group(1))
    return serials


def event_lines(log: bytes, serials: list[bytes]) -> list[bytes]:
    """Every line of the given events, in log order, unchanged."""
    want = set(serials)
    out = []
    for line in log.splitlines(keepends=True):
        m = _SERIAL.search(line)
        if m and m.group(1) in want:
            out.append(line)
    return out


#: pass name -> (steps file in out/, fixture subdirectory, its steps, what the pass means)
PASSES = {
    "rules": ("steps-rules.tsv", "", STEPS, "one audit rule loaded (-a always,exit -S kexec_load): "
              "the kernel collects names, so CWD and PATH records come with the AVC"),
    "norules": ("steps-norules.tsv", "norules", STEPS, "no audit rule (Debian's default audit.rules): "
                "the syscall context is a dummy, the kernel collects no names"),
    "permissive": ("steps-permissive.tsv", "permissive", PERMISSIVE_STEPS,
                   "one audit rule loaded (-a always,exit -S kexec_load): the kernel collects names, "
                   "so CWD and PATH records come with the AVC"),
}


def _object(path: str | None, kind: str | None, stats: dict) -> dict | None:
    if path is None:
        return None
    return {"path": path, "kind": kind, "inode": stats[path][0]}


def _child_inode(path: str | None, child: str | None, stats: dict) -> int | None:
    """The entry's own inode, when it exists (unlink, rmdir, rename source): the kernel
    prints it as the AVC's ino= for remove_name on the directory."""
    child_path = f"{path}/{child}" if path and child else None
    return stats[child_path][0] if child_path in stats else None


def write_fixtures(out: Path, dest: Path, say) -> list[str]:
    """Cut every step's events out of OUT/audit/audit.log into DEST[/PASS]/NAME.log + NAME.json.

    Returns the fixture names written; reports (through SAY) every step whose records differ
    from what it expects: a wrong expectation is fixed in STEPS, never in the fixture.
    """
    log = (out / "audit" / "audit.log").read_bytes()
    # inodes before the steps; objects a permissive step created, from after them
    stats = read_stat(out / "stat.tsv", out / "stat-after.tsv")
    by_pid = events_by_pid(log)
    problems, names = [], []
    for steps_file, sub, table, meaning in PASSES.values():
        steps = read_steps(out / steps_file)
        where = dest / sub if sub else dest
        where.mkdir(parents=True, exist_ok=True)
        for st in table:
            label = f"{sub + '/' if sub else ''}{st.name}"
            if st.name not in steps:
                problems.append(f"{label}: the probe did not report")
                continue
            pid, rc, err = steps[st.name]
            lines = event_lines(log, by_pid.get(pid, []))
            avcs = [_AVC_HEAD.search(ln) for ln in lines if ln.startswith(b"type=AVC ")]
            got = sorted((a.group(4).decode(), tuple(sorted(a.group(1).decode().split()))) for a in avcs if a)
            want = sorted((d.tclass, tuple(sorted(d.perms))) for d in st.denials())
            if got != want:
                problems.append(f"{label}: expected {want}, the kernel logged {got}")
            sysc = [re.search(rb"\x1dARCH=\S+ SYSCALL=(\w+)", ln) for ln in lines
                    if ln.startswith(b"type=SYSCALL ")]
            if [m.group(1).decode() for m in sysc if m] != [st.syscall]:
                problems.append(f"{label}: expected syscall {st.syscall}, got "
                                f"{[m.group(1).decode() for m in sysc if m]}")
            missing = [d.path for d in st.denials() if d.path is not None and d.path not in stats]
            if missing:
                problems.append(f"{label}: {missing} not in stat.tsv")
                continue
            probe = "avcfix-probe-perm" if st.permissive else "avcfix-probe"
            domain = "avcfix_probe_perm_t (permissive)" if st.permissive else "avcfix_probe_t"
            how = (f"{probe} {st.name} ({PROBE_C}) in {domain}: {st.call} -> rc={rc} "
                   f"errno={err}. The object is what that call names in the tree built by "
                   "capture_job.sh; its inode is from stat inside the VM (stat.tsv).")
            if st.note:
                how += " " + st.note[0].upper() + st.note[1:] + "."
            manifest = {"access": st.access, "syscall": st.syscall, "tclass": st.tclass,
                        "perms": list(st.perms), "object": _object(st.path, st.kind, stats),
                        "child": st.child, "child_inode": _child_inode(st.path, st.child, stats),
                        "how": how,
                        "denials": [{"tclass": d.tclass, "perms": list(d.perms),
                                     "object": _object(d.path, d.kind, stats), "child": d.child,
                                     "child_inode": _child_inode(d.path, d.child, stats)}
                                    for d in st.denials()],
                        "permissive": st.permissive, "audit_rules": meaning}
            if st.path is None:
                manifest["kind"] = st.kind
            (where / f"{st.name}.log").write_bytes(b"".join(lines))
            (where / f"{st.name}.json").write_text(json.dumps(manifest, indent=1) + "\n")
            names.append(label)
    for p in problems:
        say("PROBLEM " + p)
    return names
