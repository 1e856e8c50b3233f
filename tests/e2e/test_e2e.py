"""Issue 7: avcfix against a real SELinux-enforcing kernel, systemd service and auditd.

Every check reads what ``guest/job.sh`` left in the VM's share (see conftest.py);
``make e2e`` runs them. The numbers the job measured are in the timing table.
"""

from __future__ import annotations

import json
import re
import tarfile

import pytest
from e2e_timings import job_steps, load_json, loop_iterations

pytestmark = pytest.mark.e2e

DOMAIN = "eucalyptus_eucanetd_t"
# What the stand-in does at start-up, as (target type, class, permissions it must end up with).
NEEDED = (
    ("eucalyptus_var_run_t", "dir", {"write", "add_name"}),
    ("eucalyptus_var_run_t", "file", {"create", "write", "open"}),
    ("eucalyptus_var_lib_t", "dir", {"search"}),
    ("eucalyptus_var_lib_t", "file", {"read", "open"}),
)


def text(run, name: str) -> str:
    path = run.out / name
    assert path.is_file(), f"the VM job did not write {name}; see {run.out / 'job.log'}"
    return path.read_text(errors="replace")


def rc(run, step: str) -> int:
    return int(text(run, f"{step}.rc").strip())


def step_output(run, step: str) -> str:
    for name in (f"{step}.out", f"{step}.err"):
        if (run.out / name).is_file():
            return (run.out / name).read_text(errors="replace")[-3000:]
    return ""


def report(run, step: str):
    doc = load_json(run.out / f"{step}.json")
    assert doc is not None, f"{step}: no JSON on stdout (rc={rc(run, step)}):\n{step_output(run, step)}"
    return doc


def raw_avcs(run, name: str = "audit/audit.log") -> list[str]:
    return [ln for ln in text(run, name).splitlines() if ln.startswith("type=AVC")]


def stype(line: str) -> str:
    m = re.search(r"scontext=(\S+)", line)
    return m.group(1).split(":")[2] if m else ""


def allow_rules(sesearch: str) -> dict[tuple[str, str], set[str]]:
    """``allow SRC TGT:CLASS { perms };`` lines of sesearch output for DOMAIN -> perms."""
    rules: dict[tuple[str, str], set[str]] = {}
    for m in re.finditer(r"^allow (\S+) (\S+):(\S+) (\{[^}]*\}|\S+);", sesearch, re.M):
        if m.group(1) != DOMAIN:
            continue
        perms = set(m.group(4).strip("{}").split())
        rules.setdefault((m.group(2), m.group(3)), set()).update(perms)
    return rules


# ---------------------------------------------------------------- the VM itself

def test_vm_runs_selinux_enforcing_with_default_auditd(e2e_run):
    assert e2e_run.result.job_rc == 0
    assert text(e2e_run, "getenforce").strip() == "Enforcing"
    status = text(e2e_run, "sestatus.txt")
    assert re.search(r"Current mode:\s+enforcing", status)
    assert re.search(r"Loaded policy name:\s+default", status)
    # Debian's default: records are fsync'ed every 50, never `freq = 1`.
    conf = dict(ln.split(" = ", 1) for ln in text(e2e_run, "auditd-conf.txt").splitlines())
    assert conf == {"flush": "INCREMENTAL_ASYNC", "freq": "50"}
    assert "eucalyptus_eucanetd_exec_t" in text(e2e_run, "ls-z-eucanetd.txt")


def test_checks_run_the_installed_deb(e2e_run):
    """The image installed avcfix's .deb with apt (tests/e2e/e2e_image.py): the job's
    `avcfix` is /usr/bin/avcfix, owned by that package at this tree's version."""
    import avcfix

    assert text(e2e_run, "avcfix-path.txt").strip() == "/usr/bin/avcfix"
    deb = text(e2e_run, "avcfix-deb.txt")
    assert f"avcfix {avcfix.__version__} install ok installed" in deb, deb
    assert "avcfix: /usr/bin/avcfix" in deb, deb


