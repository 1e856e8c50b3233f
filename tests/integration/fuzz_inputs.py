"""Hostile audit logs and .te modules for tests/test_fuzz_cli.py (hypothesis strategies).

A log is made of *chunks*: real events (the records of one ``msg=audit(ID)``,
from fixtures/eucanetd/audit.log or ../shared/corpus) with mutations applied,
synthetic AVC events whose names come from :data:`HOSTILE_NAMES`, random
binary lines and long lines. Mutations: byte flips, truncation, field
duplication, brace injection, huge numbers, hostile names in any field
(perms, types, class, comm, hex-encoded fields), inserted bytes and newlines.
Everything is bytes: the logs are written to files as they are.
"""

from __future__ import annotations

import gzip
import re
from itertools import groupby
from pathlib import Path

from hypothesis import strategies as st

PROJECT = Path(__file__).resolve().parents[2]
FIXTURE = PROJECT / "fixtures" / "eucanetd" / "audit.log"
CORPUS = PROJECT.parent / "shared" / "corpus"
DEVEL_SUPPORT = Path("/usr/share/selinux/devel/include/support")

_EVENT_ID_RE = re.compile(rb"audit\(([^)]*)\)")


def events_of(data: bytes) -> list[list[bytes]]:
    """The lines of ``data`` grouped into runs of the same ``audit(ID)`` (lines without one stand alone)."""
    lines = [ln for ln in data.split(b"\n") if ln.strip()]

    def key(line: bytes) -> bytes:
        m = _EVENT_ID_RE.search(line)
        return m.group(1) if m else b"\0" + line
    return [list(g) for _, g in groupby(lines, key=key)]


FIXTURE_EVENTS: list[list[bytes]] = events_of(FIXTURE.read_bytes())


def corpus_events(limit_per_file: int = 12, max_total: int = 400) -> list[list[bytes]]:
    """Denial events from ../shared/corpus (the first few of each log), [] when it is absent."""
    if not CORPUS.is_dir():
        return []
    out: list[list[bytes]] = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.name == "README.md" or path.name.endswith((".SOURCE.txt", ".audit2allow-noanalysis.txt")):
            continue
        try:
            data = path.read_bytes()[: 1 << 20]
        except OSError:
            continue
        found = [ev for ev in events_of(data) if any(b"denied" in ln or b"avc" in ln.lower() for ln in ev)]
        out.extend(ev[:40] for ev in found[:limit_per_file])
        if len(out) >= max_total:
            break
    return out[:max_total]


def m4_macro_names() -> frozenset[str]:
    """Every name the refpolicy headers define as an m4 macro (empty without selinux-policy-dev)."""
    names: set[str] = set()
    if DEVEL_SUPPORT.is_dir():
        for spt in DEVEL_SUPPORT.glob("*.spt"):
            names.update(re.findall(r"^define\(`([A-Za-z_][A-Za-z0-9_]*)'", spt.read_text(errors="replace"),
                                    re.MULTILINE))
    return frozenset(names)


#: refpolicy permission sets: m4 widens them into many permissions.
M4_PERM_SETS = [b"manage_file_perms", b"read_file_perms", b"rw_dir_perms", b"create_dir_perms",
                b"rw_socket_perms", b"exec_file_perms", b"rw_netlink_socket_perms"]
#: refpolicy patterns and interfaces (m4 turns them into statements), m4 builtins.
M4_OTHER = [b"domtrans_pattern", b"files_read_etc_files", b"unconfined_domain", b"corecmd_exec_bin",
            b"gen_require", b"optional_policy", b"policy_module", b"define", b"dnl", b"ifdef", b"esyscmd",
            b"include"]
M4_NAMES = M4_PERM_SETS + M4_OTHER
#: CIL statement keywords and TE keywords used as names.
KEYWORD_NAMES = [
    b"macro", b"blockinherit", b"block", b"call", b"in", b"optional", b"typeattributeset", b"classpermission",
    b"allow", b"type", b"require", b"module", b"neverallow", b"self", b"all", b"not",
]
#: Punctuation, shell and control characters, odd lengths and encodings.
PUNCT_NAMES = [
    b"a;b", b"a)", b"(a", b"x_t;allow x_t y_t:file *", b"x_t } ; allow x_t shadow_t:file * ; {", b"a\nb",
    b"`id`", b"$(id)", b"a b", b"a\x00b", b"\xff\xfe\xfd", b"", b"{", b"}", b"~", b"*", b"-x", b".x", b"x..y",
    b"x.", b"a" * 300, "\uff46\uff49\uff4c\uff45".encode(), b"a'b", b'a"b', b"--help", b"-o", b"[bold]x[/]",
    b"\x1b[31mred", b"x\r\ny", b"#x", b"0x41", b"a%b", b"a\\b", b"'; rm -rf / #",
]
HOSTILE_NAMES: list[bytes] = M4_NAMES + KEYWORD_NAMES + PUNCT_NAMES

