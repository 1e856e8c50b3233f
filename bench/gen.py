#!/usr/bin/env python3
"""Deterministic generator of realistic raw audit logs, for the benchmark.

    python bench/gen.py --lines 1000000 -o bench/data/1m.log [--seed 1]

The log looks like a busy Debian/Fedora server's ``/var/log/audit/audit.log``
in auditd's RAW format: mostly records that have nothing to do with SELinux
denials (audit-rule hits on execve and watched files with their
SYSCALL/EXECVE/CWD/PATH/PROCTITLE records, PAM's USER_* and CRED_* records,
LOGIN, SERVICE_START/STOP, BPF, NETFILTER_CFG, CONFIG_CHANGE, a USER_AVC
policyload notice, ANOM_ABEND, MAC_POLICY_LOAD), and about one event in
seven a denial event: AVC + SYSCALL + (CWD + PATH | SOCKADDR) + PROCTITLE.

Denials use types, classes and permissions that exist in the reference
policy (``/etc/selinux/default/policy/policy.33``), so audit2allow resolves
them; one domain (chronyd_t) is logged with ``permissive=1`` and several
records in one event, as a permissive domain is. Field values are encoded the
way the kernel does it (``audit_log_untrustedstring``: upper-case hex when a
value holds a space, a quote or a control character), so some comm, name,
cwd and proctitle fields are hex. Timestamps and serials only increase.

The same ``--seed`` and ``--lines`` give the same bytes. The file has exactly
``--lines`` lines.

    python bench/gen.py --groups 50000 -o bench/data/g50k.log [--policy policy.33]

writes a log of denials only, in exactly that many distinct (source type,
target type, class) groups (``bench/groups.py`` measures memory per group on
it): a hundred groups per source domain, one denial event per group (a
quarter of the groups get a second one), in a seeded random order. With
``--policy`` the types are real ones of that policy (so audit2allow -p keeps
every denial), else made-up names.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

#: Share of events that are denial events.
DENIAL_SHARE = 1 / 7
#: 2025-11-01T12:00:00Z: where the generated log starts.
DEFAULT_START = 1762000000.0

ARCH = "c000003e"
UNSET = 4294967295  # auid/ses of daemons (unset)


#: The x86_64 numbers of the syscalls this generator writes (the kernel's ABI:
#: they never change). They let the generator run without libaudit's bindings
#: (the unit tier runs anywhere); tests/integration/test_bench_gen.py holds
#: them equal to libaudit's.
X86_64_SYSCALLS = {"bind": 49, "bpf": 321, "connect": 42, "execve": 59, "ioctl": 16, "newfstatat": 262,
                   "openat": 257, "sendmsg": 46, "write": 1}


def sysno(name: str) -> int:
    return X86_64_SYSCALLS[name]  # KeyError: a name missing from the table


def enc(value: str) -> str:
    """A field value as the kernel logs an untrusted string: quoted, or upper-case hex."""
    if any(c == '"' or ord(c) < 0x21 or ord(c) > 0x7E for c in value):
        return value.encode("utf-8", "surrogateescape").hex().upper()
    return f'"{value}"'


def proctitle(argv: tuple[str, ...]) -> str:
    """The PROCTITLE value: argv joined by NULs, cut at 128 bytes, hex when it needs it."""
    raw = "\0".join(argv).encode()[:128]
    text = raw.decode("utf-8", "replace")
    return enc(text)


@dataclass(frozen=True, slots=True)
class Access:
    """One AVC record of a denial scenario."""

    perms: str
    tcontext: str
    tclass: str
    #: "name" (name/dev/ino), "path" (path/dev/ino), "cap" (capability=N),
    #: "bind" (src=PORT), "connect" (dest=PORT), "ioctl" (path + ioctlcmd)
    kind: str
    extra: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A recurring denial: who, what syscall, which objects."""

    key: str
    weight: int
    scontext: str
    comm: str
    exe: str
    argv: tuple[str, ...]
    uid: int
    syscall: str
    accesses: tuple[Access, ...]
    #: Directory holding the objects; a file name is drawn from ``names``.
    directory: str = ""
    names: tuple[str, ...] = ()
    cwd: str = "/"
    port: int = 0
    permissive: bool = False
    #: ``True``: the PATH items are PARENT + CREATE (a file being created).
    creates: bool = False
    dev: str = "dm-0"


