"""``build --new-domain`` and ``loop --new-domain``: a new domain's skeleton, on real tools.

The skeleton is compiled with each policy's own devel headers (Debian's
reference policy on the host; Fedora's targeted from the ``fedora_root``
fixture) and installed once into a copy of each store; the types and the
process transition are then read back with setools' ``sesearch``/``seinfo``
(command-line tools, independent of avcfix's own setools queries). The lab
tests run the simulated kernel on the real policy: the service's domain at
each start is the one the policy's type_transition gives.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import json_schemas
import pytest
from cli_helpers import avcfix_exe, run_loop

from avcfix.errors import UsageError
from avcfix.lab.backends import Lab
from avcfix.lab.scenario import LABS_DIR, load_scenario
from avcfix.newdomain import build_new_domain, skeleton_for
from avcfix.policy.skeleton import check_name, check_path, devel_dir, fc_regex, name_problem, path_problem
from avcfix.toolchain.compile import devel_build_for
from avcfix.toolchain.headers import header_macro_names
from avcfix.toolchain.store import PolicyRoot, copy_root

NAME, EXE = "tinyd", "/usr/sbin/tinyd"


def _defined(include: Path, macro: str) -> bool:
    """``macro`` is defined in the header tree (grep, not avcfix's reader)."""
    r = subprocess.run(["grep", "-rlE", f"(define|interface|template)\\(`{macro}'", str(include)],
                       capture_output=True, text=True, check=False)
    return bool(r.stdout.strip())


def _fedora_copy(fedora_root: PolicyRoot, dest: Path) -> PolicyRoot:
    """A writable copy of Fedora's store, with its devel tree linked in (as the lab does)."""
    root = copy_root(fedora_root, dest)
    share = dest / "usr" / "share" / "selinux"
    share.mkdir(parents=True, exist_ok=True)
    (share / "devel").symlink_to(Path(fedora_root.root).absolute() / "usr" / "share" / "selinux" / "devel")
    return root


def _sesearch_transition(policy: Path, source: str) -> str:
    r = subprocess.run(["sesearch", "-T", "-s", source, "-t", f"{NAME}_exec_t", "-c", "process", str(policy)],
                       capture_output=True, text=True, check=True)
    return r.stdout


def _seinfo_types(policy: Path) -> set[str]:
    r = subprocess.run(["seinfo", str(policy), "-t"], capture_output=True, text=True, check=True)
    return {line.strip() for line in r.stdout.splitlines()}


# ---------------------------------------------------------------- names and paths

@pytest.mark.parametrize("bad", ["", "Tinyd", "9d", "tiny-d", "tiny.d", "tinyd_t", "a" * 65, "allow",
                                 "dnl", "x_perms", "gen_require"])
def test_bad_names_are_refused(bad: str) -> None:
    assert name_problem(bad) is not None
    with pytest.raises(UsageError):
        check_name(bad)


def test_name_whose_derived_names_are_header_macros_is_refused() -> None:
    # 'files' is fine as a word, but 'files_type' (not derived) is not the point: NAME_domtrans is
    include = devel_dir(None) / "include"
    macros = header_macro_names(include)
    assert "apache_domtrans" in macros or "files_read_etc_files" in macros
    if "apache_domtrans" in macros:  # derived interface name already defined by the headers
        assert "apache_domtrans" in (name_problem("apache", macros) or "")
    assert name_problem("tinyd", macros) is None


@pytest.mark.parametrize("bad", ["usr/sbin/x", "/usr/sbin/a b", "/usr/sbin/x\n/etc", "/usr/sbin/`x'",
                                 "/usr/sbin/x(y)", "/usr/sbin/../bin/x", "/usr/sbin/", "/", "/usr//sbin/x",
                                 "/usr/sbin/dnl", "/usr/sbin/x*", "/usr/sbin/x\"y"])
def test_bad_paths_are_refused(bad: str) -> None:
    assert path_problem(bad) is not None
    with pytest.raises(UsageError):
        check_path(bad)


def test_fc_regex_matches_the_path_alone() -> None:
    # checked with Python's re, whose syntax agrees with PCRE on these escapes
    rx = fc_regex("/opt/my.app+1/bin/tinyd")
    assert re.fullmatch(rx, "/opt/my.app+1/bin/tinyd")
    assert not re.fullmatch(rx, "/opt/myXapp+1/bin/tinyd")
    assert not re.fullmatch(rx, "/opt/my.appp1/bin/tinyd")


def test_cli_bad_values_exit_2(tmp_path: Path) -> None:
    exe = avcfix_exe()
    for args in (["--new-domain", "Tiny", "--exec", EXE], ["--new-domain", NAME, "--exec", "rel/path"],
                 ["--new-domain", NAME], ["--new-domain", "files", "--exec", EXE],
                 ["--new-domain", NAME, "--exec", "/usr/sbin/files_type"]):
        r = subprocess.run([exe, "build", *args, "-o", str(tmp_path)], capture_output=True, text=True,
                           check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert not list(tmp_path.iterdir())  # nothing written


# ---------------------------------------------------------------- compile with both headers

def test_skeleton_uses_only_interfaces_the_headers_define(tmp_path: Path, fedora_root: PolicyRoot) -> None:
    deb = skeleton_for(NAME, EXE, None)
    fed = skeleton_for(NAME, EXE, fedora_root.root)
    for skel, include in ((deb, devel_dir(None) / "include"), (fed, devel_dir(fedora_root.root) / "include")):
        calls = set(re.findall(r"^([a-z_]+)\(", skel.te, re.M)) - {"policy_module"}
        assert calls, skel.te
        for macro in calls:
            assert _defined(include, macro), (macro, include)
    # the two trees differ exactly there: Debian renamed pid files to runtime files
    assert "files_runtime_file(tinyd_var_run_t)" in deb.te and "files_pid_file" not in deb.te
    assert "files_pid_file(tinyd_var_run_t)" in fed.te and "files_runtime_file" not in fed.te
    assert "permissive" not in deb.te  # enforced by default
    assert "permissive tinyd_t;" in skeleton_for(NAME, EXE, None, permissive=True).te


@pytest.mark.parametrize("which", ["debian", "fedora"])
def test_skeleton_compiles_with_each_policys_headers(which: str, tmp_path: Path, request) -> None:
    root = request.getfixturevalue("fedora_root").root if which == "fedora" else None
    res = build_new_domain(NAME, EXE, out_dir=tmp_path, root=PolicyRoot(root, "targeted") if root else None)
    assert res.written and res.pp_path is not None and res.pp_path.is_file()
    make = res.results[0].argv
    if which == "fedora":
        assert f"HEADERDIR={Path(root).absolute()}/usr/share/selinux/devel/include" in make
    else:
        assert not any(a.startswith("HEADERDIR=") for a in make)
    assert {p.name for p in tmp_path.iterdir()} >= {"tinyd.te", "tinyd.if", "tinyd.fc", "tinyd.pp"}
    # the .fc went into the package: semodule_unpackage gives it back
    fc_out = tmp_path / "out.fc"
    subprocess.run(["semodule_unpackage", str(res.pp_path), str(tmp_path / "out.mod"), str(fc_out)], check=True)
    exe_rx = re.escape(fc_regex(res.skeleton.fc_exec_path))
    assert re.search(rf"^{exe_rx}\s+--\s+system_u:object_r:tinyd_exec_t", fc_out.read_text(), re.M)


def test_fc_names_the_executable_as_the_policys_path_aliases_do(fedora_root: PolicyRoot) -> None:
    """Fedora's file_contexts.subs_dist aliases /usr/sbin to /usr/bin: a line for /usr/sbin/tinyd
    would never be met. matchpathcon (libselinux) on the installed files says which path counts."""
    from avcfix.newdomain import canonical_path

    fed = skeleton_for(NAME, EXE, fedora_root.root)
    deb = skeleton_for(NAME, EXE, None)
    for root, skel in ((fedora_root.root, fed), (Path("/"), deb)):
        fc = PolicyRoot(root, "targeted" if root != Path("/") else "default").file_contexts
        r = subprocess.run(["matchpathcon", "-f", str(fc), EXE, skel.fc_exec_path], capture_output=True, text=True)
        # the binary and the path written in the .fc resolve to the same entry (today both bin_t)
        types = [line.split(":")[2] for line in r.stdout.splitlines()]
        assert len(types) == 2 and types[0] == types[1], r.stdout
        assert skel.fc.startswith(fc_regex(skel.fc_exec_path) + "\t")
    assert fed.fc_exec_path == "/usr/bin/tinyd" and deb.fc_exec_path == EXE
    assert canonical_path("/usr/sbinx/y", fedora_root.root) == "/usr/sbinx/y"  # component boundary


def test_devel_build_for_a_root_without_devel_is_the_hosts(tmp_path: Path) -> None:
    mk, hdr = devel_build_for(tmp_path)
    assert hdr is None and mk == Path("/usr/share/selinux/devel/Makefile")


# ---------------------------------------------------------------- install into both stores

@pytest.mark.slow
def test_install_into_debian_store(store_root: PolicyRoot, tmp_path: Path) -> None:
    res = build_new_domain(NAME, EXE, out_dir=tmp_path / "m", root=store_root, install=True)
    assert res.installed and res.verified, res
    policy = store_root.policy_file
    assert {"tinyd_t", "tinyd_exec_t", "tinyd_var_run_t", "tinyd_log_t", "tinyd_var_lib_t"} <= _seinfo_types(policy)
    assert re.search(r"type_transition init_t tinyd_exec_t:process tinyd_t;", _sesearch_transition(policy, "init_t"))
    # the file contexts of the store label the executable
    r = subprocess.run(["matchpathcon", "-f", str(store_root.file_contexts), EXE], capture_output=True, text=True)
    assert "tinyd_exec_t" in r.stdout
    # a domain another module declares (ntpd_t, of the module ntp) is refused before semodule
    exe = avcfix_exe()
    r = subprocess.run([exe, "build", "--new-domain", "ntpd", "--exec", "/usr/sbin/ntpd", "--root",
                        str(store_root.root), "--install", "-o", str(tmp_path / "n")], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 2 and "ntpd_t exists already" in r.stderr, r.stderr


@pytest.mark.slow
def test_install_into_fedora_store(fedora_root: PolicyRoot, tmp_path: Path) -> None:
    root = _fedora_copy(fedora_root, tmp_path / "root")
    exe = avcfix_exe()
    r = subprocess.run([exe, "build", "--new-domain", NAME, "--exec", EXE, "--root", str(root.root), "--install",
                        "-o", str(tmp_path / "m"), "--json"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    json_schemas.check("build-new-domain", doc)
    nd = doc["new_domain"]
    assert nd["installed"] and nd["verified"] and nd["domain"] == "tinyd_t"
    assert nd["types"] == ["tinyd_t", "tinyd_exec_t", "tinyd_var_run_t", "tinyd_log_t", "tinyd_var_lib_t"]
    assert any(step.startswith("restorecon -v /usr/sbin/tinyd") for step in doc["next_steps"])
    policy = root.policy_file
    assert set(nd["types"]) <= _seinfo_types(policy)
    assert "tinyd_t" in _sesearch_transition(policy, "init_t")
    # restorecon of /usr/sbin/tinyd on Fedora (its .subs_dist: /usr/sbin -> /usr/bin) gives tinyd_exec_t
    r = subprocess.run(["matchpathcon", "-f", str(root.file_contexts), EXE], capture_output=True, text=True)
    assert "tinyd_exec_t" in r.stdout, r.stdout


# ---------------------------------------------------------------- the lab

def _tinyd_lab(lab_dir: Path) -> Lab:
    sc = load_scenario(LABS_DIR / "tinyd.toml")
    return Lab(sc, lab_dir, PolicyRoot(lab_dir / "root", "default"))


def test_lab_service_without_a_domain_runs_in_its_parents(lab_dir: Path) -> None:
    lab = _tinyd_lab(lab_dir)
    run = lab.service().restart(0)
    # the domain is what the policy's type_transition for init_t on bin_t says (sesearch):
    # Debian's refpolicy has 'type_transition init_t bin_t:process initrc_t;'; none: init_t
    m = re.search(r"type_transition init_t bin_t:process (\w+);", _sesearch_transition_bin(lab.root.policy_file))
    assert run.domains == ((m.group(1),) if m else ("init_t",))
    assert run.domains != ("tinyd_t",)
    log = lab.log.read_text()
    assert "scontext=system_u:system_r:tinyd_t" not in log


def _sesearch_transition_bin(policy: Path) -> str:
    r = subprocess.run(["sesearch", "-T", "-s", "init_t", "-t", "bin_t", "-c", "process", str(policy)],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


@pytest.mark.slow
def test_lab_loop_confines_tinyd_from_scratch(lab_dir: Path) -> None:
    r = run_loop("--lab", "tinyd", "--new-domain", NAME, "--exec", EXE, "--yes", "--json", "--lab-dir", str(lab_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    json_schemas.check("loop", doc)
    assert doc["outcome"] == "converged"
    assert doc["domains"] == ["tinyd_t"]
    nd = doc["new_domain"]
    assert nd["installed"] and nd["relabelled"] and not nd["removed"]
    assert nd["relabel"] == [EXE, "/run/tinyd", "/var/log/tinyd", "/var/lib/tinyd"]
    # every iteration ran in tinyd_t: the kernel took the policy's transition
    assert all(d["source"] == "tinyd_t" for it in doc["iterations"] for d in it["new_denials"])
    assert 2 <= len(doc["iterations"]) <= 10
    state = json.loads((lab_dir / "lab-state.json").read_text())["state"]
    assert state["files"][EXE].split(":")[2] == "tinyd_exec_t"
    assert state["files"]["/var/lib/tinyd/state"].split(":")[2] == "tinyd_var_lib_t"
    policy = PolicyRoot(lab_dir / "root", "default").policy_file
    assert "tinyd_t" in _sesearch_transition(policy, "init_t")
    # the loop's rules went into the skeleton's .te, next to its .if and .fc
    te = (lab_dir / "module" / "tinyd.te").read_text()
    assert "init_daemon_domain(tinyd_t, tinyd_exec_t)" in te
    assert re.search(r"allow tinyd_t unreserved_port_t:udp_socket .*name_bind", te)
    assert (lab_dir / "module" / "tinyd.if").is_file() and (lab_dir / "module" / "tinyd.fc").is_file()
    r2 = subprocess.run(["sesearch", "-A", "-s", "tinyd_t", "-t", "unreserved_port_t", "-c", "udp_socket",
                         str(policy)], capture_output=True, text=True, check=True)
    assert "name_bind" in r2.stdout


@pytest.mark.slow
def test_lab_loop_takes_the_new_domain_back_when_not_converged(lab_dir: Path) -> None:
    r = run_loop("--lab", "tinyd", "--new-domain", NAME, "--exec", EXE, "--yes", "--json", "--lab-dir", str(lab_dir),
                 "--max-iterations", "1")
    assert r.returncode == 10, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    json_schemas.check("loop", doc)
    assert doc["outcome"] == "max_iterations"
    nd = doc["new_domain"]
    assert nd["removed"] and not nd["installed"] and not nd["relabelled"]
    assert any("removed the new module tinyd" in line for line in doc["restored"])
    state = json.loads((lab_dir / "lab-state.json").read_text())["state"]
    assert state["files"][EXE].split(":")[2] == "bin_t"
    policy = PolicyRoot(lab_dir / "root", "default").policy_file
    assert "tinyd_t" not in _seinfo_types(policy)


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").environ.get("AVCFIX_FEDORA_LAB"),
                    reason="about 160 s (6 installs into Fedora's store): set AVCFIX_FEDORA_LAB=1")
def test_lab_loop_confines_tinyd_on_fedora(fedora_root: PolicyRoot, tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    r = run_loop("--lab", "tinyd", "--new-domain", NAME, "--exec", EXE, "--yes", "--json", "--lab-dir", str(lab),
                 "--root", str(fedora_root.root))
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["outcome"] == "converged"
    assert all(d["source"] == "tinyd_t" for it in doc["iterations"] for d in it["new_denials"])
    # the lab root built the skeleton with Fedora's own headers (files_pid_file) and .subs (/usr/bin)
    assert "files_pid_file(tinyd_var_run_t)" in (lab / "module" / "tinyd.te").read_text()
    state = json.loads((lab / "lab-state.json").read_text())["state"]
    assert state["files"][EXE].split(":")[2] == "tinyd_exec_t"
    policy = PolicyRoot(lab / "root", "targeted").policy_file
    assert "tinyd_t" in _sesearch_transition(policy, "init_t")
