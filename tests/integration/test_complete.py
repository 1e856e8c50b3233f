"""Permission completion (avcfix/policy/complete.py) on real records and real policies.

The audit lines are written here as the kernel writes them (x86_64: open is
syscall 2, openat 257, stat 4, mkdir 83, bind 49, connect 42; flags in a1 for
open, a2 for openat; O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC = 0x80241, O_RDONLY|
O_CLOEXEC = 0x80000). They go through the real scanner, and every policy
question through the real facts (the policy index, and setools' PolicyFacts)
of Debian's reference policy with the Eucalyptus fixture module, and of
Fedora's targeted policy. Expected permissions are the kernel's checks for the
syscall (may_create: dir search write add_name, file create; open: the access
mode's read/write, open) inside the refpolicy set named, minus what the policy
grants already; the preconditions (what the policy grants) are asserted with
the same facts, and were checked with sesearch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avcfix.audit.api import ScanStats, scan
from avcfix.audit.group import group_denials
from avcfix.explain.model import Finding, Reason
from avcfix.facts import open_facts
from avcfix.index.setools_facts import PolicyFacts
from avcfix.policy.complete import Completion, complete
from avcfix.policy.generate import generate_module
from avcfix.policy.render import render_te
from avcfix.toolchain.store import PolicyRoot

EUCANETD = "system_u:system_r:eucalyptus_eucanetd_t:s0"
TAIL = ("items={items} ppid=1 pid=2051 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
        'fsgid=0 tty=(none) ses=4294967295 comm="eucanetd" exe="/usr/sbin/eucanetd" subj={scon} key=(null)')


def event(serial: int, avc: str, *, nr: int, args: tuple[str, str, str, str], paths=(), scon=EUCANETD,
          arch="c000003e", extra=()) -> list[str]:
    ts = f"1700000000.{serial:03d}:{serial}"
    a0, a1, a2, a3 = args
    lines = [f"type=AVC msg=audit({ts}): avc:  denied  {avc} scontext={scon} permissive=0",
             f"type=SYSCALL msg=audit({ts}): arch={arch} syscall={nr} success=no exit=-13 a0={a0} a1={a1} "
             f"a2={a2} a3={a3} " + TAIL.format(items=len(paths), scon=scon)]
    lines += [f"type={kind} msg=audit({ts}): {text}" for kind, text in extra]
    if paths:
        lines.append(f'type=CWD msg=audit({ts}): cwd="/"')
    for i, (name, nametype) in enumerate(paths):
        lines.append(f'type=PATH msg=audit({ts}): item={i} name="{name}" nametype={nametype} '
                     "cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0")
    return lines


def completions(tmp_path: Path, lines: list[str], facts) -> tuple[Completion, ...]:
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    groups = group_denials(scan([str(log)], stats=ScanStats()))
    return complete([Finding(g, g.perms, Reason.TE_RULE) for g in groups], facts)


def perms(found, target: str, tclass: str) -> set[str]:
    return {c.perm for c in found if (c.target, c.tclass) == (target, tclass)}


@pytest.fixture(scope="module", params=["index", "setools"])
def euca_facts(request, euca_root: PolicyRoot):
    if request.param == "index":
        facts = open_facts(None, euca_root.root)
    else:
        facts = PolicyFacts(euca_root.policy_file, euca_root.etc_dir / "contexts" / "files" / "file_contexts")
    yield facts
    facts.close()


PID_SEARCH = 'dir search name="eucalyptus" dev="tmpfs" ino=1 tcontext=system_u:object_r:eucalyptus_var_run_t:s0 ' \
             "tclass=dir"
STATE_SEARCH = ('{ search } for  pid=2051 comm="eucanetd" name="eucalyptus" dev="vda1" ino=2 '
                "tcontext=system_u:object_r:eucalyptus_var_lib_t:s0 tclass=dir")


def test_create_in_open_completes_dir_and_file(tmp_path, euca_facts) -> None:
    """The e2e stand-in's first denial: open(PID_FILE, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC), search
    denied on /run/eucalyptus: the rest of its 8 denials (dir write add_name, file create open write)."""
    lines = event(1, '{ search } for  pid=2051 comm="eucanetd" name="eucalyptus" dev="tmpfs" ino=1 '
                  "tcontext=system_u:object_r:eucalyptus_var_run_t:s0 tclass=dir",
                  nr=2, args=("7ffd5e1c2a10", "80241", "1a4", "0"),
                  paths=[("/var/run/eucalyptus/eucanetd.pid", "UNKNOWN")])
    found = completions(tmp_path, lines, euca_facts)
    assert not euca_facts.allows("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "dir", ["write"])
    assert perms(found, "eucalyptus_var_run_t", "dir") == {"write", "add_name"}
    assert perms(found, "eucalyptus_var_run_t", "file") == {"create", "open", "getattr", "write"}
    assert {c.set for c in found} == {"add_entry_dir_perms", "create_file_perms", "write_file_perms"}
    assert {c.after for c in found} == {"eucalyptus_var_run_t:dir search"}


def test_search_in_read_open_completes_read_file_perms(tmp_path, euca_facts) -> None:
    """open(STATE_FILE, O_RDONLY|O_CLOEXEC), search denied on its parent, whose file_contexts type
    (/var/lib/eucalyptus(/.*)? in avcfix/lab/policies/eucalyptus.fc) is the directory's: read_file_perms."""
    lines = event(2, STATE_SEARCH, nr=2, args=("7ffd5e1c2a10", "80000", "0", "0"),
                  paths=[("/var/lib/eucalyptus/global_network_info.xml", "UNKNOWN")])
    found = completions(tmp_path, lines, euca_facts)
    assert perms(found, "eucalyptus_var_lib_t", "file") == {"open", "getattr", "read", "lock", "ioctl"}
    assert {c.set for c in found} == {"read_file_perms"}


