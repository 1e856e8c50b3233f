"""``avcfix build --style refpolicy`` with the real tools on both policies.

How the expected answers are checked (nothing here is hard-coded output):

- what a module grants is what m4 makes of its text with the policy's own
  headers (``refpolicy_db.expand_module``: the devel Makefile's m4 run), read
  as allow tuples; the needed access N is the raw-style build of the same log
  (``--style raw``, read back with ``parse_te``), so the two styles are held
  against each other;
- audit2allow -R (sepolgen, with an interface_info made by sepolgen-ifgen for
  the same headers and policy) is the independent reference: an interface it
  picks that is exact for N must not be left as raw rules by avcfix;
- installs go into private copies of the stores and are verified by the
  builder (setools / the policy index) and again here with ``missing_rules``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from avcfix import proc
from avcfix.cli import main
from avcfix.policy.model import SELF, AvRule, RuleKind
from avcfix.policy.refpolicy.match import WIDENING, Database
from avcfix.policy.te_parse import parse_te
from avcfix.toolchain import refpolicy_db
from avcfix.toolchain.store import PolicyRoot, copy_root
from avcfix.toolchain.verify import AllowRule, missing_rules

PROJECT = Path(__file__).resolve().parents[2]
EUCA_LOG = PROJECT / "fixtures" / "eucanetd" / "audit.log"
EUCANETD = "eucalyptus_eucanetd_t"
CORPUS_LOGS = ("selinux_sepolgen_test_data_httpd.log", "selinux_sepolgen_test_data_audit.log")
WIDENING_SETS = {tpl.format(cls=c) for classes, tpl, _ in WIDENING for c in classes}


# ------------------------------------------------------------------ helpers

def _build(capsys, *argv: str) -> dict:
    code = main(["build", *argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err + out
    return json.loads(out)


def _with_devel(root: PolicyRoot, devel_from: Path | None) -> PolicyRoot:
    """A store copy sees the devel tree of the policy it was copied from, as a real root does."""
    if devel_from is not None:
        dest = root.root / "usr" / "share" / "selinux"
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "devel").symlink_to(devel_from)
    return root


def _quads_of_te(path: Path) -> set[tuple[str, str, str, str]]:
    """The allow tuples of a raw-style .te (target ``self`` for the source)."""
    out = set()
    for r in parse_te(path.read_text(), str(path)).rules:
        if isinstance(r, AvRule) and r.kind is RuleKind.ALLOW:
            for s in r.sources.names:
                for t in r.targets.names:
                    for c in r.classes.names:
                        for p in r.perms.names:
                            out.add((s, SELF if t == s else t, c, p))
    return out


def _adds(module: dict) -> set[tuple[str, str, str]]:
    """(target, class, perm) the JSON says a permission set adds beyond the log."""
    out = set()
    for item in module["refpolicy"]:
        for line in item["adds"]:
            assert item["kind"] == "perm_set" and item["name"] in WIDENING_SETS, item
            words = line.rstrip(";").replace("{", " ").replace("}", " ").split()
            src, tc, perms = words[1], words[2], words[3:]
            t, c = tc.split(":")
            out.update((SELF if t == src else t, c, p) for p in perms)
    return out


def _sepolgen_info(tree: refpolicy_db.DevelTree, policy: Path, out: Path) -> Path:
    if shutil.which("sepolgen-ifgen") is None or shutil.which("audit2allow") is None:
        pytest.skip("sepolgen-ifgen / audit2allow not installed")
    r = proc.run(["sepolgen-ifgen", "-i", str(tree.include), "-p", str(policy), "-o", str(out)], timeout=600)
    assert out.is_file(), r.stderr[-2000:]
    return out


def _audit2allow_R(log: Path, info: Path, policy: Path) -> str:
    r = proc.run(["audit2allow", "-R", "-i", str(log), f"--interface-info={info}", "-p", str(policy)], timeout=600)
    assert r.ok, r.stderr[-2000:]
    return r.stdout


class A2A:
    """audit2allow -R's output expanded by m4: the whole text, and each interface call alone."""

    def __init__(self, tree, text: str) -> None:
        calls = sorted({line.strip() for line in text.splitlines()
                        if "(" in line and not line.strip().startswith(("#", "allow", "require", "dontaudit"))})
        parts = refpolicy_db.expand_parts(tree, [text] + calls)
        self.whole = parts[0]
        self.calls = list(zip(calls, parts[1:], strict=False))