def test_new_denials_are_readable_promptly_with_default_auditd(e2e_run):
    """The first denial of a failed start is in audit.log within seconds (auditd line-buffers)."""
    latency = text(e2e_run, "audit-latency.out").strip()
    assert latency != "none", "no eucanetd denial reached audit.log within 60 s"
    assert float(latency) < 15.0


# ---------------------------------------------------------------- check 1: why

def test_eucanetd_fails_at_its_first_denial(e2e_run):
    assert text(e2e_run, "start-1-active.txt").strip() == "failed"
    journal = text(e2e_run, "journal.txt")
    assert re.search(r"eucanetd\[\d+\]: bind udp/63822 failed: Permission denied", journal)


def test_why_reports_the_eucanetd_denial_with_syscall_context(e2e_run):
    assert rc(e2e_run, "why-domain") == 0, step_output(e2e_run, "why-domain")
    doc = report(e2e_run, "why-domain")
    bind = [d for d in doc["denials"] if d["source"] == DOMAIN
            and d["tclass"] == "udp_socket" and "name_bind" in d["perms"]]
    assert bind, doc["denials"]
    d = bind[0]
    # SYSCALL context, joined from the SYSCALL/PROCTITLE records of the same event.
    assert d["syscall"] == "bind"
    assert d["success"] is False and d["exit"] == -13
    assert d["comm"] == "eucanetd" and d["exe"] == "/usr/sbin/eucanetd"
    assert d["port"] == 63822
    assert d["target"] == "unreserved_port_t"
    assert d["permissive"] is False
    # The same event in the raw log: the AVC and a SYSCALL record for bind (49 on x86_64).
    raw = text(e2e_run, "audit/audit.log")
    event = [ln for ln in raw.splitlines() if re.search(rf"msg=audit\([\d.]+:{d['serial']}\)", ln)]
    assert any(ln.startswith("type=AVC") and "name_bind" in ln for ln in event), event
    assert any(ln.startswith("type=SYSCALL") and "syscall=49" in ln for ln in event), event
    # The human report shows the same context.
    human = text(e2e_run, "why-all.out")
    assert rc(e2e_run, "why-all") == 0, human
    assert "syscall bind" in human and "port 63822" in human


def test_why_filters_out_unrelated_denials(e2e_run):
    # The real log holds denials of other domains (agetty's checkpoint_restore at boot)...
    others = {stype(ln) for ln in raw_avcs(e2e_run)} - {DOMAIN}
    assert others, "the VM log has no unrelated denial to filter"
    human = text(e2e_run, "why-all.out")
    assert DOMAIN in human and any(o in human for o in others)
    # ...which --domain leaves out, while keeping every eucanetd denial.
    doc = report(e2e_run, "why-domain")
    assert {d["source"] for d in doc["denials"]} == {DOMAIN}
    assert {r["source"] for r in doc["rules"]} == {DOMAIN}
    assert doc["stats"]["denials_total"] > doc["stats"]["denials"] >= 1
    # Every eucanetd AVC logged before `why` ran is reported, none twice.
    started = float(text(e2e_run, "why-start"))
    serials = {int(m.group(2)) for ln in raw_avcs(e2e_run) if stype(ln) == DOMAIN
               for m in [re.search(r"audit\((\d+\.\d+):(\d+)\)", ln)] if float(m.group(1)) < started}
    assert {d["serial"] for d in doc["denials"]} == serials


def test_port_63822_was_labelled_as_avcfix_advised(e2e_run):
    """The admin step between check 1 and check 2: label the port, as `why` advised."""
    doc = report(e2e_run, "why-domain")
    advice = [a for r in doc["rules"] if r["target"] == "unreserved_port_t" for a in r["advice"]]
    assert [a["kind"] for a in advice] == ["port_label"], advice
    assert advice[0]["command"] == "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822"
    assert text(e2e_run, "port-advice.source").strip() == "avcfix"
    assert text(e2e_run, "port-advice.txt").splitlines()[0] == advice[0]["command"]
    assert rc(e2e_run, "port-label") == 0, step_output(e2e_run, "port-label")
    assert re.search(r"^eucalyptus_eucanetd_port_t\s+udp\s+63822$", text(e2e_run, "port-list.out"), re.M)