def test_openat_flags_are_a2(tmp_path, euca_facts) -> None:
    lines = event(3, STATE_SEARCH, nr=257, args=("ffffff9c", "7ffd5e1c2a10", "80000", "0"),
                  paths=[("/var/lib/eucalyptus/global_network_info.xml", "UNKNOWN")])
    assert perms(completions(tmp_path, lines, euca_facts), "eucalyptus_var_lib_t", "file") >= {"read", "open"}


@pytest.mark.parametrize("case", ["stat", "other_label", "other_dirfd", "unknown_arch", "not_parent", "permissive"])
def test_events_that_prove_nothing_get_nothing(tmp_path, euca_facts, case) -> None:
    nr, args, path, arch, avc = 2, ("7ffd5e1c2a10", "80000", "0", "0"), "/var/lib/eucalyptus/x.xml", "c000003e", \
        STATE_SEARCH
    if case == "stat":  # a search in stat(): no open
        nr = 4
    elif case == "other_label":  # a read-only open of a file file_contexts labels another type
        path = "/usr/share/eucalyptus/x.xml"
    elif case == "other_dirfd":  # openat relative to another directory fd
        nr, args, path = 257, ("5", "7ffd5e1c2a10", "80000", "0"), "x.xml"
    elif case == "unknown_arch":  # parisc: other O_* values
        arch = "0000000f"
    elif case == "not_parent":  # the searched directory is not the file's parent
        path = "/var/lib/eucalyptus/sub/x.xml"
    lines = event(4, avc, nr=nr, args=args, paths=[(path, "UNKNOWN")], arch=arch)
    if case == "permissive":
        lines[0] = lines[0].replace("permissive=0", "permissive=1")
    assert completions(tmp_path, lines, euca_facts) == ()


#: The e2e VM's real kernel (Debian 12, enforcing; tests/e2e/eucanetd/eucanetd.c), audit with no
#: syscall rules: every event has items=0, no PATH record. Copied from a run's audit.log, times and
#: pids kept. The loop saw them one per iteration, in this order.
VM_EVENTS = {
    "run_search": (
        'type=AVC msg=audit(1796559954.712:39): avc:  denied  { search } for  pid=532 comm="eucanetd" '
        'name="eucalyptus" dev="tmpfs" ino=654 scontext=system_u:system_r:eucalyptus_eucanetd_t:s0 '
        "tcontext=system_u:object_r:eucalyptus_var_run_t:s0 tclass=dir permissive=0",
        "1796559954.712:39", "80241", "532", "1a4"),
    "run_write": (
        'type=AVC msg=audit(1796560060.532:44): avc:  denied  { write } for  pid=558 comm="eucanetd" '
        'name="eucalyptus" dev="tmpfs" ino=657 scontext=system_u:system_r:eucalyptus_eucanetd_t:s0 '
        "tcontext=system_u:object_r:eucalyptus_var_run_t:s0 tclass=dir permissive=0",
        "1796560060.532:44", "80241", "558", "1a4"),
    "lib_search": (
        'type=AVC msg=audit(1796560474.996:64): avc:  denied  { search } for  pid=667 comm="eucanetd" '
        'name="eucalyptus" dev="vda" ino=25963 scontext=system_u:system_r:eucalyptus_eucanetd_t:s0 '
        "tcontext=system_u:object_r:eucalyptus_var_lib_t:s0 tclass=dir permissive=0",
        "1796560474.996:64", "80000", "667", "0"),
    "lib_read": (
        'type=AVC msg=audit(1796560565.336:69): avc:  denied  { read } for  pid=694 comm="eucanetd" '
        'name="global_network_info.xml" dev="vda" ino=25964 scontext=system_u:system_r:eucalyptus_eucanetd_t:s0 '
        "tcontext=system_u:object_r:eucalyptus_var_lib_t:s0 tclass=file permissive=0",
        "1796560565.336:69", "80000", "694", "0"),
}