NORMAL_TYPES = [b"httpd_t", b"fuzzd_t", b"var_t", b"etc_t", b"unreserved_port_t", b"fuzz_data_t"]
NORMAL_CLASSES = [b"file", b"dir", b"tcp_socket", b"udp_socket", b"capability", b"process", b"lnk_file"]
NORMAL_PERMS = [b"read", b"write", b"open", b"getattr", b"search", b"name_bind", b"ioctl", b"create", b"execute"]

HUGE_NUMBERS = [
    b"99999999999999999999", b"18446744073709551616", b"9223372036854775808", b"-1", b"-9999999999999999999",
    b"1" + b"0" * 400, b"0" * 30, b"4294967296", b"99999999999999999999.999", b"1e308", b"nan", b"0x7fffffff",
]
INSERTS = [b"{", b"}", b"{ {", b"} }", b"{ read }", b"{ }", b"}{", b"\x00", b"\xff", b"'", b'"', b"=", b"==",
           b"\x1d", b"\t", b"\r", b" type=AVC ", b"msg=audit(", b"): ", b"\xe2\x80\xae", b"\\", b"%"]

#: key=value (the lookbehind keeps it linear on a long run of letters).
FIELD_RE = re.compile(rb"(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*=(?:\"[^\"]*\"|'[^']*'|\S*)")
DIGITS_RE = re.compile(rb"\d+")
PERMS_RE = re.compile(rb"\{ ([^{}]*) \}")
SCTX_RE = re.compile(rb"(scontext=[^:\s]*:[^:\s]*:)([^:\s]*)")
TCTX_RE = re.compile(rb"(tcontext=[^:\s]*:[^:\s]*:)([^:\s]*)")
TCLASS_RE = re.compile(rb"(tclass=)(\S*)")
COMM_RE = re.compile(rb'(comm=)("[^"]*"|\S*)')
HEXFIELD_RE = re.compile(rb"((?:proctitle|comm|exe|name|cwd)=)([0-9A-F]{2,})(?=\s|$)")


def _hex(b: bytes) -> bytes:
    return b.hex().upper().encode()


#: A hostile name: each family as likely as the others.
hostile = st.one_of(st.sampled_from(M4_PERM_SETS), st.sampled_from(M4_OTHER), st.sampled_from(KEYWORD_NAMES),
                    st.sampled_from(PUNCT_NAMES))
any_name = st.one_of(hostile, st.sampled_from(NORMAL_TYPES))

#: One mutation: (kind, a few integers and a payload) applied by :func:`mutate`.
mutations = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.just("dup_field"), st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from([b"", b"x"])),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(INSERTS)),
    st.tuples(st.just("huge"), st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(HUGE_NUMBERS)),
    st.tuples(st.just("perm"), st.integers(0, 10**6), st.integers(0, 10**6), hostile),
    st.tuples(st.just("stype"), st.integers(0, 10**6), st.integers(0, 10**6), hostile),
    st.tuples(st.just("ttype"), st.integers(0, 10**6), st.integers(0, 10**6), hostile),
    st.tuples(st.just("tclass"), st.integers(0, 10**6), st.integers(0, 10**6), hostile),
    st.tuples(st.just("comm"), st.integers(0, 10**6), st.integers(0, 10**6), hostile),
    st.tuples(st.just("hexfield"), st.integers(0, 10**6), st.integers(0, 10**6), hostile),
    st.tuples(st.just("binary"), st.integers(0, 10**6), st.integers(0, 10**6), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("newline"), st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from([b"\n", b"\r\n"])),
    st.tuples(st.just("long"), st.integers(0, 10**6), st.integers(0, 10**6),
              st.sampled_from([4096, 70000, 300000])),
)


