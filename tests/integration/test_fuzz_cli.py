"""Fuzz the whole command line with hostile input (docs/testing.md).

Hypothesis-generated logs (real records from fixtures/eucanetd/audit.log and
../shared/corpus, mutated: byte flips, truncation, duplicated fields, braces,
huge numbers, hostile names such as m4 macros, CIL keywords, ``;``, ``)``,
newlines, backticks, ``$(...)``, NUL, non-UTF-8; random binary; long lines;
see tests/fuzz_inputs.py) go into ``why`` (report, ``--json``, ``--raw``),
``build``, ``merge`` and ``bundle --redact``. Every run must:

- end with an exit code of the command's documented set (``ExitCode``;
  docs/exit-codes.md; never 1, the internal error);
- print no traceback and no "This is a bug" on stderr;
- print a JSON document that parses, and follows its schema
  (docs/schema/), when ``--json`` and the exit code say one is printed; ``--raw`` output must read back with ``why --json``.

``build`` runs compile for real (checkmodule, or refpolicy's m4 build when the
output directory already holds a ``policy_module()`` file), and the package is
read back (``/usr/libexec/selinux/hll/pp FILE.pp`` prints its CIL): only the
statement kinds avcfix writes, no hostile name, and every allowed permission
written literally in the ``.te`` and denied by the log (the
(source, target, class, permission) of a denial ``why --json`` reads from the
same log), so no macro expansion widened anything. The ``.te`` itself holds
only the lines avcfix renders (log text only ever in one-line comments).

Runs are in-process (``avcfix.cli.main``, stdout and stderr captured) for
speed; ``test_subprocess_runs_print_no_traceback`` runs the real console
script too. Hypothesis runs derandomized (the same cases on every run, in CI
too). ``AVCFIX_FUZZ_EXAMPLES=N`` raises the number of cases (N for the
in-process ``why`` test, the others in proportion); ``AVCFIX_FUZZ_RANDOM=1``
draws new cases on every run. The number of cases run is printed at the end.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import fuzz_inputs as fi
import json_schemas
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avcfix.cli import main
from avcfix.errors import ExitCode

PROJECT = Path(__file__).resolve().parents[2]
PP_TO_CIL = Path("/usr/libexec/selinux/hll/pp")

#: The in-process ``why`` cases; the other tests take a share of it.
BASE_EXAMPLES = int(os.environ.get("AVCFIX_FUZZ_EXAMPLES", "0") or 0)
#: AVCFIX_FUZZ_RANDOM=1: new cases on every run (to explore; CI stays derandomized).
RANDOM = os.environ.get("AVCFIX_FUZZ_RANDOM", "") not in ("", "0")


def examples(default: int, share: float) -> int:
    """``default`` cases, or ``share`` of AVCFIX_FUZZ_EXAMPLES when that is more."""
    return max(default, int(BASE_EXAMPLES * share))


def fuzz_settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None, derandomize=not RANDOM, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


#: Exit codes each command may end with on these inputs (all documented; never INTERNAL).
ALLOWED = {
    "why": {ExitCode.OK, ExitCode.INPUT, ExitCode.STRICT},
    "build": {ExitCode.OK, ExitCode.USAGE, ExitCode.INPUT, ExitCode.STRICT, ExitCode.POLICY, ExitCode.COMPILE},
    "merge": {ExitCode.OK, ExitCode.USAGE, ExitCode.INPUT, ExitCode.POLICY},
    "bundle": {ExitCode.OK, ExitCode.USAGE, ExitCode.INPUT, ExitCode.STRICT, ExitCode.POLICY},
}

def test_allowed_exit_codes_are_documented():
    """Every code the fuzz test accepts is in ExitCode and the table of docs/exit-codes.md."""
    doc = (PROJECT / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    table = doc.split("\n## ", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| *(\d+) *\|", table, re.MULTILINE)}
    for codes in ALLOWED.values():
        assert ExitCode.INTERNAL not in codes
        assert {int(c) for c in codes} <= documented


#: Counters printed at the end (cases per command, known-open failures tolerated).
RAN: Counter = Counter()
EXITS: Counter = Counter()


# ------------------------------------------------------------------ outcomes and known open bugs

@dataclass
class Case:
    """One run: the command, its argv and its input."""

    command: str  # why, why --json, why --raw, build, merge, bundle
    argv: list[str]
    log: bytes = b""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    kind: str  # exit, traceback, json, raw, te-line, stmt, name, widened, not-in-te, bundle
    detail: str


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def denied_perm_words(log: bytes) -> set[str]:
    """Every word inside ``{ ... }`` in the log (the denials' permission lists, and more)."""
    return {w.decode("latin-1") for m in re.finditer(rb"\{([^{}]*)\}", log) for w in m.group(1).split()}


def log_names(log: bytes) -> set[str]:
    """The names a denial may carry into policy: permissions, context types, classes."""
    types = re.findall(rb"(?:scontext|tcontext)=[^:\s]*:[^:\s]*:([^:\s]*)", log)
    classes = re.findall(rb"tclass=(\S*)", log)
    return denied_perm_words(log) | {n.decode("latin-1") for n in types + classes}


M4_MACROS = fi.m4_macro_names() | {n.decode() for n in fi.M4_NAMES}
CIL_KEYWORDS = {
    "block", "blockabstract", "blockinherit", "macro", "call", "in", "optional", "boolean", "booleanif",
    "tunable", "tunableif", "typeattributeset", "typeattribute", "classpermission", "classpermissionset",
    "classmap", "classmapping", "allow", "allowx", "type", "typealias", "self", "all", "not", "and", "or",
    "neverallow", "auditallow", "dontaudit", "role", "user", "sid", "context",
}


def judge(case: Case, outcome: Outcome, problems: list[Problem]) -> None:
    """Count the run; fail on any problem."""
    RAN[case.command] += 1
    EXITS[case.command.split()[0], outcome.code] += 1
    assert not problems, (
        f"{case.command}: {case.argv}\nexit {outcome.code}\nproblems: {problems}\n"
        f"stderr: {outcome.err[-3000:]}\nstdout: {outcome.out[-2000:]}\nlog: {case.log[:3000]!r}")


def basic_problems(case: Case, o: Outcome, family: str) -> list[Problem]:
    """The exit code is documented for the command, and stderr shows no traceback."""
    problems = []
    if o.code not in ALLOWED[family]:
        problems.append(Problem("exit", f"{o.code}: {o.err.strip().splitlines()[:3]}"))
    for marker in ("Traceback", "This is a bug", "internal error"):
        if marker in o.err or marker in o.out:
            problems.append(Problem("traceback", marker))
    return problems


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    """No AVCFIX_DEBUG (it turns a bug into a traceback); print the counts at the end."""
    old = os.environ.pop("AVCFIX_DEBUG", None)
    yield
    if old is not None:
        os.environ["AVCFIX_DEBUG"] = old
    lines = [f"fuzz: {sum(v for k, v in RAN.items() if ':' not in k)} CLI runs: "
             + ", ".join(f"{k} {v}" for k, v in sorted(RAN.items()))]
    lines.append("fuzz: exit codes: "
                 + ", ".join(f"{cmd} {code}: {n}" for (cmd, code), n in sorted(EXITS.items())))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def run(argv: list[str]) -> Outcome:
    """``avcfix ARGV`` in this process, stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return Outcome(code, out.getvalue(), err.getvalue())


def write_log(directory: Path, data: bytes, how: str = "plain") -> str:
    path = directory / ("audit.log" + ("" if how == "plain" else ".gz"))
    path.write_bytes(fi.encode(data, how))
    return str(path)


def json_problems(o: Outcome, kind: str) -> tuple[list[Problem], dict | None]:
    """The document must parse and follow docs/schema/KIND.json."""
    try:
        doc = json.loads(o.out)
    except ValueError as exc:
        return [Problem("json", f"stdout is not JSON: {exc}")], None
    if not isinstance(doc, dict):
        return [Problem("json", "not an object")], None
    return [Problem("json", f"schema {kind}: {e}") for e in json_schemas.errors(kind, doc)[:5]], doc


# ------------------------------------------------------------------ why: report, --json, --raw

WHY_OPTIONS = st.sampled_from([[], [], ["--strict"], ["--domain", "fuzzd_t"], ["--comm", "fuzzd"],
                               ["--since", "1700000000"], ["--until", "2030-01-01"], ["--jobs", "1"]])


def check_why(workdir: Path, data: bytes, how: str, mode: str, options: list[str]) -> None:
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        log = write_log(Path(d), data, how)
        argv = ["why", *([mode] if mode else []), log, *options]
        case = Case(f"why {mode}".strip(), argv, data)
        o = run(argv)
        problems = basic_problems(case, o, "why")
        if mode == "--json" and o.code in (ExitCode.OK, ExitCode.STRICT):
            more, doc = json_problems(o, "why")
            problems += more
            if doc is not None and not (isinstance(doc.get("stats"), dict)
                                        and all(isinstance(v, int) for v in doc["stats"].values())):
                problems.append(Problem("json", f"stats: {doc.get('stats')}"))
        if mode == "--raw" and o.code == ExitCode.OK and o.out:
            # README: --raw output can be fed back to avcfix
            back = Path(d) / "raw.log"
            back.write_text(o.out, encoding="utf-8", errors="surrogateescape")
            o2 = run(["why", "--json", str(back)])
            if o2.code != ExitCode.OK:
                problems.append(Problem("raw", f"why --json on its --raw output exits {o2.code}: {o2.err[-500:]}"))
            else:
                problems += json_problems(o2, "why")[0]
        judge(case, o, problems)


def test_why_on_hostile_logs(workdir):
    @fuzz_settings(examples(300, 1.0))
    @given(data=fi.logs(), how=st.sampled_from(["plain"] * 6 + ["gzip", "cut-gzip"]),
           mode=st.sampled_from(["--json", "--raw", ""]), options=WHY_OPTIONS)
    def case(data, how, mode, options):
        check_why(workdir, data, how, mode, options)

    case()


def test_why_on_hostile_corpus_records(workdir):
    events = fi.corpus_events()
    if not events:
        pytest.skip(f"corpus not found at {fi.CORPUS}")

    @fuzz_settings(examples(60, 0.25))
    @given(data=fi.logs(events, hostile_rate=0.3), mode=st.sampled_from(["--json", "--raw", ""]))
    def case(data, mode):
        check_why(workdir, data, "plain", mode, [])

    case()


# ------------------------------------------------------------------ build: compiled packages stay inert

IDENT = r"[A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*"
NAMES = rf"(?:{IDENT}|\{{(?: {IDENT})+ \}})"
#: Every line ``build`` renders into a .te outside comments.
TE_LINE_RES = [re.compile(r) for r in (
    r"", r"\}", r"require \{",
    rf"module {IDENT} [0-9]+(?:\.[0-9]+)*;", rf"policy_module\({IDENT}, [0-9]+(?:\.[0-9]+)*\)",
    rf"\t(?:type|attribute|role|bool) {IDENT};", rf"\tclass {IDENT} {NAMES};",
    rf"allow {IDENT} (?:{IDENT}|self):{IDENT} {NAMES};",
    rf"allowxperm {IDENT} (?:{IDENT}|self):{IDENT} ioctl \{{(?: 0x[0-9a-f]+(?:-0x[0-9a-f]+)?)+ \}};",
)]
CIL_KINDS = {"allow", "allowx", "typeattributeset", "roleattributeset"}

#: An existing module in the output directory: avcfix merges into it. The
#: refpolicy one makes build compile with the devel Makefile (m4).
SEEDS = {
    "none": None,
    "plain": "module fuzz_local 1.0;\n\nrequire {\n\ttype fuzz_seed_t;\n\tclass process signal;\n}\n\n"
             "allow fuzz_seed_t self:process signal;\n",
    "refpolicy": "policy_module(fuzz_local, 1.0)\n\ngen_require(`\n\ttype fuzz_seed_t;\n')\n\n"
                 "allow fuzz_seed_t self:process signal;\n",
}
SEED_TUPLES = {("fuzz_seed_t", "fuzz_seed_t", "process", "signal")}


def sexprs(text: str) -> list:
    """The top-level S-expressions of CIL text (atoms as str), comments dropped."""
    tokens = re.findall(r'\(|\)|"[^"]*"|[^\s()";]+|;[^\n]*', text)
    stack: list[list] = [[]]
    for tok in tokens:
        if tok.startswith(";"):
            continue
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise ValueError("unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise ValueError("unbalanced '('")
    return stack[0]


def atoms(x) -> list[str]:
    return [x] if isinstance(x, str) else [a for y in x for a in atoms(y)]


def te_allows(te: str) -> dict[tuple[str, str, str], set[str]]:
    """(source, target, class) -> permissions of the .te's plain allow rules."""
    rules: dict[tuple[str, str, str], set[str]] = {}
    for m in re.finditer(rf"^allow ({IDENT}) ({IDENT}):({IDENT}) ({NAMES});", te, re.MULTILINE):
        perms = m.group(4).strip("{} ").split()
        rules.setdefault((m.group(1), m.group(2), m.group(3)), set()).update(perms)
    return rules


def name_problems(stmts: list, where: str) -> list[Problem]:
    problems = []
    names = set()
    for s in stmts:
        parts = atoms(s)
        if parts[:1] in (["allow"], ["allowx"]) and len(parts) > 2 and parts[2] == "self":
            del parts[2]  # the target "self" is CIL's own
        names.update(parts[1:])
    for a in sorted(names):
        if a.startswith("0x") or a.isdigit() or a in ("cil_gen_require", "ioctl", "range"):
            continue
        if not re.fullmatch(IDENT, a):
            problems.append(Problem("name", f"{a}: not an identifier in {where}"))
        elif a in CIL_KEYWORDS or a in M4_MACROS:
            problems.append(Problem("name", f"{a}: hostile name in {where}"))
    return problems


def package_problems(cil: str, te: str, expected: set[tuple[str, str, str, str]] | None,
                     log_perms: set[str], where: str) -> list[Problem]:
    """What the compiled package (as CIL) may hold: see the module docstring."""
    try:
        stmts = sexprs(cil)
    except ValueError as exc:
        return [Problem("stmt", f"{where}: {exc}")]
    problems = []
    for s in stmts:
        if not isinstance(s, list) or not s or not isinstance(s[0], str) or s[0] not in CIL_KINDS:
            problems.append(Problem("stmt", f"{where}: unexpected statement {s!r}"[:300]))
    problems += name_problems(stmts, where)
    allows = te_allows(te)
    for s in stmts:
        if not (isinstance(s, list) and len(s) == 4 and s[0] == "allow" and isinstance(s[3], list)
                and len(s[3]) == 2 and isinstance(s[3][1], list)):
            continue
        src, tgt, (cls, perms) = s[1], s[2], s[3]
        real_tgt = src if tgt == "self" else tgt
        in_te = allows.get((src, tgt, cls), set()) | allows.get((src, real_tgt, cls), set())
        for p in perms:
            if not isinstance(p, str):
                problems.append(Problem("stmt", f"{where}: nested permission {p!r}"))
                continue
            if (src, real_tgt, cls, p) in SEED_TUPLES:
                continue
            if p not in in_te:
                problems.append(Problem("not-in-te", f"{where}: {src} {tgt}:{cls} {p}"))
            if p not in log_perms or (expected is not None and (src, real_tgt, cls, p) not in expected):
                problems.append(Problem("widened", f"{where}: {src} {tgt}:{cls} {p} was never denied"))
    return problems


def te_line_problems(te: str, seed: str | None) -> list[Problem]:
    seed_lines = set((seed or "").splitlines())
    return [Problem("te-line", repr(line)[:200]) for line in te.splitlines()
            if not line.lstrip().startswith("#") and line not in seed_lines
            and not any(r.fullmatch(line) for r in TE_LINE_RES)]


def expected_tuples(log: str) -> set[tuple[str, str, str, str]] | None:
    """(source, target, class, perm) of every denial ``why --json`` reads in ``log``."""
    o = run(["why", "--json", log])
    if o.code != ExitCode.OK:
        return None
    doc = json.loads(o.out)
    return {(d["source"], d["target"], d["tclass"], p) for d in doc["denials"] for p in d["perms"]}


def test_build_compiles_nothing_hostile(workdir):
    if not PP_TO_CIL.is_file():
        pytest.skip(f"{PP_TO_CIL} (policycoreutils) is not installed")

    @fuzz_settings(examples(40, 0.15))
    @given(data=fi.logs(max_chunks=4, hostile_rate=0.7, synthetic=8),
           seed=st.sampled_from(["none", "plain", "refpolicy", "refpolicy"]),
           steer=st.booleans(), as_json=st.booleans(), cil=st.booleans(), xperms=st.booleans(),
           strict=st.sampled_from([False] * 3 + [True]))
    def case(data, seed, steer, as_json, cil, xperms, strict):
        if steer and denied_perm_words(data) & M4_MACROS:
            seed = "refpolicy"  # a permission that m4 expands: through the m4 build more often
        with tempfile.TemporaryDirectory(dir=workdir) as d:
            log = write_log(Path(d), data)
            out = Path(d) / "out"
            out.mkdir()
            te_path, pp_path, cil_path = out / "fuzz_local.te", out / "fuzz_local.pp", out / "fuzz_local.cil"
            if SEEDS[seed] is not None:
                te_path.write_text(SEEDS[seed])
            argv = ["build", "--all-domains", log, "--module", "fuzz_local", "-o", str(out), "--mls"]
            argv += ["--json"] * as_json + ["--cil"] * cil + ["--xperms"] * xperms + ["--strict"] * strict
            c = Case("build", argv, data, {"seed": seed})
            o = run(argv)
            problems = basic_problems(c, o, "build")
            if as_json and (o.code == ExitCode.OK or o.out.strip()):
                problems += json_problems(o, "build")[0]
            elif as_json and o.code == ExitCode.COMPILE:
                problems.append(Problem("json", "nothing on stdout after a compile failure"))
            te = te_path.read_text(encoding="utf-8", errors="replace") if te_path.exists() else ""
            problems += te_line_problems(te, SEEDS[seed])
            expected = expected_tuples(log) | SEED_TUPLES if pp_path.exists() or cil_path.exists() else None
            log_perms = denied_perm_words(data) | {"signal"}
            if pp_path.exists():
                RAN["build: compiled package checked"] += 1
                r = subprocess.run([str(PP_TO_CIL), str(pp_path), "-"], capture_output=True, text=True,
                                   check=False)
                assert r.returncode == 0, r.stderr
                problems += package_problems(r.stdout, te, expected, log_perms, "the .pp")
            if cil_path.exists():
                problems += package_problems(cil_path.read_text(encoding="utf-8"), te, expected, log_perms,
                                             "the .cil")
            judge(c, o, problems)

    case()


# ------------------------------------------------------------------ merge

HOSTILE_TEXT = [n.decode("utf-8", "replace").replace("\x00", "") for n in fi.HOSTILE_NAMES]


def test_merge_hostile_modules(workdir):
    @fuzz_settings(examples(100, 0.3))
    @given(texts=st.lists(fi.te_texts(), min_size=1, max_size=3),
           name=st.one_of(st.none(), st.sampled_from(["merged_local"] + HOSTILE_TEXT)),
           version=st.sampled_from([None, "1.5", "1;x", "9" * 70]), cil=st.booleans(), as_json=st.booleans())
    def case(texts, name, version, cil, as_json):
        with tempfile.TemporaryDirectory(dir=workdir) as d:
            files = []
            for i, text in enumerate(texts):
                f = Path(d) / f"in{i}.te"
                f.write_bytes(text)
                files.append(str(f))
            out = Path(d) / "out.te"
            argv = ["merge", *files, "-o", str(out)]
            argv += ["--name", name] * (name is not None) + ["--version", version] * (version is not None)
            argv += ["--cil"] * cil + ["--json"] * as_json
            c = Case("merge", argv, b"\n".join(texts), {"name": name})
            o = run(argv)
            problems = basic_problems(c, o, "merge")
            if as_json and o.code == ExitCode.OK:
                problems += json_problems(o, "merge")[0]
            if o.code == ExitCode.OK and out.exists():
                head = next((ln for ln in out.read_text(encoding="utf-8", errors="replace").splitlines()
                             if ln.strip() and (cil or not ln.startswith("#"))), "")
                version = r"[0-9][A-Za-z0-9_.]*"  # checkmodule takes 1.x
                header = (rf"; module {IDENT} {version}" if cil else
                          rf"module {IDENT} {version};|policy_module\({IDENT}, {version}\)")
                if not re.fullmatch(header, head):
                    problems.append(Problem("te-line", f"header {head!r}"))
            judge(c, o, problems)

    case()


# ------------------------------------------------------------------ bundle --redact

HOSTS = [b"fuzzhost.example.org", b"FuzzHost.example.org", b"web7.corp.example.net"]


def test_bundle_redact_on_hostile_logs(workdir):
    @fuzz_settings(examples(40, 0.12))
    @given(data=fi.logs(max_chunks=5), host=st.sampled_from(HOSTS), every=st.integers(1, 3),
           options=st.sampled_from([[], ["--max-events", "2"], ["--strict"]]))
    def case(data, host, every, options):
        lines = data.split(b"\n")
        data = b"\n".join(b"node=" + host + b" " + ln if i % every == 0 and ln else ln for i, ln in enumerate(lines))
        with tempfile.TemporaryDirectory(dir=workdir) as d:
            log = write_log(Path(d), data)
            out = Path(d) / "b.tar.gz"
            argv = ["bundle", log, "--redact", "-o", str(out), *options]
            c = Case("bundle", argv, data, {"host": host})
            o = run(argv)
            problems = basic_problems(c, o, "bundle")
            if o.code == ExitCode.OK:
                with tarfile.open(out) as tar:
                    for m in tar.getmembers():
                        if m.isdir() and m.name == "avcfix-bundle":
                            continue
                        if not m.isfile() or not m.name.startswith("avcfix-bundle/") or ".." in m.name:
                            problems.append(Problem("bundle", f"member {m.name} ({m.type!r})"))
                            continue
                        body = tar.extractfile(m).read()
                        if host.split(b".")[0].lower() in body.lower():
                            problems.append(Problem("bundle", f"{host!r} left in {m.name} by --redact"))
                        if m.name.endswith(".json"):
                            try:
                                json.loads(body)
                            except ValueError as exc:
                                problems.append(Problem("json", f"{m.name}: {exc}"))
            judge(c, o, problems)

    case()


# ------------------------------------------------------------------ the real console script

def test_subprocess_runs_print_no_traceback(workdir):
    """A few runs of ``python -m avcfix`` (its own exit path: hard exit after why)."""
    env = {k: v for k, v in os.environ.items() if k != "AVCFIX_DEBUG"}

    @fuzz_settings(examples(10, 0.03))
    @given(data=fi.logs(max_chunks=4),
           command=st.sampled_from(["why --json", "why --raw", "why", "build", "bundle"]))
    def case(data, command):
        with tempfile.TemporaryDirectory(dir=workdir) as d:
            log = write_log(Path(d), data)
            if command == "build":
                argv = ["build", "--all-domains", log, "--module", "fuzz_local", "-o", d, "--mls", "--json"]
            elif command == "bundle":
                argv = ["bundle", log, "--redact", "-o", str(Path(d) / "b.tar.gz")]
            else:
                argv = command.split() + [log]
            r = subprocess.run([sys.executable, "-m", "avcfix", *argv], capture_output=True, env=env,
                               cwd=d, check=False, timeout=120)
            o = Outcome(r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))
            c = Case(command, argv, data)
            problems = basic_problems(c, o, command.split()[0])
            if command in ("why --json", "build") and o.code == ExitCode.OK:
                problems += json_problems(o, command.split()[0])[0]
            judge(c, o, problems)

    case()