SYS = "system_u:system_r:{}:s0"
OBJ = "system_u:object_r:{}:s0"
HOME = "unconfined_u:object_r:user_home_t:s0"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "httpd-home", 14, SYS.format("httpd_t"), "httpd", "/usr/sbin/httpd",
        ("/usr/sbin/httpd", "-DFOREGROUND"), 48, "openat",
        (Access("read", HOME, "file", "name"),),
        directory="/home/{user}/public_html",
        names=("index.html", "style.css", "app.js", "logo.png", "My Page.html", "about.html"),
    ),
    Scenario(
        "httpd-getattr", 6, SYS.format("httpd_t"), "httpd", "/usr/sbin/httpd",
        ("/usr/sbin/httpd", "-DFOREGROUND"), 48, "newfstatat",
        (Access("getattr", HOME, "file", "path"),),
        directory="/home/{user}/public_html/img",
        names=("a.png", "b.png", "banner 2.jpg", "icon.svg"),
    ),
    Scenario(
        "httpd-pgsql", 10, SYS.format("httpd_t"), "php-fpm", "/usr/sbin/php-fpm",
        ("php-fpm: pool www",), 33, "connect",
        (Access("name_connect", OBJ.format("postgresql_port_t"), "tcp_socket", "connect"),),
        port=5432,
    ),
    Scenario(
        "httpd-upload", 6, SYS.format("httpd_t"), "httpd", "/usr/sbin/httpd",
        ("/usr/sbin/httpd", "-DFOREGROUND"), 48, "openat",
        (Access("write", OBJ.format("httpd_sys_content_t"), "dir", "name"),),
        directory="/var/www/html/uploads",
        names=("photo.jpg", "report.pdf", "cv final.docx", "data.csv"),
        creates=True,
    ),
    Scenario(
        "httpd-ioctl", 2, SYS.format("httpd_t"), "httpd", "/usr/sbin/httpd",
        ("/usr/sbin/httpd", "-DFOREGROUND"), 48, "ioctl",
        (Access("ioctl", "unconfined_u:object_r:user_devpts_t:s0", "chr_file", "ioctl", "0x5401"),),
        directory="/dev/pts", names=("0", "1", "2"), dev="devpts",
    ),
    Scenario(
        "sshd-default", 6, "system_u:system_r:sshd_t:s0-s0:c0.c1023", "sshd", "/usr/sbin/sshd",
        ("sshd: alice [priv]",), 0, "newfstatat",
        (Access("getattr", OBJ.format("default_t"), "file", "path"),),
        directory="/srv/keys", names=("authorized_keys", "alice.pub", "bob.pub"),
    ),
    Scenario(
        "named-zone", 8, SYS.format("named_t"), "isc-net-0001", "/usr/sbin/named",
        ("/usr/sbin/named", "-u", "bind", "-f"), 25, "openat",
        (Access("write", OBJ.format("named_zone_t"), "dir", "name"),),
        directory="/var/named/master", cwd="/var/named",
        names=("example.com.zone.jnl", "example.org.zone.jnl", "10.in-addr.arpa.jnl"),
        creates=True,
    ),
    Scenario(
        "named-bind", 4, SYS.format("named_t"), "isc-net-0000", "/usr/sbin/named",
        ("/usr/sbin/named", "-u", "bind", "-f"), 25, "bind",
        (Access("name_bind", OBJ.format("http_cache_port_t"), "tcp_socket", "bind"),),
        port=8080,
    ),
    Scenario(
        "smbd-home", 7, SYS.format("smbd_t"), "smbd", "/usr/sbin/smbd",
        ("/usr/sbin/smbd", "--foreground", "--no-process-group"), 0, "openat",
        (Access("read", HOME, "file", "name"),),
        directory="/home/{user}/Documents", names=("budget.xlsx", "notes.txt", "Q3 report.odt"), cwd="/home/{user}",
    ),
    Scenario(
        "mysqld-tmp", 6, SYS.format("mysqld_t"), "mysqld", "/usr/sbin/mysqld",
        ("/usr/sbin/mysqld",), 27, "openat",
        (Access("write", "system_u:object_r:user_home_dir_t:s0", "dir", "name"),),
        directory="/home/mysql", names=("ibtmp1", "MYfd=42", "#sql-1f2_3.MAI"), cwd="/var/lib/mysql",
        creates=True,
    ),
    Scenario(
        "syslogd-cap", 5, SYS.format("syslogd_t"), "rsyslogd", "/usr/sbin/rsyslogd",
        ("/usr/sbin/rsyslogd", "-n", "-iNONE"), 0, "openat",
        (Access("fowner", SYS.format("syslogd_t"), "capability", "cap", "3"),),
        directory="/var/log/app", names=("app.log", "error.log"),
    ),
    Scenario(
        "dovecot-home", 5, SYS.format("dovecot_t"), "imap", "/usr/lib/dovecot/imap",
        ("dovecot/imap",), 1000, "openat",
        (Access("read write", HOME, "file", "name"),),
        directory="/home/{user}/Maildir/cur",
        names=("1762000000.M1P2.mail:2,S", "1762000001.M2P3.mail:2,", "dovecot.index.log"),
        cwd="/home/{user}/Maildir",
    ),
    Scenario(
        "chronyd-permissive", 4, SYS.format("chronyd_t"), "chronyd", "/usr/sbin/chronyd",
        ("/usr/sbin/chronyd", "-F", "1"), 104, "openat",
        (
            Access("write add_name", OBJ.format("etc_t"), "dir", "name"),
            Access("create", OBJ.format("etc_t"), "file", "name"),
            Access("write", OBJ.format("etc_t"), "file", "path"),
        ),
        directory="/etc/chrony", names=("chrony.drift.tmp", "rtc.tmp"),
        permissive=True, creates=True,
    ),
)