def _check_module(tree, db: Database, module: dict, needed: set, a2a: A2A | None, ours=None,
                  completed: set | None = None) -> dict:
    """The properties every refpolicy module must have; returns figures for the report.
    ``ours``: the module's m4 expansion when the caller made it (several in one m4 run).
    ``completed``: built with --complete, the (source, target, class, perm) completion added;
    None: built without, so nothing at all may be wider than the log (so never wider than
    audit2allow -R, whose every rule is at least the log's)."""
    if ours is None:
        ours = refpolicy_db.expand_module(tree, Path(module["te"]).read_text())
    domains = {q[0] for q in needed}
    granted = {q for q in ours.access if q[0] in domains}
    # everything the log needs is granted, unconditionally
    assert needed <= ours.certain, sorted(needed - ours.certain)[:10]
    # nothing beyond it but what a documented permission set adds (and says so in the JSON)
    extra = {(t, c, p) for s, t, c, p in granted - needed}
    if completed is None:
        assert extra == set() and _adds(module) == set(), sorted(extra)[:10]
    else:
        allowed = _adds(module) | {(t, c, p) for s, t, c, p in completed}
        assert extra <= allowed, sorted(extra - allowed)[:10]
    # no other statements than allow rules for the domain (and the generator's dontaudit rules)
    assert set(ours.other) <= {"dontaudit", "allowxperm"}, ours.other
    # no raw rule left where an exact interface of the database covers it
    for dom in domains:
        n = {(t, c, p) for s, t, c, p in needed if s == dom}
        raw = {(t, c, p) for item in module["refpolicy"] if item["kind"] in ("raw", "perm_set")
               for t, c, p in _covers(item)}
        for name, (certain, cond) in db.interfaces.items():
            if certain <= n and cond <= n:
                assert not (certain & raw), (name, sorted(certain & raw))
    figures = {"extra": len(extra), "interfaces": sum(1 for i in module["refpolicy"] if i["kind"] == "interface")}
    if a2a is not None:
        # audit2allow -R's exact interface calls (expanded by m4 alone) are never left as raw rules here
        figures["a2a_extra"] = len({q for q in a2a.whole.access if q[0] in domains} - needed)
        raw_tuples = {(t, c, p) for item in module["refpolicy"] if item["kind"] in ("raw", "perm_set")
                      for t, c, p in _covers(item)}
        for call, one in a2a.calls:
            dom = call[call.index("(") + 1:].split(",")[0].split(")")[0].strip()
            acc = {(t, c, p) for s, t, c, p in one.access}
            n = {(t, c, p) for s, t, c, p in needed if s == dom}
            if acc and not one.other and all(s == dom for s, _, _, _ in one.access) and acc <= n:
                figures["a2a_exact_calls"] = figures.get("a2a_exact_calls", 0) + 1
                assert not (acc & raw_tuples), (call, sorted(acc & raw_tuples))
    return figures


def _covers(item: dict) -> set[tuple[str, str, str]]:
    out = set()
    for line in item["covers"]:
        words = line.rstrip(";").replace("{", " ").replace("}", " ").split()
        t, c = words[2].split(":")
        out.update((SELF if t == words[1] else t, c, p) for p in words[3:])
    return out


def _avc(i: int, domain: str, target: str, cls: str, perms) -> str:
    tgt = domain if target == SELF else target
    return (f"type=AVC msg=audit(1700000100.{i:03d}:{900 + i}): avc:  denied  {{ {' '.join(sorted(perms))} }} "
            f"for  pid={100 + i} comm=\"probe\" scontext=system_u:system_r:{domain}:s0 "
            f"tcontext=system_u:object_r:{tgt}:s0 tclass={cls} permissive=0")