# ---------------------------------------------------------------- check 2: the enforcing loop

def test_loop_converges_enforcing(e2e_run):
    assert rc(e2e_run, "loop") == 0, step_output(e2e_run, "loop")
    doc = report(e2e_run, "loop")
    its = loop_iterations(doc)
    assert its, doc
    # issue 15: permission completion (the loop's default) takes the stand-in's 8 denials in at most
    # 5 iterations (9 with --exact); the count is reported in the test output (pytest -s / -rP)
    print(f"e2e enforcing loop: {len(its)} iteration(s); completed: "
          f"{sum(len(it.get('completed') or ()) for it in its)} permission(s)")
    assert len(its) <= 5, [(it.get("iteration"), it.get("new_denials")) for it in its]
    assert all(it.get("phase") == "enforcing" for it in its), its
    assert text(e2e_run, "loop-active.txt").strip() == "active"


def test_a_last_restart_logs_no_new_denial(e2e_run):
    assert rc(e2e_run, "restart-final") == 0
    assert text(e2e_run, "restart-final-active.txt").strip() == "active"
    assert text(e2e_run, "restart-final-avc.count").strip() == "0", \
        text(e2e_run, "restart-final-avc.log")


def test_loaded_policy_holds_the_rules_setools(e2e_run):
    """sesearch inside the VM, after the loop: every access the daemon needs is allowed."""
    assert text(e2e_run, "loop-modules.txt").split(), "the loop installed no new module"
    rules = allow_rules(text(e2e_run, "sesearch-after-loop.out"))
    for target, tclass, perms in NEEDED:
        assert perms <= rules.get((target, tclass), set()), (target, tclass, rules)
    # ...and they come from the loop's module: once it is removed, they are gone.
    removed = allow_rules(text(e2e_run, "sesearch-after-remove.out"))
    for target, tclass, perms in NEEDED:
        assert not perms <= removed.get((target, tclass), set()), (target, tclass, removed)


def test_the_loops_own_work_is_not_denied(e2e_run):
    """avcfix's own work logs no denial under the enforcing kernel: its semodule runs (no
    `semodule -E` into /tmp), and its audit trail (the log file, no audit netlink socket)."""
    denied = [ln for ln in raw_avcs(e2e_run) if stype(ln) == "semanage_t" and "avcfix" in ln]
    assert not denied, "\n".join(denied[:5])
    feed = [ln for ln in raw_avcs(e2e_run) if "audit_read" in ln or "netlink_audit_socket" in ln]
    assert not feed, "\n".join(feed[:5])


def test_the_loop_keeps_every_package_it_installed(e2e_run):
    """What a rollback reinstalls: the loop's own package of each installed version."""
    doc = report(e2e_run, "loop")
    kept = text(e2e_run, "loop-kept.txt")
    assert f"{doc['module']}.pp" in kept and "installed" in kept, kept
    versions = {it.get("module_version") for it in loop_iterations(doc)} - {None}
    assert versions and all(f"/{v}:" in kept for v in versions), (versions, kept)


# ---------------------------------------------------------------- check 3: permissive loop

def test_permissive_loop_converges_in_two_iterations(e2e_run):
    removed = [s for s, _, _ in job_steps(e2e_run.out) if s.startswith("remove-module-")]
    assert removed, "the enforcing loop's module was not removed before the permissive run"
    assert all(rc(e2e_run, s) == 0 for s in removed)
    assert rc(e2e_run, "loop-permissive") == 0, step_output(e2e_run, "loop-permissive")
    doc = report(e2e_run, "loop-permissive")
    assert len(loop_iterations(doc)) == 2, doc
    assert text(e2e_run, "loop-permissive-active.txt").strip() == "active"
    rules = allow_rules(text(e2e_run, "sesearch-after-permissive.out"))
    for target, tclass, perms in NEEDED:
        assert perms <= rules.get((target, tclass), set()), (target, tclass, rules)