USERS = ("alice", "bob", "carol", "dave", "erin")
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/usr/bin/ls", ("ls", "--color=auto", "-la")),
    ("/usr/bin/grep", ("grep", "-r", "ERROR", "/var/log/syslog")),
    ("/usr/bin/bash", ("bash",)),
    ("/usr/bin/systemctl", ("systemctl", "status", "nginx.service")),
    ("/usr/bin/python3.11", ("python3", "/opt/app/manage.py", "runjob", "--queue", "default")),
    ("/usr/bin/git", ("git", "pull", "--ff-only")),
    ("/usr/bin/cat", ("cat", "/etc/os-release")),
    ("/usr/bin/ps", ("ps", "aux")),
    ("/usr/lib/firefox/firefox", ("/usr/lib/firefox/firefox", "-contentproc", "-childID", "3", "tab")),
    ("/usr/bin/tar", ("tar", "czf", "/backup/home.tgz", "/home")),
)
WATCHED = (
    ("/etc/passwd", "identity"), ("/etc/shadow", "identity"), ("/etc/group", "identity"),
    ("/etc/ssh/sshd_config", "sshd_config"), ("/etc/sudoers", "scope"), ("/etc/hosts", "system-locale"),
)
UNITS = ("nginx", "postgresql", "cron", "systemd-tmpfiles-clean", "logrotate", "apt-daily", "man-db", "user@1000")
UNCONFINED = "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"


@dataclass(frozen=True, slots=True)
class Stats:
    """What was written (the tests and bench/run.py check against it)."""

    lines: int
    events: int
    denial_events: int
    avc_records: int
    permissive_avcs: int
    first_serial: int
    last_serial: int


class _Writer:
    """Writes one event at a time, keeping the clock, serials and counts."""

    def __init__(self, out: TextIO, rng: random.Random, start: float, limit: int) -> None:
        self.out = out
        self.rng = rng
        self.ms = int(round(start * 1000))
        self.serial = rng.randint(1000, 90000)
        self.first_serial = self.serial + 1
        self.limit = limit
        self.lines = 0
        self.events = 0
        self.denials = 0
        self.avcs = 0
        self.permissive = 0
        self.buf: list[str] = []

    def stamp(self) -> str:
        self.ms += self.rng.choice((0, 1, 2, 3, 5, 8, 13, 40, 120, 700))
        self.serial += 1 if self.rng.random() < 0.97 else self.rng.randint(2, 40)
        return f"audit({self.ms // 1000}.{self.ms % 1000:03d}:{self.serial})"

    def emit(self, records: list[tuple[str, str]]) -> None:
        """Write one event: ``records`` are (type, body) pairs sharing a stamp."""
        stamp = self.stamp()
        for rtype, body in records:
            self.buf.append(f"type={rtype} msg={stamp}: {body}\n")
        self.lines += len(records)
        self.events += 1
        if len(self.buf) >= 8192:
            self.flush()

    def flush(self) -> None:
        self.out.write("".join(self.buf))
        self.buf.clear()

    def room(self) -> int:
        return self.limit - self.lines


def _syscall(rng: random.Random, *, nr: int, ok: bool, exitv: int, a0: str, items: int, ppid: int, pid: int,
             auid: int, uid: int, ses: int, tty: str, comm: str, exe: str, subj: str, key: str) -> str:
    ids = " ".join(f"{k}={uid}" for k in ("uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid"))
    return (
        f"arch={ARCH} syscall={nr} success={'yes' if ok else 'no'} exit={exitv} a0={a0} "
        f"a1={rng.randrange(0x7ff000000000, 0x7fffffffffff):x} a2={rng.choice(('0', '80000', '241', '1b6', '10'))} "
        f"a3=0 items={items} ppid={ppid} pid={pid} auid={auid} {ids} tty={tty} ses={ses} "
        f"comm={enc(comm)} exe={enc(exe)} subj={subj} key={key}"
    )