def _interface_log(db: Database, policy: Path, domain: str, want: int = 3) -> list[str]:
    """AVC lines for the whole access of ``want`` interfaces the policy does not grant ``domain``
    (plain types only, no conditional rules), chosen in name order with disjoint targets."""
    from avcfix.index.setools_target import TargetPolicy

    pol = TargetPolicy(policy)
    used: set[str] = set()
    lines: list[str] = []
    for name in sorted(db.interfaces):
        certain, cond = db.interfaces[name]
        targets = {t for t, _, _ in certain}
        if cond or not 2 <= len(certain) <= 14 or targets & used or SELF in targets:
            continue
        if pol.missing(_names(targets)):
            continue  # an attribute or a type this policy lacks
        groups: dict[tuple[str, str], set[str]] = {}
        for t, c, p in certain:
            groups.setdefault((t, c), set()).add(p)
        rules = [AllowRule(domain, t, c, tuple(sorted(ps))) for (t, c), ps in groups.items()]
        missing = missing_rules(pol, rules)
        if sum(len(r.perms) for r in missing) != len(certain):
            continue  # part of it is granted already
        used |= targets
        for (t, c), ps in sorted(groups.items()):
            lines.append(_avc(len(lines), domain, t, c, ps))
        want -= 1
        if want == 0:
            break
    return lines


def _names(types):
    from avcfix.index.setools_target import Names

    return Names(types=tuple(sorted(types)))


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def deb_tree() -> refpolicy_db.DevelTree:
    tree = refpolicy_db.devel_tree(None)
    if tree.makefile != refpolicy_db.HOST_DEVEL / "Makefile":
        pytest.skip("no host devel tree")
    return tree


@pytest.fixture(scope="module")
def fed_tree(fedora_root) -> refpolicy_db.DevelTree:
    tree = refpolicy_db.devel_tree(fedora_root.root)
    assert tree.include == fedora_root.root / "usr" / "share" / "selinux" / "devel" / "include"
    return tree


@pytest.fixture(scope="module")
def deb_db(deb_tree) -> Database:
    return Database(refpolicy_db.load_database(deb_tree))


@pytest.fixture(scope="module")
def fed_db(fed_tree) -> Database:
    return Database(refpolicy_db.load_database(fed_tree))


# ------------------------------------------------------------------ the database


def _cil_allows(pp: Path) -> set[tuple[str, str, str, str]]:
    from avcfix.toolchain import semodule

    r = proc.run([str(semodule.PP_TO_CIL), str(pp), "-"])
    assert r.ok, r.stderr
    out = set()
    for line in r.stdout.splitlines():
        if line.startswith("(allow "):
            words = line.replace("(", " ").replace(")", " ").split()
            s, t, c, perms = words[1], words[2], words[3], words[4:]
            out.update((s, SELF if t == s else t, c, p) for p in perms)
    return out


@pytest.mark.parametrize("which", ["debian", "fedora"])
def test_database_equals_what_checkmodule_compiles(which, request, tmp_path):
    """Each usable interface's access in the database (m4 with a placeholder) is what
    the devel Makefile + checkmodule make of a real call (read back from the .pp as CIL)."""
    tree = request.getfixturevalue("deb_tree" if which == "debian" else "fed_tree")
    db = request.getfixturevalue("deb_db" if which == "debian" else "fed_db")
    names = [n for n in sorted(db.interfaces) if not db.interfaces[n][1]][::400][:12]
    assert len(names) >= 8
    pats = sorted(db.patterns)[:3]
    te = ["policy_module(avcfixdbcheck, 1.0)", "type avcfixdb_t;", "type avcfixa_t;", "type avcfixb_t;"]
    te += [f"{n}(avcfixdb_t)" for n in names]
    te += [f"{p}(avcfixdb_t, avcfixa_t, avcfixb_t)" for p in pats]
    te += ["allow avcfixdb_t avcfixa_t:file read_file_perms;"]
    (tmp_path / "avcfixdbcheck.te").write_text("\n".join(te) + "\n")
    r = proc.run(tree.make_argv("avcfixdbcheck.pp"), cwd=tmp_path, timeout=300)
    assert r.ok, r.stdout[-2000:] + r.stderr[-2000:]
    compiled = {q for q in _cil_allows(tmp_path / "avcfixdbcheck.pp") if q[0] == "avcfixdb_t"}
    expected = {("avcfixdb_t", t, c, p) for n in names for t, c, p in db.interfaces[n][0]}
    expected |= {("avcfixdb_t", t, c, p) for n in pats for t, c, p in db.pattern_access(n, "avcfixa_t", "avcfixb_t")}
    expected |= {("avcfixdb_t", "avcfixa_t", "file", p) for p in db.perm_sets["read_file_perms"]}
    assert compiled == expected