def mutate(event: list[bytes], ops: list[tuple]) -> list[bytes]:
    """``event``'s lines with ``ops`` applied, in order."""
    lines = list(event)
    for op in ops:
        if not lines:
            break
        kind, i = op[0], op[1] % len(lines)
        line = lines[i]
        if kind == "flip":
            if line:
                p = op[2] % len(line)
                line = line[:p] + bytes([line[p] ^ op[3]]) + line[p + 1:]
        elif kind == "truncate":
            line = line[: op[2] % (len(line) + 1)]
        elif kind == "dup_field":
            fields = FIELD_RE.findall(line)
            if fields:
                f = fields[op[2] % len(fields)]
                line = line + b" " + f + op[3]
        elif kind in ("insert", "binary", "newline"):
            p = op[2] % (len(line) + 1)
            line = line[:p] + op[3] + line[p:]
        elif kind == "huge":
            runs = list(DIGITS_RE.finditer(line))
            if runs:
                m = runs[op[2] % len(runs)]
                line = line[: m.start()] + op[3] + line[m.end():]
        elif kind == "perm":
            m = PERMS_RE.search(line)
            if m:
                perms = m.group(1).split()
                perms.insert(op[2] % (len(perms) + 1), op[3])
                line = line[: m.start(1)] + b" ".join(perms) + line[m.end(1):]
        elif kind in ("stype", "ttype", "tclass", "comm"):
            regex = {"stype": SCTX_RE, "ttype": TCTX_RE, "tclass": TCLASS_RE, "comm": COMM_RE}[kind]
            value = op[3] if kind != "comm" or op[2] % 2 else b'"' + op[3] + b'"'
            line = regex.sub(lambda m, value=value: m.group(1) + value, line, count=1)
        elif kind == "hexfield":
            line = HEXFIELD_RE.sub(lambda m, op=op: m.group(1) + _hex(op[3]), line, count=1)
            line = COMM_RE.sub(lambda m, op=op: m.group(1) + _hex(op[3] or b"x"), line, count=1) if op[2] % 2 else line
        elif kind == "long":
            p = op[2] % (len(line) + 1)
            line = line[:p] + b"A" * op[3] + line[p:]
        lines[i] = line
    return lines


POSITIONS = ["none", "perm", "perm", "stype", "ttype", "tclass", "comm", "proctitle", "all"]


@st.composite
def synthetic_event(draw, hostile_rate: float = 0.5) -> list[bytes]:
    """An AVC event (AVC + SYSCALL + PROCTITLE records) with a hostile name in
    one place (``hostile_rate`` of the time), or everywhere."""
    where = draw(st.sampled_from(POSITIONS[1:])) if draw(st.floats(0, 1)) < hostile_rate else "none"

    def name(position: str, normal: list[bytes]) -> bytes:
        return draw(hostile) if where in (position, "all") else draw(st.sampled_from(normal))

    serial = draw(st.integers(1, 99999))
    ts = draw(st.sampled_from([b"1700000100.%03d" % (serial % 1000), b"1700000200.500",
                               b"1700000100.%03d" % (serial % 7), b"0.000", b"99999999999999999999.000"]))
    eid = ts + b":%d" % serial
    stype, ttype, tclass = name("stype", NORMAL_TYPES), name("ttype", NORMAL_TYPES), name("tclass", NORMAL_CLASSES)
    perms = draw(st.lists(st.sampled_from(NORMAL_PERMS), min_size=0 if where == "perm" else 1, max_size=3))
    if where in ("perm", "all"):  # m4's permission sets are the names that widen policy
        perms.insert(draw(st.integers(0, len(perms))), draw(st.one_of(st.sampled_from(M4_PERM_SETS), hostile)))
    comm = name("comm", [b"fuzzd", b"httpd"])
    comm_field = b'"' + comm + b'"' if draw(st.booleans()) else _hex(comm or b"x")
    avc = (b"type=AVC msg=audit(" + eid + b"): avc:  denied  { " + b" ".join(perms) + b" } for  pid=4242 comm="
           + comm_field + b' name="f" scontext=system_u:system_r:' + stype + b":s0 tcontext=system_u:object_r:"
           + ttype + b":s0 tclass=" + tclass + b" permissive=" + draw(st.sampled_from([b"0", b"1"])))
    lines = [avc]
    if draw(st.booleans()):
        lines.append(b"type=SYSCALL msg=audit(" + eid + b"): arch=c000003e syscall=257 success=no exit=-13 "
                     b"items=0 ppid=1 pid=4242 auid=1000 uid=1000 gid=1000 comm=" + comm_field
                     + b' exe="/usr/sbin/fuzzd" subj=system_u:system_r:' + stype + b":s0 key=(null)")
    if draw(st.booleans()):
        lines.append(b"type=PROCTITLE msg=audit(" + eid + b"): proctitle="
                     + _hex(b"/usr/sbin/fuzzd\x00--token=" + name("proctitle", [b"abc"])))
    return lines