def _path(item: int, name: str, inode: int, mode: str, ouid: int, obj: str, nametype: str) -> str:
    if nametype == "CREATE":
        return (f"item={item} name={enc(name)} nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0")
    return (
        f"item={item} name={enc(name)} inode={inode} dev=fd:00 mode={mode} ouid={ouid} ogid={ouid} "
        f"rdev=00:00 obj={obj} nametype={nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
    )


def _sockaddr(port: int, addr: str = "7F000001") -> str:
    return f"saddr=0200{port:04X}{addr}0000000000000000"


def denial_event(w: _Writer, sc: Scenario) -> list[tuple[str, str]]:
    """AVC(s) + SYSCALL + CWD/PATH or SOCKADDR + PROCTITLE for one scenario."""
    rng = w.rng
    pid = rng.randint(900, 400000)
    user = rng.choice(USERS)
    directory = sc.directory.format(user=user)
    cwd = sc.cwd.format(user=user)
    name = rng.choice(sc.names) if sc.names else ""
    full = f"{directory}/{name}" if directory else ""
    inode = rng.randint(1000, 9_999_999)
    dir_inode = rng.randint(1000, 9_999_999)
    permissive = "1" if sc.permissive else "0"
    records: list[tuple[str, str]] = []
    for acc in sc.accesses:
        if acc.kind == "name":
            target = name if acc.tclass != "dir" or sc.creates is False else directory.rsplit("/", 1)[-1]
            ino = dir_inode if acc.tclass == "dir" and sc.creates else inode
            where = f"name={enc(target)} dev={enc(sc.dev)} ino={ino}"
        elif acc.kind == "path":
            where = f"path={enc(full)} dev={enc(sc.dev)} ino={inode}"
        elif acc.kind == "ioctl":
            where = f"path={enc(full)} dev={enc(sc.dev)} ino={int(name) + 3} ioctlcmd={acc.extra}"
        elif acc.kind == "cap":
            where = f"capability={acc.extra} "
        elif acc.kind == "bind":
            where = f"src={sc.port}"
        else:  # connect
            where = f"dest={sc.port}"
        records.append((
            "AVC",
            f"avc:  denied  {{ {acc.perms} }} for  pid={pid} comm={enc(sc.comm)} {where} "
            f"scontext={sc.scontext} tcontext={acc.tcontext} tclass={acc.tclass} permissive={permissive}",
        ))
    network = sc.syscall in ("connect", "bind")
    fd_only = sc.syscall == "ioctl"
    items = 0 if network or fd_only else (2 if sc.creates else 1)
    ok = sc.permissive
    exitv = (rng.randint(3, 40) if sc.syscall != "ioctl" else 0) if ok else -13
    a0 = "ffffff9c" if sc.syscall in ("openat", "newfstatat") else f"{rng.randint(3, 60):x}"
    records.append(("SYSCALL", _syscall(
        rng, nr=sysno(sc.syscall), ok=ok, exitv=exitv, a0=a0, items=items, ppid=1 if sc.uid == 0 else rng.randint(900, 4000),
        pid=pid, auid=UNSET, uid=sc.uid, ses=UNSET, tty="(none)", comm=sc.comm, exe=sc.exe,
        subj=sc.scontext, key="(null)",
    )))
    if network:
        records.append(("SOCKADDR", _sockaddr(sc.port, "00000000" if sc.syscall == "bind" else "7F000001")))
    elif not fd_only:
        records.append(("CWD", f"cwd={enc(cwd)}"))
        tobj = sc.accesses[0].tcontext
        if sc.creates:
            records.append(("PATH", _path(0, directory + "/", dir_inode, "040755", 0, tobj, "PARENT")))
            records.append(("PATH", _path(1, full, 0, "", 0, "", "CREATE")))
        else:
            mode = "040755" if sc.accesses[0].tclass == "dir" else "0100644"
            obj = OBJ.format("var_log_t") if sc.accesses[0].tclass == "capability" else tobj
            records.append(("PATH", _path(0, full, inode, mode, 1000, obj, "NORMAL")))
    records.append(("PROCTITLE", f"proctitle={proctitle(sc.argv)}"))
    return records


def _session(rng: random.Random) -> tuple[int, int, int, str]:
    return rng.randint(1000, 400000), rng.choice((0, 1000, 1001)), rng.randint(1, 900), rng.choice(USERS)