def test_database_cache_is_reused_and_a_corrupt_file_rebuilt(deb_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("AVCFIX_CACHE_DIR", str(tmp_path))
    first = refpolicy_db.load_database(deb_tree)
    files = list(tmp_path.glob("refpolicy-*.json"))
    assert len(files) == 1
    built = []
    real = refpolicy_db.build_database
    monkeypatch.setattr(refpolicy_db, "build_database", lambda tree: built.append(1) or real(tree))
    assert refpolicy_db.load_database(deb_tree) == first and not built  # from the cache
    text = files[0].read_text()
    files[0].write_text(text.replace("read_file_perms", "read_fileXperms", 1))  # still JSON, wrong digest
    assert refpolicy_db.load_database(deb_tree) == first and built == [1]
    files[0].write_text(text[: len(text) // 2])  # truncated
    assert refpolicy_db.load_database(deb_tree) == first and built == [1, 1]


# ------------------------------------------------------------------ builds, installs, merges


def test_eucanetd_debian_install_merge_and_audit2allow(capsys, tmp_path, euca_root, deb_tree, deb_db):
    """The seed log plus the access of three interfaces eucanetd lacks: one install into a
    copy of the fixture store, verified; exact against the raw build; never wider than the
    widening table; audit2allow -R's exact interfaces are used too; a rerun changes nothing,
    new access bumps the version and keeps every old statement."""
    policy = euca_root.policy_file
    lines = _interface_log(deb_db, policy, EUCANETD)
    assert len(lines) >= 3
    log = tmp_path / "audit.log"
    log.write_text(EUCA_LOG.read_text() + "\n".join(lines) + "\n")
    code = main(["build", "eucanetd", str(log), "--policy", str(policy), "--out-dir", str(tmp_path / "raw")])
    capsys.readouterr()
    assert code == 0
    needed = _quads_of_te(tmp_path / "raw" / "eucanetd_local.te")
    root = _with_devel(copy_root(euca_root, tmp_path / "root"), None)
    out = tmp_path / "mod"
    doc = _build(capsys, "eucanetd", str(log), "--root", str(root.root), "--out-dir", str(out),
                 "--style", "refpolicy", "--install")
    m = doc["modules"][0]
    assert m["style"] == "refpolicy" and m["compiled"] and m["installed"]
    assert m["missing_after_install"] == []
    assert missing_rules(root.policy_file, [AllowRule(s, s if t == SELF else t, c, (p,))
                                            for s, t, c, p in needed]) == ()
    assert any(a[0] == "make" for a in (c["argv"] for c in m["commands"]))
    info = _sepolgen_info(deb_tree, policy, tmp_path / "deb.info")
    figures = _check_module(deb_tree, deb_db, m, needed, A2A(deb_tree, _audit2allow_R(log, info, policy)))
    assert figures["interfaces"] >= 3
    te = Path(m["te"]).read_text()
    assert te.startswith("policy_module(eucanetd_local, 1.0)\n") and te.count("gen_require(") == 1

    # a rerun: nothing new, nothing written, the version stays
    before = Path(m["te"]).stat().st_mtime_ns
    again = _build(capsys, "eucanetd", str(log), "--policy", str(policy), "--out-dir", str(out),
                   "--style", "refpolicy")["modules"][0]
    assert not again["changed"] and again["version"] == "1.0" and Path(m["te"]).stat().st_mtime_ns == before
    # new access: merged, version bumped, every old statement kept
    more = tmp_path / "more.log"
    more.write_text(log.read_text() + _avc(99, EUCANETD, "eucalyptus_var_run_t", "file", ["write"]) + "\n")
    merged = _build(capsys, "eucanetd", str(more), "--policy", str(policy), "--out-dir", str(out),
                    "--style", "refpolicy")["modules"][0]
    assert merged["changed"] and merged["version"] == "1.1" and merged["compiled"]
    new_te = Path(m["te"]).read_text()
    old_calls = {ln for ln in te.splitlines() if ln.endswith(f"({EUCANETD})")}
    assert old_calls and old_calls <= set(new_te.splitlines())
    assert Path(m["te"]).read_text().startswith("policy_module(eucanetd_local, 1.1)\n")
    # the old raw rules are written again: their access (widened sets included) may now be a pattern's
    assert "+ allow eucalyptus_eucanetd_t eucalyptus_var_run_t:file { create write };" in merged["diff"]
    granted = refpolicy_db.expand_module(deb_tree, new_te).certain
    assert needed | {(EUCANETD, "eucalyptus_var_run_t", "file", "write")} <= granted


def test_fedora_build_install_and_audit2allow(capsys, tmp_path, fedora_root, fed_tree, fed_db):
    """Fedora's targeted policy: the module is built by the root's own devel Makefile
    (HEADERDIR given), installed into a copy of the store and verified."""
    domain = "chronyd_t"
    policy = fedora_root.policy_file
    lines = _interface_log(fed_db, policy, domain, want=4)
    assert len(lines) >= 4
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines + [_avc(50, domain, SELF, "capability", ["net_admin"])]) + "\n")
    code = main(["build", domain, str(log), "--policy", str(policy), "--out-dir", str(tmp_path / "raw")])
    capsys.readouterr()
    assert code == 0
    needed = _quads_of_te(tmp_path / "raw" / "chronyd_local.te")
    root = _with_devel(copy_root(fedora_root, tmp_path / "root"), fed_tree.include.parent)
    doc = _build(capsys, domain, str(log), "--root", str(root.root), "--out-dir", str(tmp_path / "mod"),
                 "--style", "refpolicy", "--install")
    m = doc["modules"][0]
    assert m["compiled"] and m["installed"] and m["missing_after_install"] == []
    make = [c["argv"] for c in m["commands"] if c["argv"][0] == "make"]
    devel = root.root / "usr" / "share" / "selinux" / "devel"  # the root's own tree (a link to Fedora's here)
    assert make and make[0][:3] == ["make", "-f", str(devel / "Makefile")]
    assert f"HEADERDIR={devel / 'include'}" in make[0]
    info = _sepolgen_info(fed_tree, policy, tmp_path / "fed.info")
    figures = _check_module(fed_tree, fed_db, m, needed, A2A(fed_tree, _audit2allow_R(log, info, policy)))
    assert figures["interfaces"] >= 2


@pytest.mark.parametrize("which", ["debian", "fedora"])
def test_corpus_logs_exact_compiled_and_not_wider(which, request, capsys, tmp_path, corpus_dir, host_root):
    """Every module of the corpus logs (all domains) compiles with the policy's devel
    Makefile and passes the checks of _check_module, with audit2allow -R as reference."""
    if which == "debian":
        tree, db, where = request.getfixturevalue("deb_tree"), request.getfixturevalue("deb_db"), []
        policy = host_root.policy_file
    else:
        fedora_root = request.getfixturevalue("fedora_root")
        tree, db = request.getfixturevalue("fed_tree"), request.getfixturevalue("fed_db")
        policy, where = fedora_root.policy_file, ["--root", str(fedora_root.root)]
    info = _sepolgen_info(tree, policy, tmp_path / "if.info")
    checked = used = 0
    for name in CORPUS_LOGS:
        log = corpus_dir / name
        if not log.is_file():
            continue
        raw_dir, ref_dir = tmp_path / name / "raw", tmp_path / name / "ref"
        code = main(["build", "--all-domains", str(log), "--policy", str(policy), "--out-dir", str(raw_dir)])
        capsys.readouterr()
        assert code == 0
        doc = _build(capsys, "--all-domains", str(log), *where, "--policy", str(policy), "--out-dir", str(ref_dir),
                     "--style", "refpolicy")
        assert not doc["failed"]
        a2a = A2A(tree, _audit2allow_R(log, info, policy))
        mods = [m for m in doc["modules"] if m["te"] is not None]
        texts = [Path(m["te"]).read_text().split("\n", 1)[1] for m in mods]  # policy_module() dropped
        for m, ours in zip(mods, refpolicy_db.expand_parts(tree, texts), strict=False):
            assert m["compiled"], m["module"]
            needed = _quads_of_te(raw_dir / f"{m['module']}.te")
            figures = _check_module(tree, db, m, needed, a2a, ours)
            checked += 1
            used += figures["interfaces"]
            with capsys.disabled():  # the figures of the report (-s shows them)
                print(which, name, m["module"], figures)
    if not checked:
        pytest.skip("no corpus log with a module to build")
    assert used >= 1  # the corpus exercises interface matching, not only raw rules


def test_hostile_log_text_never_reaches_the_refpolicy_te(capsys, tmp_path, deb_tree, host_root):
    """Paths and comms holding m4 quotes, macros and statements; a type named like a
    refpolicy macro. The module compiles with the devel Makefile and grants exactly the
    valid access (m4's own expansion of the written .te), no comment holds an m4 quote."""
    ctx = "scontext=system_u:system_r:httpd_t:s0"
    path = "/tmp/x') allow httpd_t shadow_t:file read; dnl `"
    log = tmp_path / "hostile.log"
    log.write_text("\n".join([
        f'type=AVC msg=audit(1700000000.100:200): avc:  denied  {{ read }} for  pid=1 '
        f'comm="`define(`allow\',`x\')\'" path="{path}" dev="sda" ino=1 {ctx} '
        "tcontext=system_u:object_r:user_home_t:s0 tclass=file permissive=0",
        f'type=AVC msg=audit(1700000000.200:201): avc:  denied  {{ write }} for  pid=2 comm="gen_require" '
        f'name="changecom" {ctx} tcontext=system_u:object_r:manage_files_pattern:s0 tclass=file permissive=0',
        f'type=AVC msg=audit(1700000000.300:202): avc:  denied  {{ getattr }} for  pid=3 comm="x" '
        f'path="/etc/policy_module(x,1)" {ctx} tcontext=system_u:object_r:user_home_t:s0 tclass=file permissive=0',
    ]) + "\n")
    out = tmp_path / "out"
    doc = _build(capsys, "httpd", str(log), "--out-dir", str(out), "--policy", str(host_root.policy_file),
                 "--include-advised", "--style", "refpolicy")
    m = doc["modules"][0]
    assert m["compiled"]
    assert any("manage_files_pattern" in r["what"] for r in m["rejected"])
    te = (out / "httpd_local.te").read_text()
    comments = [ln for ln in te.splitlines() if ln.startswith("#")]
    assert any('define("allow","x")' in ln for ln in comments)  # the evidence is kept, as text
    assert not any("`" in ln or "'" in ln for ln in comments)
    statements = [ln for ln in te.splitlines() if ln.strip() and not ln.startswith("#")]
    assert not any("shadow_t" in ln or "manage_files_pattern" in ln for ln in statements)
    granted = refpolicy_db.expand_module(deb_tree, te)
    assert {q for q in granted.access} == {("httpd_t", "user_home_t", "file", p) for p in ("getattr", "read")}
    assert _adds(m) == set()  # no widening without --complete


def test_complete_allows_only_completion_and_the_widening_table(capsys, tmp_path, euca_root, deb_tree, deb_db):
    """--complete (off by default): the completed permissions (docs/completion.md) and the
    matcher's widening table are the only access beyond the log; both are declared in the JSON."""
    policy = euca_root.policy_file
    code = main(["build", "eucanetd", str(EUCA_LOG), "--policy", str(policy), "--out-dir", str(tmp_path / "raw")])
    capsys.readouterr()
    assert code == 0
    needed = _quads_of_te(tmp_path / "raw" / "eucanetd_local.te")
    exact = _build(capsys, "eucanetd", str(EUCA_LOG), "--policy", str(policy), "--out-dir", str(tmp_path / "exact"),
                   "--style", "refpolicy")["modules"][0]
    _check_module(deb_tree, deb_db, exact, needed, None)  # nothing wider than the log
    doc = _build(capsys, "eucanetd", str(EUCA_LOG), "--policy", str(policy), "--out-dir", str(tmp_path / "wide"),
                 "--style", "refpolicy", "--complete")
    m = doc["modules"][0]
    assert m["compiled"]
    completed = {(c["source"], c["target"], c["tclass"], c["perm"]) for c in m["completed"]}
    _check_module(deb_tree, deb_db, m, needed, None, completed=completed)
    granted = refpolicy_db.expand_module(deb_tree, Path(m["te"]).read_text()).certain
    assert granted - needed, "--complete added nothing on the seed log"