def vm_event(name: str) -> list[str]:
    avc, ts, a2, pid, a3 = VM_EVENTS[name]
    return [avc, f"type=SYSCALL msg=audit({ts}): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c "
            f"a1=49d090 a2={a2} a3={a3} items=0 ppid=1 pid={pid} auid=4294967295 uid=0 gid=0 euid=0 suid=0 "
            'fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="eucanetd" exe="/usr/sbin/eucanetd" '
            "subj=system_u:system_r:eucalyptus_eucanetd_t:s0 key=(null)",
            f'type=PROCTITLE msg=audit({ts}): proctitle="/usr/sbin/eucanetd"']


def test_real_kernel_events_without_path_records(tmp_path, euca_facts) -> None:
    """With no PATH record, only what the kernel itself proves: a dir write in an O_CREAT openat is
    may_create's check of the new file's parent (dir add_name search + file create open getattr
    write on the directory's type: no type_transition for eucanetd_t there); a file read in an
    open is read_file_perms; a dir search proves no parent (it may be any directory on the way)."""
    assert completions(tmp_path, vm_event("run_search"), euca_facts) == ()
    assert completions(tmp_path, vm_event("lib_search"), euca_facts) == ()
    found = completions(tmp_path, vm_event("run_write"), euca_facts)
    assert perms(found, "eucalyptus_var_run_t", "dir") == {"add_name", "search"} - set(
        euca_facts.granted_perms("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "dir"))
    assert perms(found, "eucalyptus_var_run_t", "file") == {"create", "open", "getattr", "write"}
    found = completions(tmp_path, vm_event("lib_read"), euca_facts)
    assert perms(found, "eucalyptus_var_lib_t", "file") == {"open", "getattr", "lock", "ioctl"}


def test_add_name_in_mkdir_completes_write_search(tmp_path, euca_facts) -> None:
    lines = event(5, '{ add_name } for  pid=2051 comm="eucanetd" name="new" dev="vda1" ino=2 '
                  "tcontext=system_u:object_r:eucalyptus_var_lib_t:s0 tclass=dir",
                  nr=83, args=("7ffd5e1c2a10", "1ed", "0", "0"), paths=[("/var/lib/eucalyptus/new", "CREATE")])
    found = completions(tmp_path, lines, euca_facts)
    assert perms(found, "eucalyptus_var_lib_t", "dir") == {"write", "search"}
    assert perms(found, "eucalyptus_var_lib_t", "file") == set()  # mkdir creates no file


def test_name_bind_completes_node_bind(tmp_path, euca_facts) -> None:
    """bind(0.0.0.0:3306) by eucanetd: Debian's refpolicy has no nodecon, so the node is the
    initial SID node's type (node_t: seinfo --initialsid node)."""
    assert not euca_facts.allows("eucalyptus_eucanetd_t", "node_t", "tcp_socket", ["node_bind"])
    lines = event(6, '{ name_bind } for  pid=2051 comm="eucanetd" src=3306 '
                  "tcontext=system_u:object_r:mysqld_port_t:s0 tclass=tcp_socket",
                  nr=49, args=("3", "7ffd5e1c2a10", "10", "0"),
                  extra=[("SOCKADDR", "saddr=02000CEA000000000000000000000000")])
    found = completions(tmp_path, lines, euca_facts)
    assert [(c.target, c.tclass, c.perm, c.set) for c in found] == [
        ("node_t", "tcp_socket", "node_bind", "corenet_bind_node")]


def test_connect_completes_name_connect(tmp_path, euca_facts) -> None:
    """connect(127.0.0.1:3306): the port's portcon type (mysqld_port_t: seinfo --portcon 3306)."""
    assert not euca_facts.allows("eucalyptus_eucanetd_t", "mysqld_port_t", "tcp_socket", ["name_connect"])
    lines = event(7, '{ connect } for  pid=2051 comm="eucanetd" '
                  f"tcontext={EUCANETD} tclass=tcp_socket",
                  nr=42, args=("3", "7ffd5e1c2a10", "10", "0"),
                  extra=[("SOCKADDR", "saddr=02000CEA7F0000010000000000000000")])
    found = completions(tmp_path, lines, euca_facts)
    assert [(c.target, c.tclass, c.perm) for c in found] == [("mysqld_port_t", "tcp_socket", "name_connect")]


def test_type_transition_names_the_new_files_type(euca_facts) -> None:
    """sesearch -T -s httpd_t -t var_run_t -c file: type_transition httpd_t var_run_t:file httpd_runtime_t."""
    assert euca_facts.type_transition("httpd_t", "var_run_t", "file", "x.pid") == "httpd_runtime_t"
    assert euca_facts.type_transition("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "file", "x") is None


def test_fedora_read_open_of_web_content(tmp_path, fedora_root: PolicyRoot) -> None:
    """Fedora targeted: chronyd_t opening /var/www/html/index.html for reading, search denied on
    /var/www/html (httpd_sys_content_t, its file_contexts type too)."""
    facts = open_facts(None, fedora_root.root)
    try:
        assert not facts.allows("chronyd_t", "httpd_sys_content_t", "file", ["read"])
        lines = event(8, '{ search } for  pid=2051 comm="chronyd" name="html" dev="vda1" ino=2 '
                      "tcontext=system_u:object_r:httpd_sys_content_t:s0 tclass=dir",
                      nr=257, args=("ffffff9c", "7ffd5e1c2a10", "80000", "0"),
                      paths=[("/var/www/html/index.html", "UNKNOWN")], scon="system_u:system_r:chronyd_t:s0")
        found = completions(tmp_path, lines, facts)
        want = {"open", "read", "getattr", "lock", "ioctl"} - set(facts.granted_perms("chronyd_t",
                                                                                     "httpd_sys_content_t", "file"))
        assert perms(found, "httpd_sys_content_t", "file") == want and "read" in want
    finally:
        facts.close()


def test_generate_marks_completions_and_rejects_hostile_names() -> None:
    from policy_data import finding, group

    g = group("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "dir", ("search",))
    good = Completion("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "file", "create",
                      "eucalyptus_var_run_t:dir search", "create_file_perms")
    bad = [Completion("eucalyptus_eucanetd_t", "eucalyptus_var_run_t", "file", "manage_file_perms", "x", "y"),
           Completion("eucalyptus_eucanetd_t", "x;allow a b:c d", "file", "read", "x", "y")]
    plain = generate_module([finding(g)], name="m")
    out = generate_module([finding(g)], name="m", completions=[good, *bad])
    te = render_te(out.module)
    assert out.completed == (good,)
    assert "# completed: { create } after denied eucalyptus_var_run_t:dir search (refpolicy create_file_perms)" in te
    assert "allow eucalyptus_eucanetd_t eucalyptus_var_run_t:file create;" in te
    assert "manage_file_perms" not in te.split("Rejected")[0] and "allow a b" not in te.replace("#", "\n#").split(
        "Rejected")[0]
    assert len(out.rejected) == 2
    # no completions: the module is exactly what it was
    assert render_te(generate_module([finding(g)], name="m", completions=()).module) == render_te(plain.module)


def test_build_complete_json_and_exact_is_byte_identical(tmp_path, euca_root: PolicyRoot) -> None:
    """avcfix build: exact by default (--exact gives the same bytes); --complete adds the marked
    permissions, lists them in the JSON, and the module compiles (checkmodule, run by build)."""
    import json
    import subprocess
    import sys

    lines = event(9, '{ search } for  pid=2051 comm="eucanetd" name="eucalyptus" dev="tmpfs" ino=1 '
                  "tcontext=system_u:object_r:eucalyptus_var_run_t:s0 tclass=dir",
                  nr=2, args=("7ffd5e1c2a10", "80241", "1a4", "0"),
                  paths=[("/var/run/eucalyptus/eucanetd.pid", "UNKNOWN")])
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    docs, tes = {}, {}
    for mode in ("default", "--exact", "--complete"):
        out = tmp_path / mode.strip("-")
        argv = [sys.executable, "-m", "avcfix", "build", "eucanetd", str(log), "--root", str(euca_root.root),
                "--out-dir", str(out), "--json"] + ([mode] if mode != "default" else [])
        cp = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stderr
        docs[mode] = json.loads(cp.stdout)["modules"][0]
        tes[mode] = (out / "eucanetd_local.te").read_bytes()
    assert tes["default"] == tes["--exact"] and docs["default"]["completed"] == docs["--exact"]["completed"] == []
    done = docs["--complete"]
    assert done["compiled"] and {(c["target"], c["tclass"], c["perm"]) for c in done["completed"]} == {
        ("eucalyptus_var_run_t", "dir", "write"), ("eucalyptus_var_run_t", "dir", "add_name"),
        ("eucalyptus_var_run_t", "file", "create"), ("eucalyptus_var_run_t", "file", "open"),
        ("eucalyptus_var_run_t", "file", "getattr"), ("eucalyptus_var_run_t", "file", "write")}
    assert b"# completed: { create getattr open } after denied eucalyptus_var_run_t:dir search" in tes["--complete"]