def exec_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    exe, argv = rng.choice(COMMANDS)
    comm = "Web Content" if "firefox" in exe else exe.rsplit("/", 1)[-1][:15]
    pid, auid, ses, user = _session(rng)
    args = " ".join(f"a{i}={enc(a)}" for i, a in enumerate(argv))
    cwd = rng.choice((f"/home/{user}", "/", "/var/log", f"/home/{user}/src/project one"))
    return [
        ("SYSCALL", _syscall(rng, nr=sysno("execve"), ok=True, exitv=0, a0=f"{rng.randint(0x55d000000000, 0x55dfffffffff):x}",
                             items=2, ppid=rng.randint(900, 400000), pid=pid, auid=auid, uid=auid, ses=ses,
                             tty=rng.choice(("pts0", "pts1", "(none)")), comm=comm, exe=exe, subj=UNCONFINED, key='"exec"')),
        ("EXECVE", f"argc={len(argv)} {args}"),
        ("CWD", f"cwd={enc(cwd)}"),
        ("PATH", _path(0, exe, rng.randint(1000, 999999), "0100755", 0, OBJ.format("bin_t"), "NORMAL")),
        ("PATH", _path(1, "/lib64/ld-linux-x86-64.so.2", 1312, "0100755", 0, OBJ.format("ld_so_t"), "NORMAL")),
        ("PROCTITLE", f"proctitle={proctitle(argv)}"),
    ]


def watch_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    path, key = rng.choice(WATCHED)
    exe, argv, subj, comm = rng.choice((
        ("/usr/sbin/sshd", ("sshd: bob [priv]",), "system_u:system_r:sshd_t:s0-s0:c0.c1023", "sshd"),
        ("/usr/bin/sudo", ("sudo", "-i"), UNCONFINED, "sudo"),
        ("/usr/sbin/crond", ("/usr/sbin/crond", "-n"), "system_u:system_r:crond_t:s0-s0:c0.c1023", "crond"),
        ("/usr/bin/vim.basic", ("vim", path), UNCONFINED, "vim"),
    ))
    pid, auid, ses, _user = _session(rng)
    return [
        ("SYSCALL", _syscall(rng, nr=sysno("openat"), ok=True, exitv=rng.randint(3, 12), a0="ffffff9c", items=1,
                             ppid=rng.randint(900, 4000), pid=pid, auid=auid, uid=0, ses=ses, tty="(none)", comm=comm,
                             exe=exe, subj=subj, key=f'"{key}"')),
        ("CWD", f"cwd={enc('/')}"),
        ("PATH", _path(0, path, rng.randint(1000, 999999), "0100644", 0, OBJ.format("etc_t"), "NORMAL")),
        ("PROCTITLE", f"proctitle={proctitle(argv)}"),
    ]


def pam_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    rtype = rng.choice(("USER_ACCT", "USER_START", "USER_END", "CRED_ACQ", "CRED_DISP", "CRED_REFR", "USER_AUTH", "USER_LOGIN"))
    op = {
        "USER_ACCT": "PAM:accounting", "USER_START": "PAM:session_open", "USER_END": "PAM:session_close",
        "CRED_ACQ": "PAM:setcred", "CRED_DISP": "PAM:setcred", "CRED_REFR": "PAM:setcred",
        "USER_AUTH": "PAM:authentication", "USER_LOGIN": "login",
    }[rtype]
    pid, auid, ses, user = _session(rng)
    exe, subj, term, host = rng.choice((
        ("/usr/sbin/sshd", "system_u:system_r:sshd_t:s0-s0:c0.c1023", "ssh", "203.0.113.7"),
        ("/usr/sbin/cron", "system_u:system_r:crond_t:s0-s0:c0.c1023", "cron", "?"),
        ("/usr/bin/sudo", UNCONFINED, "/dev/pts/0", "?"),
    ))
    res = "success" if rng.random() < 0.97 else "failed"
    return [(rtype, (
        f"pid={pid} uid=0 auid={auid} ses={ses} subj={subj} msg='op={op} grantors=pam_unix,pam_permit "
        f"acct={enc(user)} exe={enc(exe)} hostname={host} addr={host} terminal={term} res={res}'"
    ))]


def login_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    pid, auid, ses, _ = _session(rng)
    return [("LOGIN", f"pid={pid} uid=0 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 old-auid={UNSET} "
                      f"auid={auid} tty=(none) old-ses={UNSET} ses={ses} res=1")]