def test_permissive_mark_and_dontaudit_are_restored(e2e_run):
    assert DOMAIN not in text(e2e_run, "permissive-after.out")
    before = int(text(e2e_run, "dontaudit-initial.out"))
    after = int(text(e2e_run, "dontaudit-after.out"))
    assert before > 1000 and after == before


# ---------------------------------------------------------------- check 4: bundle

def _bundle_member(run, suffix: str) -> bytes:
    path = run.out / "bundle.tar.gz"
    assert path.is_file(), f"no bundle (rc={rc(run, 'bundle')}):\n{step_output(run, 'bundle')}"
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.name.endswith(suffix):
                return tar.extractfile(member).read()
    raise AssertionError(f"{suffix} not in the bundle")


def test_bundle_records_real_host_facts(e2e_run):
    assert rc(e2e_run, "bundle") == 0, step_output(e2e_run, "bundle")
    env = json.loads(_bundle_member(e2e_run, "environment.json"))
    assert "value" in env["selinux_mode"], env["selinux_mode"]
    assert str(env["selinux_mode"]["value"]).lower() == "enforcing"
    assert "value" in env["kernel_policy"], env["kernel_policy"]
    policyvers = text(e2e_run, "policyvers.txt").strip()
    assert re.search(rf"\b{policyvers}\b", json.dumps(env["kernel_policy"]["value"]))
    modules = json.dumps(env["modules"].get("value"))
    assert '"eucalyptus"' in modules, env["modules"]          # the loaded modules, ours among them
    loaded = {ln.split()[0] for ln in text(e2e_run, "modules-after-permissive.out").splitlines() if ln.strip()}
    assert all(f'"{m}"' in modules for m in loaded), sorted(loaded)
    label = env["labels"].get("/usr/sbin/eucanetd", {})
    assert "system_u:object_r:eucalyptus_eucanetd_exec_t:s0" in json.dumps(label), env["labels"]
    assert "eucalyptus_eucanetd_exec_t" in text(e2e_run, "ls-z-eucanetd.txt")
    events = _bundle_member(e2e_run, "events.log").decode()
    assert "type=SYSCALL" in events and DOMAIN in events


# ---------------------------------------------------------------- loop --new-domain (issue 15)

def _tinyd_domains(ps_text: str) -> set[str]:
    """The domains of the tinyd processes in ``ps -eZ`` output."""
    out = set()
    for line in ps_text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-1] == "tinyd":
            out.add(parts[0].split(":")[2])
    return out


def test_tinyd_first_runs_without_a_domain_of_its_own(e2e_run):
    assert text(e2e_run, "tinyd-before-active.txt").strip() == "active"
    assert "bin_t" in text(e2e_run, "tinyd-before-ls-z.txt")
    domains = _tinyd_domains(text(e2e_run, "tinyd-before-ps.txt"))
    assert domains and "tinyd_t" not in domains, domains


def test_loop_new_domain_confines_tinyd_and_converges(e2e_run):
    doc = report(e2e_run, "loop-newdomain")
    assert doc["outcome"] == "converged", (doc["message"], step_output(e2e_run, "loop-newdomain"))
    assert doc["module"] == "tinyd" and doc["domains"] == ["tinyd_t"]
    nd = doc["new_domain"]
    assert nd["installed"] and nd["relabelled"] and not nd["removed"]
    # each enforcing iteration but the last added what tinyd_t was denied
    assert 1 <= len(doc["iterations"]) <= 15
    print(f"loop --new-domain tinyd: {len(doc['iterations'])} iteration(s), {len(doc['rules_added'])} rule(s)")
    assert all(d["source"] == "tinyd_t" for it in doc["iterations"] for d in it["new_denials"])
    assert text(e2e_run, "tinyd-after-active.txt").strip() == "active"
    assert _tinyd_domains(text(e2e_run, "tinyd-after-ps.txt")) == {"tinyd_t"}
    assert "tinyd_exec_t" in text(e2e_run, "tinyd-after-ls-z.txt")
    assert "type_transition init_t tinyd_exec_t:process tinyd_t" in text(e2e_run, "tinyd-sesearch-transition.out")
    assert rc(e2e_run, "tinyd-module-files") == 0
