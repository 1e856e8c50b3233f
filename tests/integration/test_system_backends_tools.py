"""The real backends as far as this machine allows: auditctl, a private policy store,
the executable's label (the argv and parsing: tests/unit/test_system_backends.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avcfix import proc
from avcfix.system import auditctl
from avcfix.system.semanage import SemanageAdmin
from avcfix.toolchain.store import PolicyRoot

LIVE = PolicyRoot(Path("/"), "default")


def test_auditctl_on_this_machine_parses_or_is_absent() -> None:
    st = auditctl.read_status()
    if st is None:
        pytest.skip("auditctl -s cannot run here")
    assert st.enabled is not None and st.lost is not None


@pytest.mark.slow
def test_permissive_mark_in_a_private_store(store_root: PolicyRoot) -> None:
    """Against a temporary store: the mark is the CIL module semanage would install, checked with setools."""
    import setools

    results: list[proc.Result] = []
    admin = SemanageAdmin(store_root, record=results.append)
    assert admin.dontaudit_enabled()
    assert "ntpd_t" not in admin.permissive_domains()
    admin.set_permissive("ntpd_t", True)
    assert "ntpd_t" in admin.permissive_domains()
    p = setools.SELinuxPolicy(str(store_root.policy_file))
    assert p.lookup_type("ntpd_t").ispermissive
    admin.set_permissive("ntpd_t", False)
    assert "ntpd_t" not in admin.permissive_domains()
    assert not setools.SELinuxPolicy(str(store_root.policy_file)).lookup_type("ntpd_t").ispermissive
    argvs = [list(r.argv) for r in results]
    root = str(store_root.root)
    assert ["semodule", "-p", root, "-s", "default", "-X", "400", "-r", "permissive_ntpd_t"] in argvs
    assert any(a[:7] == ["semodule", "-p", root, "-s", "default", "-X", "400"] and a[7] == "-i"
               and a[8].endswith("permissive_ntpd_t.cil") for a in argvs)
    assert all(r.ok for r in results)


def test_domain_from_the_executable_label_and_the_policy(euca_policy: Path, tmp_path: Path) -> None:
    import os

    from avcfix.system.systemd import domain_for_exec_type, file_type

    assert domain_for_exec_type(euca_policy, "eucalyptus_eucanetd_exec_t") == "eucalyptus_eucanetd_t"
    assert domain_for_exec_type(euca_policy, "no_such_exec_t") is None
    assert domain_for_exec_type(euca_policy, "-x; reboot") is None
    exe = tmp_path / "eucanetd"
    exe.write_text("#!/bin/sh\n")
    try:
        os.setxattr(exe, "security.selinux", b"system_u:object_r:eucalyptus_eucanetd_exec_t:s0\0")
    except OSError:
        pytest.skip("cannot set security.selinux labels on this filesystem")
    assert file_type(str(exe)) == "eucalyptus_eucanetd_exec_t"


_NS_HELPER = '''
import os, subprocess, sys
root, argv = sys.argv[1], sys.argv[2:]
for sub in ("etc/selinux", "var/lib/selinux"):
    subprocess.run(["mount", "--bind", os.path.join(root, sub), "/" + sub], check=True)
os.execvp(argv[0], argv)
'''


@pytest.mark.slow
def test_real_semanage_argv_against_a_temporary_store(store_root: PolicyRoot, tmp_path: Path) -> None:
    """The live-system admin's exact semanage argv, run for real against a temporary store.

    A private mount namespace (``unshare --mount``) bind-mounts the temporary
    root's /etc/selinux and /var/lib/selinux over the real ones for that one
    command only, so semanage works on the copy and the machine's store is
    never touched.
    """
    import shutil
    import subprocess
    import sys

    import setools

    if shutil.which("unshare") is None or shutil.which("semanage") is None:
        pytest.skip("needs unshare and semanage")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "true"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("cannot create a mount namespace here")
    helper = tmp_path / "ns_run.py"
    helper.write_text(_NS_HELPER)
    calls: list[list[str]] = []

    def in_namespace(argv, timeout=600, record=None, **kw):
        calls.append(list(argv))
        wrapped = ["unshare", "--mount", "--propagation", "private", "--",
                   sys.executable, str(helper), str(store_root.root), *argv]
        r = proc.run(wrapped, timeout=timeout)
        return proc.Result(tuple(argv), r.returncode, r.stdout, r.stderr, r.seconds)

    admin = SemanageAdmin(LIVE, runner=in_namespace)
    assert "ntpd_t" not in admin.permissive_domains()
    admin.set_permissive("ntpd_t", True)
    assert "ntpd_t" in admin.permissive_domains()
    assert setools.SELinuxPolicy(str(store_root.policy_file)).lookup_type("ntpd_t").ispermissive
    admin.set_permissive("ntpd_t", False)
    assert not setools.SELinuxPolicy(str(store_root.policy_file)).lookup_type("ntpd_t").ispermissive
    assert calls == [
        ["semanage", "permissive", "-l", "-n"],
        ["semanage", "permissive", "-a", "ntpd_t"],
        ["semanage", "permissive", "-l", "-n"],
        ["semanage", "permissive", "-d", "ntpd_t"],
    ]
    assert not Path("/var/lib/selinux/default/active/modules/400/permissive_ntpd_t").exists()