def service_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    rtype = rng.choice(("SERVICE_START", "SERVICE_STOP"))
    return [(rtype, (
        f"pid=1 uid=0 auid={UNSET} ses={UNSET} subj=system_u:system_r:init_t:s0 msg='unit={rng.choice(UNITS)} "
        f"comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'"
    ))]


def bpf_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    prog = rng.randint(10, 9000)
    if rng.random() < 0.5:
        return [("BPF", f"prog-id={prog} op=UNLOAD")]
    return [
        ("BPF", f"prog-id={prog} op=LOAD"),
        ("SYSCALL", _syscall(rng, nr=sysno("bpf"), ok=True, exitv=rng.randint(10, 60), a0="5", items=0, ppid=0, pid=1,
                             auid=UNSET, uid=0, ses=UNSET, tty="(none)", comm="systemd", exe="/usr/lib/systemd/systemd",
                             subj="system_u:system_r:init_t:s0", key="(null)")),
        ("PROCTITLE", "proctitle=2F7362696E2F696E6974"),
    ]


def netfilter_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    pid = rng.randint(900, 400000)
    return [
        ("NETFILTER_CFG", f"table=firewalld:{rng.randint(2, 90)} family=1 entries={rng.randint(1, 40)} "
                          f"op=nft_register_rule pid={pid} subj=system_u:system_r:firewalld_t:s0 comm=\"firewalld\""),
        ("SYSCALL", _syscall(rng, nr=sysno("sendmsg"), ok=True, exitv=rng.randint(100, 9000), a0="7", items=0, ppid=1, pid=pid,
                             auid=UNSET, uid=0, ses=UNSET, tty="(none)", comm="firewalld", exe="/usr/bin/python3.11",
                             subj="system_u:system_r:firewalld_t:s0", key="(null)")),
        ("PROCTITLE", f"proctitle={proctitle(('/usr/bin/python3', '-s', '/usr/sbin/firewalld', '--nofork', '--nopid'))}"),
    ]


def config_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    key = rng.choice(("exec", "identity", "sshd_config", "scope"))
    return [("CONFIG_CHANGE",
             f"auid={UNSET} ses={UNSET} subj=system_u:system_r:auditctl_t:s0 op=add_rule key=\"{key}\" list=4 res=1")]


def rare_event(w: _Writer) -> list[tuple[str, str]]:
    rng = w.rng
    kind = rng.randrange(3)
    if kind == 0:  # not a denial: userspace AVC notice
        return [("USER_AVC", (
            f"pid=1 uid=0 auid={UNSET} ses={UNSET} subj=system_u:system_r:init_t:s0 msg='avc:  received policyload "
            f"notice (seqno={rng.randint(2, 40)})  exe=\"/usr/lib/systemd/systemd\" sauid=0 hostname=? addr=? terminal=?'"
        ))]
    if kind == 1:
        pid = rng.randint(900, 400000)
        return [("ANOM_ABEND", f"auid=1000 uid=1000 gid=1000 ses=3 subj={UNCONFINED} pid={pid} comm={enc('Web Content')} "
                               "exe=\"/usr/lib/firefox/firefox\" sig=11 res=1")]
    return [
        ("MAC_POLICY_LOAD", "auid=0 ses=2 lsm=selinux res=1"),
        ("SYSCALL", _syscall(rng, nr=sysno("write"), ok=True, exitv=3571402, a0="4", items=0, ppid=2201, pid=2250, auid=0,
                             uid=0, ses=2, tty="pts0", comm="load_policy", exe="/usr/sbin/load_policy",
                             subj="unconfined_u:unconfined_r:load_policy_t:s0-s0:c0.c1023", key="(null)")),
        ("PROCTITLE", f"proctitle={proctitle(('/sbin/load_policy',))}"),
    ]


NOISE: tuple[tuple[int, Callable[[_Writer], list[tuple[str, str]]]], ...] = (
    (30, exec_event),
    (14, watch_event),
    (34, pam_event),
    (4, login_event),
    (8, service_event),
    (5, bpf_event),
    (2, netfilter_event),
    (1, config_event),
    (1, rare_event),
)


