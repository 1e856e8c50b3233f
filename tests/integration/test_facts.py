"""PolicyFacts: the one module that opens a binary policy (setools + libselinux)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from avcfix.audit.model import Context
from avcfix.errors import PolicyError
from avcfix.explain.model import Reason
from avcfix.explain.protocol import AccessKey
from avcfix.facts import open_facts
from avcfix.index.setools_facts import PolicyFacts


@pytest.fixture(scope="module")
def ref_facts(ref_policy) -> PolicyFacts:
    return PolicyFacts(ref_policy)


@pytest.fixture(scope="module")
def euca_facts(euca_root) -> PolicyFacts:
    f = open_facts(None, euca_root.root)
    assert f is not None
    return f


def _seinfo_mls(policy: Path) -> bool:
    out = subprocess.run(["seinfo", str(policy)], capture_output=True, text=True, check=True).stdout
    return "MLS enabled" in out


def test_open_facts_choices(ref_policy, euca_root):
    by_file = open_facts(ref_policy, None)
    assert by_file is not None and by_file.path == ref_policy
    # a policy inside a policy root brings that root's file_contexts
    assert by_file.file_contexts == ref_policy.parent.parent / "contexts" / "files" / "file_contexts"
    by_root = open_facts(None, euca_root.root)
    assert by_root is not None
    assert by_root.path == euca_root.policy_file
    assert by_root.file_contexts == euca_root.file_contexts
    both = open_facts(ref_policy, euca_root.root)
    assert both is not None and both.path == ref_policy and both.file_contexts == euca_root.file_contexts


def test_lone_policy_file_has_no_file_contexts(ref_policy, tmp_path):
    lone = tmp_path / "policy.33"
    shutil.copy(ref_policy, lone)
    facts = open_facts(lone, None)
    assert facts is not None and facts.file_contexts is None
    assert facts.expected_type("/etc/shadow") is None


def test_no_policy_without_selinux():
    import selinux

    if selinux.is_selinux_enabled() == 1:
        pytest.skip("SELinux is enabled here: the loaded policy would be used")
    assert open_facts(None, None) is None


@pytest.mark.parametrize("content", [b"", b"garbage, not a policy\n", b"\x8c\xff\x7c\xf9" + b"\0" * 64])
def test_invalid_policy_is_a_policy_error(tmp_path, content):
    bad = tmp_path / "policy.33"
    bad.write_bytes(content)
    with pytest.raises(PolicyError, match="policy"):
        open_facts(bad, None)


def test_missing_policy_and_empty_root_are_policy_errors(tmp_path):
    with pytest.raises(PolicyError):
        open_facts(tmp_path / "nope.33", None)
    with pytest.raises(PolicyError):
        open_facts(tmp_path, None)  # a directory
    with pytest.raises(PolicyError):
        open_facts(None, tmp_path)  # a root without a policy


def test_mls_state_comes_from_the_policy_file(ref_facts, ref_policy):
    assert ref_facts.mls is _seinfo_mls(ref_policy)


def test_context_without_level_fits_an_mls_policy(ref_facts):
    key = AccessKey("system_u:system_r:httpd_t", "system_u:object_r:httpd_sys_content_t", "file", ("read",))
    (verdict,) = [v for _, v in ref_facts.analyze([key])[key].verdicts]
    assert verdict.reason is Reason.ALLOWED_NOW


def test_lookups_are_cached_per_distinct_access(ref_policy):
    facts = PolicyFacts(ref_policy)
    a = AccessKey("system_u:system_r:httpd_t:s0", "system_u:object_r:user_home_t:s0", "file", ("read",))
    b = AccessKey("system_u:system_r:httpd_t:s0", "system_u:object_r:user_home_t:s0", "file", ("write",))
    facts.analyze([a, a, b, a])
    assert facts.lookups == 2
    facts.analyze([b, a])
    assert facts.lookups == 2


def test_two_facts_objects_do_not_share_audit2why_state(ref_facts, euca_facts):
    key = AccessKey("system_u:system_r:eucalyptus_cloud_t:s0", "system_u:object_r:eucalyptus_var_lib_t:s0",
                    "file", ("read",))
    ref = ref_facts.analyze([key])[key]
    euca = euca_facts.analyze([key])[key]
    assert {v.reason for _, v in ref.verdicts} == {Reason.UNKNOWN_TYPE}
    assert {v.reason for _, v in euca.verdicts} == {Reason.ALLOWED_NOW}


def test_per_permission_verdicts(ref_facts):
    key = AccessKey("system_u:system_r:httpd_t:s0", "system_u:object_r:user_home_t:s0", "file",
                    ("open", "read", "write", "zap"))
    got = dict(ref_facts.analyze([key])[key].verdicts)
    assert got["read"].reason is Reason.BOOLEAN
    assert got["read"].booleans == ((("httpd_read_user_content", True),),)
    assert got["open"] == got["read"]
    assert got["write"].reason is Reason.TE_RULE
    assert got["zap"].reason is Reason.UNKNOWN_PERM


def test_port_types_are_specific_and_bindable(euca_facts):
    assert euca_facts.port_types("eucalyptus_eucanetd_t", "udp_socket", "name_bind") == (
        "eucalyptus_eucanetd_port_t",)
    httpd = euca_facts.port_types("httpd_t", "tcp_socket", "name_bind")
    assert "http_port_t" in httpd and "port_t" not in httpd and "unreserved_port_t" not in httpd
    assert euca_facts.port_types("kmod_t", "udp_socket", "name_bind") == ()
    assert euca_facts.port_types("no_such_t", "udp_socket", "name_bind") == ()


def test_file_types_exclude_generic_and_program_types(euca_facts):
    got = euca_facts.file_types("eucalyptus_cloud_t", "file", ("read",))
    assert got[0] == "eucalyptus_var_lib_t"
    assert not {"eucalyptus_cloud_exec_t", "var_t", "etc_t"} & set(got)


def test_fixed_label_and_unconfined(ref_facts):
    assert ref_facts.fixed_label("nfs_t") and ref_facts.fixed_label("proc_t")
    assert not ref_facts.fixed_label("var_t") and not ref_facts.fixed_label("root_t")
    assert ref_facts.is_unconfined("unconfined_t")
    assert not ref_facts.is_unconfined("httpd_t")


def test_boolean_description(ref_facts):
    if not Path("/usr/share/selinux/devel/policy.xml").is_file():
        pytest.skip("policy.xml (selinux-policy-dev) not installed")
    assert "user home content" in (ref_facts.boolean_description("httpd_read_user_content") or "")
    assert ref_facts.boolean_description("no_such_boolean") is None


PATHS = [
    "/etc/shadow", "/srv/x", "/var/lib/eucalyptus", "/var/lib/eucalyptus/keys/k.pem",
    "/run/eucalyptus/eucanetd.pid", "/var/run/eucalyptus/eucanetd.pid", "/usr/sbin/eucanetd",
    "/home/bob/.ssh/id_rsa", "/root/.bashrc", "/opt/myapp/data/x", "/srv/euca/y", "/tmp/x y", "/var/www/html/i.html",
]


def _matchpathcon(fc: Path, path: str) -> str | None:
    cp = subprocess.run(["matchpathcon", "-f", str(fc), path], capture_output=True, text=True, check=False)
    if cp.returncode != 0:
        return None
    ctx = Context.parse(cp.stdout.strip().split("\t")[-1])
    return ctx.type if ctx else None


def test_expected_type_matches_matchpathcon(euca_root, euca_policy, tmp_path):
    if shutil.which("matchpathcon") is None:
        pytest.skip("matchpathcon not installed")
    fc_dir = tmp_path / "files"
    shutil.copytree(euca_root.file_contexts.parent, fc_dir)
    for b in fc_dir.glob("*.bin"):
        b.unlink()
    fc = fc_dir / "file_contexts"
    (fc_dir / "file_contexts.local").write_text("/opt/myapp(/.*)?\tsystem_u:object_r:eucalyptus_var_lib_t:s0\n")
    (fc_dir / "file_contexts.subs").write_text("/srv/euca /var/lib/eucalyptus\n")
    facts = PolicyFacts(euca_policy, fc)
    got = {p: facts.expected_type(p) for p in PATHS}
    assert got == {p: _matchpathcon(fc, p) for p in PATHS}
    # the cases that exercise .local, .subs, .subs_dist and .homedirs
    assert got["/opt/myapp/data/x"] == "eucalyptus_var_lib_t"
    assert got["/srv/euca/y"] == "eucalyptus_var_lib_t"
    assert got["/var/run/eucalyptus/eucanetd.pid"] == "eucalyptus_var_run_t"
    assert got["/home/bob/.ssh/id_rsa"] == "ssh_home_t"
    facts.close()


def test_expected_type_rejects_non_paths(euca_facts):
    assert euca_facts.expected_type("relative/path") is None
    assert euca_facts.expected_type("/etc/\nshadow") is None
    assert euca_facts.expected_type("/etc/\x00shadow") is None


def test_invalid_context_is_a_reason_and_libsepol_stays_off_the_terminal(ref_policy, capfd):
    facts = PolicyFacts(ref_policy)
    # a process target whose user lacks the role: caught before libsepol
    bad_role = AccessKey("system_u:system_r:httpd_t:s0", "staff_u:system_r:nscd_t:s0", "process", ("signal",))
    # a level outside user_u's range: only libsepol knows, and says so on fd 2
    bad_range = AccessKey("user_u:user_r:user_t:s0:c1", "system_u:object_r:etc_t:s0", "file", ("read",))
    got = facts.analyze([bad_role, bad_range])
    (v1,) = [v for _, v in got[bad_role].verdicts]
    (v2,) = [v for _, v in got[bad_range].verdicts]
    assert v1.reason is Reason.RBAC and "staff_u is not authorized for role system_r" in v1.detail
    assert v2.reason is Reason.RBAC and "user_u:user_r:user_t:s0:c1" in v2.detail
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert any("user_u:user_r:user_t:s0:c1" in line for line in facts.diagnostics)


def test_loaded_policy_is_the_default_when_selinux_is_on(ref_policy, monkeypatch):
    # No SELinux kernel here: stand in for libselinux's two answers about the
    # running system; the policy file opened is still the real one.
    import selinux

    monkeypatch.setattr(selinux, "is_selinux_enabled", lambda: 1)
    monkeypatch.setattr(selinux, "selinux_current_policy_path", lambda: str(ref_policy))
    facts = open_facts(None, None)
    assert facts is not None and facts.path == ref_policy
    assert facts.file_contexts is not None and facts.file_contexts.name == "file_contexts"
