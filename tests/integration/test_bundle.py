"""``avcfix bundle``: contents for the eucanetd example, determinism, size cap,
missing host facts, options and exit codes. Real tools: the modules in the
bundle are compiled with checkmodule, events.log is read back by avcfix and
by ausearch."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from bundle_helpers import EUCANETD_LOG, members, run

from avcfix import proc
from avcfix.bundle.archive import TOP_DIR, archive_bytes
from avcfix.bundle.collect import MAX_MODULE_BYTES, BundleOptions, Refused, collect, read_regular
from avcfix.bundle.facts import Fact
from avcfix.bundle.hostfacts import StaticHostFacts, SystemHostFacts, read_policy_header
from avcfix.facts import open_facts
from avcfix.triage import Triage

ENV_KEYS = {"version", "selinux_mode", "policy_name", "kernel_policy", "policy_file", "modules",
            "booleans_touched", "booleans_non_default", "packages", "os_release", "kernel", "labels"}


def _rules(doc: dict) -> list[tuple]:
    return [(r["source"], r["target"], r["class"], tuple(r["perms"]), r["count"], r["reason"]) for r in doc["rules"]]


@pytest.fixture(scope="module")
def euca_bundle(tmp_path_factory, euca_policy: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path_factory.mktemp("bundle") / "eucanetd.tar.gz"
    code = __import__("avcfix.cli", fromlist=["main"]).main(
        ["bundle", str(EUCANETD_LOG), "--policy", str(euca_policy), "-o", str(out)])
    assert code == 0
    return out, members(out.read_bytes())


def test_eucanetd_bundle_members(euca_bundle):
    _, files = euca_bundle
    assert sorted(files) == sorted([
        "README.md", "commands.txt", "denials.json",
        "eucalyptus_cloud_local.cil", "eucalyptus_cloud_local.te",
        "eucalyptus_eucanetd_local.cil", "eucalyptus_eucanetd_local.te",
        "environment.json", "events.log", "getty_local.cil", "getty_local.te",
    ])


def test_events_log_has_every_record_in_time_order(euca_bundle, tmp_path):
    _, files = euca_bundle
    text = files["events.log"].decode()
    events = [e for e in text.split("----\n") if e]
    assert len(events) == 7  # 8 denials, two of them in one event
    times = []
    for e in events:
        first = e.splitlines()[1]
        times.append(first.split("msg=audit(")[1].split(")")[0])
    assert times == sorted(times)
    bind = next(e for e in events if "name_bind" in e)
    for rtype in ("type=AVC", "type=SYSCALL", "type=SOCKADDR", "type=PROCTITLE"):
        assert rtype in bind
    create = next(e for e in events if "eucanetd.pid" in e)
    for rtype in ("type=AVC", "type=SYSCALL", "type=CWD", "type=PATH", "type=PROCTITLE"):
        assert rtype in create
    assert create.count("type=AVC") == 2 and create.count("type=PATH") == 2
    assert "type=SERVICE_START" not in text and "USER_ACCT" not in text
    # ausearch reads it back: the same 7 events.
    if shutil.which("ausearch"):
        log = tmp_path / "events.log"
        log.write_bytes(files["events.log"])
        cp = subprocess.run(["ausearch", "-if", str(log), "-m", "AVC", "--raw"], capture_output=True, text=True)
        assert cp.returncode == 0, cp.stderr
        assert len({ln.split("msg=audit(")[1].split(")")[0] for ln in cp.stdout.splitlines() if "type=AVC" in ln}) == 7


def test_denials_json_is_why_json(euca_bundle, euca_policy, capsys):
    _, files = euca_bundle
    code, out, _ = run(capsys, "why", "--json", str(EUCANETD_LOG), "--policy", str(euca_policy))
    assert code == 0
    assert files["denials.json"].decode() == out
    doc = json.loads(out)
    assert ("eucalyptus_eucanetd_t", "unreserved_port_t", "udp_socket", ("name_bind",), 1) in \
        [r[:5] for r in _rules(doc)]


def test_events_log_read_back_gives_the_same_rules(euca_bundle, euca_policy, tmp_path, capsys):
    _, files = euca_bundle
    log = tmp_path / "events.log"
    log.write_bytes(files["events.log"])
    _, back, _ = run(capsys, "why", "--json", str(log), "--policy", str(euca_policy))
    assert _rules(json.loads(back)) == _rules(json.loads(files["denials.json"]))


def test_readme_is_an_issue_body(euca_bundle):
    _, files = euca_bundle
    readme = files["README.md"].decode()
    assert readme.startswith("# SELinux denials: `eucalyptus_cloud_t`, `eucalyptus_eucanetd_t`, `getty_t`")
    assert "| `eucalyptus_eucanetd_t` | 5 |" in readme          # summary row: 5 denials
    assert "| `eucalyptus_cloud_t` | 2 |" in readme
    # why's reason and advice: the port needs a label (the eucalyptus policy has a port type)
    assert "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822" in readme
    assert "## Policy module" in readme and "```te\nmodule eucalyptus_eucanetd_local 1.0;" in readme
    assert "## Environment" in readme and "| SELinux mode |" in readme
    assert "/usr/sbin/eucanetd" in readme


def test_generated_modules_compile(euca_bundle, tmp_path, euca_policy):
    _, files = euca_bundle
    te_files = [n for n in files if n.endswith(".te")]
    assert "eucalyptus_eucanetd_local.te" in te_files
    mls = read_policy_header(euca_policy).value["mls"]
    for name in te_files:
        src = tmp_path / name
        src.write_bytes(files[name])
        argv = ["checkmodule", *(["-M"] if mls else []), "-m", "-o", str(src.with_suffix(".mod")), str(src)]
        r = proc.run(argv)
        assert r.ok, (name, r.stderr)
    te = files["eucalyptus_eucanetd_local.te"].decode()
    assert "allow eucalyptus_eucanetd_t eucalyptus_var_run_t:file create;" in te
    # a port label is the fix, so no name_bind rule is generated against that policy
    assert "unreserved_port_t:udp_socket" not in te.split("require")[1]


def test_environment_records_missing_facts_with_reasons(euca_bundle):
    _, files = euca_bundle
    env = json.loads(files["environment.json"])
    assert set(env) == ENV_KEYS
    for key in ENV_KEYS - {"version", "booleans_touched", "packages", "labels"}:
        assert set(env[key]) in ({"value"}, {"missing"}), key
        if "missing" in env[key]:
            assert env[key]["missing"].strip(), key
    assert env["policy_file"]["value"]["version"] >= 30
    assert set(env["packages"]) >= {"selinux-policy", "policycoreutils", "avcfix"}
    assert env["labels"]["/usr/sbin/eucanetd"] == {"missing": "does not exist on this host"}
    if not Path("/sys/fs/selinux/policyvers").exists():  # this machine: no SELinux kernel
        assert "not enabled" in env["kernel_policy"]["missing"]
    commands = files["commands.txt"].decode().splitlines()
    ran = [ln for ln in commands if ln.startswith("$ ")]
    assert "$ semodule -lfull" in ran
    assert ("$ getenforce" in ran) == bool(shutil.which("getenforce"))
    assert len([ln for ln in commands if ln.startswith("  exit ")]) == len(ran)     # every one with its exit code
    assert not any("seconds" in ln or "s)" in ln for ln in commands)                 # no timings: deterministic


def test_two_real_runs_give_identical_bytes(tmp_path, euca_policy, capsys):
    a, b = tmp_path / "a.tar.gz", tmp_path / "sub" / "b.tar.gz"
    b.parent.mkdir()
    for out in (a, b):
        code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "--policy", str(euca_policy), "-o", str(out),
                           "--redact")
        assert code == 0, err
    assert a.read_bytes() == b.read_bytes()
    raw = a.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"   # gzip mtime 0
    assert not raw[3] & 0x08                                       # no file name in the header
    with tarfile.open(a) as tar:
        infos = tar.getmembers()
    names = [i.name for i in infos]
    assert names == [TOP_DIR] + sorted(n for n in names if n != TOP_DIR)
    assert len({i.mtime for i in infos}) == 1 and {i.uid for i in infos} == {0}
    assert {i.uname for i in infos} == {"root"}


def test_archive_bytes_do_not_depend_on_member_order():
    one = archive_bytes({"b": b"2", "a": b"1"}, 5)
    two = archive_bytes({"a": b"1", "b": b"2"}, 5)
    assert one == two
    with tarfile.open(fileobj=io.BytesIO(one)) as tar:
        assert [m.name for m in tar.getmembers()] == [TOP_DIR, f"{TOP_DIR}/a", f"{TOP_DIR}/b"]
    assert gzip.decompress(one)  # a valid gzip stream


def test_missing_host_facts_are_recorded_not_fatal(tmp_path):
    recorder = proc.Recorder()
    host = SystemHostFacts(record=recorder, selinuxfs=tmp_path / "no-selinuxfs",
                           os_release_files=(tmp_path / "no-os-release",), passwd=tmp_path / "no-passwd")
    bundle = collect(BundleOptions(), host, Triage([str(EUCANETD_LOG)], facts=None), recorder)
    env = json.loads(dict(bundle.members)["environment.json"])
    assert "does not exist" in env["kernel_policy"]["missing"]
    assert env["os_release"] == {"missing": "no /etc/os-release or /usr/lib/os-release"}
    missing = dict(bundle.missing_facts)
    assert "kernel_policy" in missing and "os_release" in missing
    assert "missing: no /etc/os-release" in bundle.readme


class _Broken(StaticHostFacts):
    def modules(self) -> Fact:
        raise RuntimeError("semanage store locked")

    def label(self, path: str) -> Fact:
        raise PermissionError(13, "Permission denied")


def test_a_failing_fact_source_is_recorded_not_fatal():
    recorder = proc.Recorder()
    bundle = collect(BundleOptions(), _Broken(), Triage([str(EUCANETD_LOG)], facts=None), recorder)
    env = json.loads(dict(bundle.members)["environment.json"])
    assert "semanage store locked" in env["modules"]["missing"]
    assert all("Permission denied" in v["missing"] for v in env["labels"].values())


def test_static_host_facts_fill_the_environment(euca_policy):
    facts = open_facts(euca_policy, None)
    host = StaticHostFacts(
        mode=Fact.known("enforcing"), name=Fact.known("targeted"),
        loaded=Fact.known({"version": 33, "mls": True}),
        module_list=Fact.known([{"name": "eucalyptus", "priority": 400, "kind": "pp", "disabled": False}]),
        booleans={}, release=Fact.known({"ID": "fedora"}), kernel_release=Fact.known("6.5.0"),
        labels={"/usr/sbin/eucanetd": "system_u:object_r:eucalyptus_eucanetd_exec_t:s0"},
    )
    bundle = collect(BundleOptions(), host, Triage([str(EUCANETD_LOG)], facts=facts), proc.Recorder())
    env = json.loads(dict(bundle.members)["environment.json"])
    assert env["selinux_mode"] == {"value": "enforcing"}
    assert env["labels"]["/usr/sbin/eucanetd"] == {"value": "system_u:object_r:eucalyptus_eucanetd_exec_t:s0"}
    assert env["policy_file"]["value"]["path"] == str(euca_policy)
    assert "eucalyptus_eucanetd_exec_t" in bundle.readme
    assert "400 eucalyptus" in bundle.readme


def _many_events_log(path: Path, n: int) -> None:
    lines = []
    for i in range(n):
        ts = f"{1700000000 + i}.000:{1000 + i}"
        target = "var_log_t" if i % 2 else "etc_t"
        lines.append(f"type=AVC msg=audit({ts}): avc:  denied  {{ read }} for  pid={100 + i} comm=\"svc\" "
                     f"name=\"f{i}\" scontext=system_u:system_r:httpd_t:s0 "
                     f"tcontext=system_u:object_r:{target}:s0 tclass=file permissive=0")
        lines.append(f"type=SYSCALL msg=audit({ts}): arch=c000003e syscall=257 success=no exit=-13 "
                     f"a0=0 a1=0 a2=0 a3=0 items=1 ppid=1 pid={100 + i} auid=4294967295 uid=0 gid=0 euid=0 "
                     f"suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"svc\" exe=\"/usr/sbin/svc\" "
                     "subj=system_u:system_r:httpd_t:s0 key=(null)")
    path.write_text("\n".join(lines) + "\n")


def test_max_events_keeps_first_and_last_of_each_group(tmp_path, capsys):
    log = tmp_path / "many.log"
    _many_events_log(log, 200)
    out = tmp_path / "b.tar.gz"
    code, stdout, _ = run(capsys, "bundle", str(log), "-o", str(out), "--max-events", "10")
    assert code == 0
    assert "kept 10 of 200 events" in stdout
    files = members(out.read_bytes())
    events = files["events.log"].decode()
    serials = [int(ln.split(":")[1].split(")")[0]) for ln in events.splitlines() if ln.startswith("type=AVC")]
    assert len(serials) == 10 and serials == sorted(serials)
    # etc_t has even events (1000, 1002... 1198), var_log_t odd ones (1001... 1199)
    assert {1000, 1198, 1001, 1199} <= set(serials)
    assert {1002, 1196, 1003, 1197} <= set(serials)           # then the second and second-to-last
    doc = json.loads(files["denials.json"])
    assert len(doc["denials"]) == 10
    assert sorted(r["count"] for r in doc["rules"]) == [100, 100]   # rules count every denial
    readme = files["README.md"].decode()
    assert "## Size cap" in readme and "keeps 10 of 200 events" in readme
    assert "| `httpd_t` | `etc_t:file` | 100 | 5 | 95 |" in readme


def test_no_cut_under_the_cap(tmp_path, capsys):
    log = tmp_path / "few.log"
    _many_events_log(log, 6)
    out = tmp_path / "b.tar.gz"
    code, stdout, _ = run(capsys, "bundle", str(log), "-o", str(out), "--max-events", "6")
    assert code == 0 and "kept" not in stdout
    assert "## Size cap" not in members(out.read_bytes())["README.md"].decode()


def test_filters_and_markdown(tmp_path, capsys):
    code, out, err = run(capsys, "bundle", str(EUCANETD_LOG), "--domain", "eucalyptus_cloud_t", "--markdown")
    assert code == 0
    assert out.startswith("# SELinux denials: `eucalyptus_cloud_t`\n")
    assert "eucanetd" not in out.split("## Summary")[1].split("## Environment")[0]
    assert "Filters: `--domain eucalyptus_cloud_t`." in out


def test_given_module_is_included(tmp_path, capsys):
    mod = tmp_path / "mine.te"
    mod.write_text("module mine 1.0;\n# built on /home/alice/work\nrequire { type httpd_t; class file read; }\n"
                   "allow httpd_t self:file read;\n")
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(out), "--module", str(mod), "--redact")
    assert code == 0, err
    files = members(out.read_bytes())
    assert "mine.te" in files and not any(n.endswith("_local.te") for n in files)
    te = files["mine.te"].decode()
    assert "allow httpd_t self:file read;" in te and "/home/user-" in te and "alice" not in te
    assert "the module given with `--module`" in files["README.md"].decode()


MINE_TE = "module mine 1.0;\nrequire { type httpd_t; class file read; }\nallow httpd_t self:file read;\n"
SECRET_LINE = "root:$6$TOPSECRETHASH$xyz:19000:0:99999:7:::\n"


def _secret_file(tmp_path: Path) -> Path:
    """A file readable here that must never end up in a bundle (stands for /etc/shadow)."""
    secret = tmp_path / "elsewhere" / "shadow"
    secret.parent.mkdir()
    secret.write_text(SECRET_LINE)
    return secret


def _cil_symlink(mod: Path, tmp_path: Path) -> None:
    (mod / "mine.cil").symlink_to(_secret_file(tmp_path))


def _cil_fifo(mod: Path, tmp_path: Path) -> None:
    os.mkfifo(mod / "mine.cil")   # reading it would block the bundle forever


def _cil_too_big(mod: Path, tmp_path: Path) -> None:
    (mod / "mine.cil").write_text("; padding\n" * (MAX_MODULE_BYTES // 10 + 1) + SECRET_LINE)


@pytest.mark.parametrize("make_cil, reason", [
    (_cil_symlink, "is a symbolic link"), (_cil_fifo, "is a FIFO"), (_cil_too_big, "is larger than 1048576 bytes"),
])
def test_a_refused_cil_is_left_out_and_said(tmp_path, capsys, make_cil, reason):
    mod = tmp_path / "mod"
    mod.mkdir()
    (mod / "mine.te").write_text(MINE_TE)
    make_cil(mod, tmp_path)
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(out), "--module", str(mod / "mine.te"))
    assert code == 0, err   # a warning: the bundle is still made, without the .cil
    assert f"warning: mine.cil {reason}" in err and "left out of the bundle" in err
    files = members(out.read_bytes())
    assert "mine.te" in files and "mine.cil" not in files
    assert not any(b"TOPSECRET" in c for c in files.values())
    readme = files["README.md"].decode()
    assert "## Left out" in readme and f"- `mine.cil` {reason}" in readme


def test_a_regular_cil_beside_the_te_is_included(tmp_path, capsys):
    mod = tmp_path / "mod"
    mod.mkdir()
    (mod / "mine.te").write_text(MINE_TE)
    (mod / "mine.cil").write_text("(allow httpd_t self (file (read)))\n")
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(out), "--module", str(mod / "mine.te"))
    assert code == 0 and "warning" not in err, err
    files = members(out.read_bytes())
    assert files["mine.cil"] == b"(allow httpd_t self (file (read)))\n"
    assert "## Left out" not in files["README.md"].decode()


def test_a_refused_te_is_a_policy_error(tmp_path, capsys):
    real = tmp_path / "real.te"
    real.write_text(MINE_TE)
    link = tmp_path / "link.te"
    link.symlink_to(real)
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(out), "--module", str(link))
    assert code == 5 and "link.te: refused: is a symbolic link" in err, err
    big = tmp_path / "big.te"
    big.write_text(MINE_TE + "# padding\n" * (MAX_MODULE_BYTES // 10 + 1))
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(out), "--module", str(big))
    assert code == 5 and "big.te: refused: is larger than 1048576 bytes" in err, err
    os.mkfifo(tmp_path / "fifo.te")
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(out), "--module", str(tmp_path / "fifo.te"))
    assert code == 5 and "fifo.te: refused: is a FIFO" in err, err
    (tmp_path / "dir.te").mkdir()   # unreadable input as before: 3
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(out), "--module", str(tmp_path / "dir.te"))
    assert code == 3 and "Is a directory" in err, err
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(out), "--module", str(tmp_path / "no.te"))
    assert code == 3 and "No such file" in err, err
    assert not out.exists()


def test_read_regular_reads_only_regular_files_up_to_the_cap(tmp_path):
    (tmp_path / "x.cil").symlink_to(_secret_file(tmp_path))
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(Refused, match="symbolic link"):
            read_regular("x.cil", fd)
        assert read_regular("elsewhere/shadow", fd) == SECRET_LINE.encode()
        assert read_regular("elsewhere/shadow", fd, limit=len(SECRET_LINE)) == SECRET_LINE.encode()
        with pytest.raises(Refused, match="larger than 10 bytes"):
            read_regular("elsewhere/shadow", fd, limit=10)
        with pytest.raises(IsADirectoryError):
            read_regular("elsewhere", fd)
    finally:
        os.close(fd)


def test_errors_and_exit_codes(tmp_path, capsys):
    bad = tmp_path / "bad.te"
    bad.write_text("module bad 1.0;\nallow x y:file { read ;\n")
    assert run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(tmp_path / "x.tar.gz"), "--module", str(bad))[0] == 5
    assert run(capsys, "bundle", str(EUCANETD_LOG))[0] == 2                      # no -o, no --markdown
    assert run(capsys, "bundle", str(EUCANETD_LOG), "--markdown", "--redact", "--redact-extra", "(")[0] == 2
    assert run(capsys, "bundle", str(EUCANETD_LOG), "--markdown", "--redact-extra", "x")[0] == 2  # needs --redact
    assert run(capsys, "bundle", str(tmp_path / "nope.log"), "-o", str(tmp_path / "x.tar.gz"))[0] == 3
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "-o", str(tmp_path / "no" / "dir" / "x.tar.gz"))
    assert code == 3 and "does not exist" in err
    assert not list(tmp_path.glob("*.tar.gz"))


def test_skipped_lines_are_reported_and_strict(tmp_path, capsys):
    log = tmp_path / "mixed.log"
    log.write_bytes(EUCANETD_LOG.read_bytes() + b"garbage line\n\x00\x01binary\n")
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(log), "-o", str(out))
    assert code == 0 and "skipped 2 lines" in err and f"{log}:44" in err
    doc = json.loads(members(out.read_bytes())["denials.json"])
    assert doc["stats"]["skipped_lines"] == 2 and doc["skipped"][0]["line"] == 44
    assert run(capsys, "bundle", str(log), "-o", str(out), "--strict")[0] == 4


def test_root_gives_the_policy_and_the_module_store(tmp_path, capsys, euca_root):
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(EUCANETD_LOG), "--root", str(euca_root.root), "-o", str(out))
    assert code == 0, err
    files = members(out.read_bytes())
    env = json.loads(files["environment.json"])
    mods = {m["name"]: m["priority"] for m in env["modules"]["value"]}
    assert mods["eucalyptus"] == 400 and mods["apache"] == 100
    assert env["policy_file"]["value"]["path"] == str(euca_root.policy_file)
    assert f"$ semodule -p {euca_root.root} -s default -lfull\n  exit 0" in files["commands.txt"].decode()
    readme = files["README.md"].decode()
    assert "priority other than 100: 400 eucalyptus;" in readme
    assert "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822" in readme   # explained with the root


def test_cap_selection_is_exact_for_one_group():
    from avcfix.audit.model import Context, Denial
    from avcfix.bundle.cap import EventCap

    src, tgt = Context("u", "r", "a_t", "s0"), Context("u", "r", "b_t", "s0")
    for limit, n in ((1, 5), (2, 5), (3, 7), (4, 4), (5, 11), (10, 3)):
        cap = EventCap(limit)
        for i in range(n):
            cap.add(Denial("AVC", None, float(i), i, src, tgt, "file", ("read",), False))
        sel = cap.select()
        kept = [e.key[3] for e in sel.events]
        expect = min(n, max(limit, 2))
        assert len(kept) == expect, (limit, n, kept)
        assert kept[0] == 0 and kept[-1] == n - 1                      # first and last always
        half = (expect + 1) // 2
        assert kept == sorted(set(range(half)) | set(range(n - (expect - half), n))), (limit, n, kept)
        assert sel.groups[0].events == n and sel.groups[0].kept == expect


def test_no_denials_still_gives_a_bundle(tmp_path, capsys):
    log = tmp_path / "quiet.log"
    log.write_text(EUCANETD_LOG.read_text().splitlines()[0] + "\n")   # a SERVICE_START, no denial
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "bundle", str(log), "-o", str(out))
    assert code == 0, err
    files = members(out.read_bytes())
    assert files["events.log"] == b""
    assert json.loads(files["denials.json"])["denials"] == []
    readme = files["README.md"].decode()
    assert readme.startswith("# SELinux denials: none found") and "No denial in the input" in readme
    assert "## Policy module" not in readme and not any(n.endswith(".te") for n in files)


@pytest.mark.parametrize("current, expect_non_default", [(True, True), (False, False), (None, None)])
def test_booleans_touched_and_non_default(ref_policy, current, expect_non_default):
    log = Path(__file__).parents[1] / "data" / "explain" / "boolean.log"
    facts = open_facts(ref_policy, None)
    host = StaticHostFacts(booleans=None if current is None else {"httpd_read_user_content": current})
    bundle = collect(BundleOptions(), host, Triage([str(log)], facts=facts), proc.Recorder())
    env = json.loads(dict(bundle.members)["environment.json"])
    touched = {b["name"]: b["policy_default"] for b in env["booleans_touched"]}
    assert touched.get("httpd_read_user_content") is False          # off by default in the policy
    if expect_non_default is None:
        assert "missing" in env["booleans_non_default"]
    elif expect_non_default:
        assert env["booleans_non_default"]["value"] == [
            {"name": "httpd_read_user_content", "current": True, "policy_default": False}]
        assert "httpd_read_user_content (on, policy default off)" in bundle.readme
    else:
        assert env["booleans_non_default"]["value"] == []