def write_log(out: TextIO, lines: int, *, seed: int = 1, start: float = DEFAULT_START) -> Stats:
    """Write exactly ``lines`` lines of audit log to ``out``; deterministic for ``seed``."""
    if lines < 0:
        raise ValueError("lines must be >= 0")
    rng = random.Random(seed)
    w = _Writer(out, rng, start, lines)
    noise_funcs = [f for _, f in NOISE]
    noise_weights = [n for n, _ in NOISE]
    sc_weights = [s.weight for s in SCENARIOS]
    while w.room() > 0:
        if rng.random() < DENIAL_SHARE:
            records = denial_event(w, rng.choices(SCENARIOS, sc_weights)[0])
            is_denial = True
        else:
            records = rng.choices(noise_funcs, noise_weights)[0](w)
            is_denial = False
        if len(records) > w.room():
            # Fill the last few lines with one-record events.
            records = service_event(w)
            is_denial = False
        if is_denial:
            w.denials += 1
            avcs = [body for rtype, body in records if rtype == "AVC"]
            w.avcs += len(avcs)
            w.permissive += sum(1 for body in avcs if body.endswith("permissive=1"))
        w.emit(records)
    w.flush()
    return Stats(w.lines, w.events, w.denials, w.avcs, w.permissive, w.first_serial, w.serial)


#: Distinct groups per source domain in a ``--groups`` log.
GROUPS_PER_DOMAIN = 100
#: Every this many groups, one gets a second denial (another perm, comm and path).
GROUP_REPEAT_EVERY = 4