def chunks(seed_events: list[list[bytes]], hostile_rate: float = 0.5, synthetic: int = 2):
    """One chunk of a log: a (mutated) real event, a synthetic event (``synthetic``
    times as likely as in the default mix), binary, or a long line."""
    real = st.builds(mutate, st.sampled_from(seed_events), st.lists(mutations, max_size=4))
    made = st.one_of(synthetic_event(hostile_rate),
                     st.builds(mutate, synthetic_event(hostile_rate), st.lists(mutations, max_size=2)))
    return st.one_of(
        real, real, *[made] * synthetic,
        st.binary(min_size=1, max_size=200).map(lambda b: [b]),
        st.sampled_from([[b"x" * 5000], [b"type=AVC msg=audit(1.1:1): " + b"{ " * 3000]]),
    )


@st.composite
def logs(draw, seed_events: list[list[bytes]] | None = None, max_chunks: int = 8,
         hostile_rate: float = 0.5, synthetic: int = 2) -> bytes:
    """A whole hostile log file's bytes."""
    parts = draw(st.lists(chunks(seed_events or FIXTURE_EVENTS, hostile_rate, synthetic), min_size=1,
                          max_size=max_chunks))
    sep = draw(st.sampled_from([b"\n", b"\n", b"\r\n"]))
    data = sep.join(line for part in parts for line in part)
    return data + (sep if draw(st.booleans()) else b"")


def encode(data: bytes, how: str) -> bytes:
    """The file's bytes: plain, gzip, or a gzip cut short."""
    if how == "plain":
        return data
    packed = gzip.compress(data, mtime=0)
    return packed if how == "gzip" else packed[: max(10, len(packed) // 2)]


# ------------------------------------------------------------------ .te modules (merge)

TE_TEMPLATE = """module {name} {version};

require {{
\ttype {stype};
\ttype {ttype};
\tclass {tclass} {{ {perms} }};
}}

#============= {stype} ==============
allow {stype} {ttype}:{tclass} {{ {perms} }};
"""


@st.composite
def te_texts(draw) -> bytes:
    """A .te module: a template (with hostile names, half of the time) or one of
    policies/*.te or avcfix/lab/policies/*.te, then (the same half of the time) mutated."""
    clean = draw(st.booleans())  # half of the modules are valid: the merge itself gets exercised

    def name(normal: list[bytes]) -> bytes:
        return draw(st.sampled_from(normal) if clean else st.one_of(st.sampled_from(normal), hostile))

    fixtures = sorted([*(PROJECT / "policies").glob("*.te"), *(PROJECT / "avcfix" / "lab" / "policies").glob("*.te")],
                      key=lambda p: p.name)
    if fixtures and draw(st.booleans()):
        text = draw(st.sampled_from(fixtures)).read_bytes()
    else:
        text = TE_TEMPLATE.format(
            name=name([b"fuzz_local", b"m1"]).decode("latin-1"),
            version=draw(st.sampled_from(["1.0", "2", "1.x"])),
            stype=name(NORMAL_TYPES).decode("latin-1"), ttype=name(NORMAL_TYPES).decode("latin-1"),
            tclass=name(NORMAL_CLASSES).decode("latin-1"),
            perms=" ".join(name(NORMAL_PERMS).decode("latin-1") for _ in range(draw(st.integers(1, 3)))),
        ).encode("latin-1")
    lines = text.split(b"\n")
    ops = draw(st.lists(st.one_of(
        st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 255)),
        st.tuples(st.just("truncate"), st.integers(0, 10**6), st.integers(0, 10**6)),
        st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 10**6),
                  st.sampled_from(INSERTS + [b"(", b")", b";", b"`", b"'", b"dnl ", b"ifdef(`x',`"])),
    ), max_size=0 if clean else 2))
    return b"\n".join(mutate(lines, ops))