@dataclass(frozen=True, slots=True)
class GroupTypes:
    """The type names of a ``--groups`` log: real ones read from a policy (so
    that ``audit2allow -p POLICY`` keeps every denial), else made up."""

    domains: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()

    @classmethod
    def from_policy(cls, policy: Path) -> GroupTypes:
        """The domains ``system_r`` may enter (the contexts must be valid) and the
        members of the ``file_type`` and ``port_type`` attributes (setools)."""
        import setools

        p = setools.SELinuxPolicy(str(policy))
        attrs = {str(a): a for a in p.typeattributes()}

        def members(name: str) -> set[str]:
            return {str(t) for t in attrs[name].expand()} if name in attrs else set()

        system_r = {str(t) for r in p.roles() if str(r) == "system_r" for t in r.types()}
        return cls(tuple(sorted(members("domain") & system_r)), tuple(sorted(members("file_type"))),
                   tuple(sorted(members("port_type"))))

    def pair(self, i: int) -> tuple[str, str]:
        """Source and target type of group ``i``: distinct (source, target, class) for each ``i``."""
        d = i // GROUPS_PER_DOMAIN
        if not self.domains:
            return f"gd{d:05d}_t", f"go{i:07d}_t"
        nd = len(self.domains)
        # Group i's class is i % 4: a domain has 25 groups of each class per
        # round; round r (a domain reused) takes the next 25 target types.
        j = (d // nd) * (GROUPS_PER_DOMAIN // 4) + (i % GROUPS_PER_DOMAIN) // 4
        targets = self.ports if i % 4 == 2 else self.files
        if j >= len(targets):
            raise ValueError(f"group {i}: the policy has too few types for this many groups")
        return self.domains[d % nd], targets[j]


def group_event(w: _Writer, i: int, k: int, types: GroupTypes = GroupTypes()) -> list[tuple[str, str]]:
    """Denial ``k`` (0 or 1) of group ``i`` of a ``--groups`` log: a source
    domain shared by ``GROUPS_PER_DOMAIN`` groups and a target type and class of
    the group's own, with the SYSCALL, CWD/PATH or SOCKADDR and PROCTITLE
    records of a real denial; comm, exe and paths name the group."""
    rng = w.rng
    d = i // GROUPS_PER_DOMAIN
    stype, ttype = types.pair(i)
    scontext = SYS.format(stype)
    tcontext = OBJ.format(ttype)
    comm = f"gd{d}" if k == 0 else f"gd{d}-w{k}"
    exe = f"/usr/sbin/gd{d}"
    argv = (exe, "--serve", f"--instance=gd{d}")
    pid = rng.randint(900, 400000)
    kind = i % 4
    items = 0
    tail: list[tuple[str, str]] = []
    directory = f"/srv/gd{d}/go{i}"
    if kind == 0:  # a file read (then read + open)
        full = f"{directory}/data {k}.db"
        perms, tclass, sysname = ("read" if k == 0 else "read open"), "file", "openat"
        where = f"name={enc(full.rsplit('/', 1)[1])} dev=\"dm-0\" ino={rng.randint(1000, 9_999_999)}"
        items = 1
        tail = [("CWD", f"cwd={enc(directory)}"),
                ("PATH", _path(0, full, rng.randint(1000, 9_999_999), "0100644", 0, tcontext, "NORMAL"))]
    elif kind == 1:  # a file created in a directory
        full = f"{directory}/new-{k}.tmp"
        perms, tclass, sysname = ("write" if k == 0 else "write add_name"), "dir", "openat"
        where = f"name={enc(f'go{i}')} dev=\"dm-0\" ino={rng.randint(1000, 9_999_999)}"
        items = 2
        tail = [("CWD", f"cwd={enc('/')}"),
                ("PATH", _path(0, directory + "/", rng.randint(1000, 9_999_999), "040755", 0, tcontext, "PARENT")),
                ("PATH", _path(1, full, 0, "", 0, "", "CREATE"))]
    elif kind == 2:  # a TCP connection to a port of its own
        port = 1024 + (i * 7 + k) % 64000
        perms, tclass, sysname = "name_connect", "tcp_socket", "connect"
        where = f"dest={port}"
        tail = [("SOCKADDR", _sockaddr(port))]
    else:  # a socket file
        full = f"{directory}/sock{k}"
        perms, tclass, sysname = ("write" if k == 0 else "write getattr"), "sock_file", "connect"
        where = f"path={enc(full)} dev=\"dm-0\" ino={rng.randint(1000, 9_999_999)}"
        items = 1
        tail = [("CWD", f"cwd={enc(directory)}"),
                ("PATH", _path(0, full, rng.randint(1000, 9_999_999), "0140777", 0, tcontext, "NORMAL"))]
    records = [("AVC", f"avc:  denied  {{ {perms} }} for  pid={pid} comm={enc(comm)} {where} "
                       f"scontext={scontext} tcontext={tcontext} tclass={tclass} permissive=0")]
    records.append(("SYSCALL", _syscall(
        rng, nr=sysno(sysname), ok=False, exitv=-13, a0="ffffff9c" if sysname == "openat" else f"{rng.randint(3, 60):x}",
        items=items, ppid=1, pid=pid, auid=UNSET, uid=0, ses=UNSET, tty="(none)", comm=comm, exe=exe,
        subj=scontext, key="(null)")))
    records.extend(tail)
    records.append(("PROCTITLE", f"proctitle={proctitle(argv)}"))
    return records


def write_groups_log(out: TextIO, groups: int, *, seed: int = 1, start: float = DEFAULT_START,
                     types: GroupTypes = GroupTypes()) -> Stats:
    """A log of denials only, in exactly ``groups`` distinct (source, target,
    class) groups (``avcfix why``'s groups, audit2allow's rules): one denial
    event per group, a second one for every ``GROUP_REPEAT_EVERY``-th group, in
    a seeded random order. Deterministic for ``seed`` and ``types``."""
    if groups < 0:
        raise ValueError("groups must be >= 0")
    if groups:
        types.pair(groups - 1)  # enough types? (raises before anything is written)
    rng = random.Random(seed)
    order = [(i, 0) for i in range(groups)] + [(i, 1) for i in range(0, groups, GROUP_REPEAT_EVERY)]
    rng.shuffle(order)
    w = _Writer(out, rng, start, 1 << 62)
    for i, k in order:
        w.denials += 1
        w.avcs += 1
        w.emit(group_event(w, i, k, types))
    w.flush()
    return Stats(w.lines, w.events, w.denials, w.avcs, w.permissive, w.first_serial, w.serial)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--lines", type=int, help="number of lines to write")
    what.add_argument("--groups", type=int, help="write a log of denials only, in this many distinct groups")
    ap.add_argument("--policy", type=Path, help="with --groups: take the type names from this binary policy")
    ap.add_argument("-o", "--output", type=Path, required=True, help="the log file to write ('-' for stdout)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=float, default=DEFAULT_START, help="epoch seconds of the first event")
    ap.add_argument("--stats", type=Path, help="also write the counts as JSON here")
    args = ap.parse_args(argv)
    if (args.lines if args.groups is None else args.groups) < 0:
        ap.error("--lines and --groups must be >= 0")
    if args.policy is not None and args.groups is None:
        ap.error("--policy goes with --groups")
    types = GroupTypes.from_policy(args.policy) if args.policy is not None else GroupTypes()
    if args.groups:
        try:
            types.pair(args.groups - 1)
        except ValueError as exc:
            ap.error(str(exc))

    def write(fh: TextIO) -> Stats:
        if args.groups is not None:
            return write_groups_log(fh, args.groups, seed=args.seed, start=args.start, types=types)
        return write_log(fh, args.lines, seed=args.seed, start=args.start)

    if str(args.output) == "-":
        stats = write(sys.stdout)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with args.output.open("w", encoding="utf-8", newline="\n") as fh:
            stats = write(fh)
    if args.stats:
        args.stats.write_text(json.dumps(asdict(stats), indent=2, sort_keys=True) + "\n")
    print(json.dumps(asdict(stats), sort_keys=True), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
