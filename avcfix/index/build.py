"""Build the policy index: a binary policy (setools) into an SQLite database.

The heavy parts (types, classes, TE rules, role types and role allows) are
read by the optional C reader :mod:`avcfix.index._policydump` (libsepol) when
it is built, about 3 times faster; the setools code below stays the
reference and the fallback (:func:`policy_dumper`).

This and :mod:`avcfix.index.setools_facts` are the only modules that open a binary
policy with setools. Every name is stored once (``types``, ``classes``...);
rules refer to ids, and permission sets are integer bit masks over the
class's permissions (``classes.perms`` lists them in bit order).

The schema is versioned (:data:`SCHEMA_VERSION`); a database of another
version is stale and rebuilt by :mod:`avcfix.index.cache`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from avcfix.explain import labelfiles
from avcfix.explain.labelfiles import RUNTIME_CONTEXT_FILES
from avcfix.index.bindings import require

if TYPE_CHECKING:
    from avcfix.index._policydump import PolicyDump, RoleRows

#: Bump when the tables or their meaning change: older cache files are rebuilt.
#: 3: no ANALYZE statistics (queries.py names the index where the planner needs it).
SCHEMA_VERSION = 3

#: The interface version of :mod:`avcfix.index._policydump` this code reads.
DUMP_API = 1

#: Rule kinds of the ``te`` table.
ALLOW, AUDITALLOW, DONTAUDIT = 1, 2, 3
_KINDS = {"allow": ALLOW, "auditallow": AUDITALLOW, "dontaudit": DONTAUDIT}

SCHEMA = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE types (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, attr INTEGER NOT NULL,
                    permissive INTEGER NOT NULL, bounds INTEGER);
CREATE TABLE aliases (alias TEXT PRIMARY KEY, type INTEGER NOT NULL);
CREATE TABLE typeattr (type INTEGER NOT NULL, attr INTEGER NOT NULL, PRIMARY KEY (type, attr)) WITHOUT ROWID;
CREATE TABLE classes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, perms TEXT NOT NULL);
CREATE TABLE te (kind INTEGER NOT NULL, src INTEGER NOT NULL, tgt INTEGER NOT NULL, cls INTEGER NOT NULL,
                 perms INTEGER NOT NULL, cond INTEGER NOT NULL, block INTEGER NOT NULL);
CREATE TABLE conds (id INTEGER PRIMARY KEY, expr TEXT NOT NULL, text TEXT NOT NULL, booleans TEXT NOT NULL);
CREATE TABLE booleans (name TEXT PRIMARY KEY, state INTEGER NOT NULL, description TEXT);
CREATE TABLE descriptions (name TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE xperms (kind INTEGER NOT NULL, src INTEGER NOT NULL, tgt INTEGER NOT NULL, cls INTEGER NOT NULL,
                     xtype TEXT NOT NULL, cmds TEXT NOT NULL);
CREATE TABLE constraints (cls INTEGER NOT NULL, perms INTEGER NOT NULL, mls INTEGER NOT NULL,
                          expr TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE users (name TEXT PRIMARY KEY, roles TEXT NOT NULL, range TEXT);
CREATE TABLE roles (name TEXT PRIMARY KEY);
CREATE TABLE role_types (role TEXT NOT NULL, type INTEGER NOT NULL, PRIMARY KEY (role, type)) WITHOUT ROWID;
CREATE TABLE role_allow (src TEXT NOT NULL, tgt TEXT NOT NULL, PRIMARY KEY (src, tgt)) WITHOUT ROWID;
CREATE TABLE sens (name TEXT PRIMARY KEY, ord INTEGER NOT NULL);
CREATE TABLE cats (name TEXT PRIMARY KEY, ord INTEGER NOT NULL);
CREATE TABLE levels (sens TEXT PRIMARY KEY, cats TEXT NOT NULL);
CREATE TABLE portcon (proto TEXT NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL, type TEXT NOT NULL);
CREATE TABLE genfs (type TEXT PRIMARY KEY);
CREATE TABLE runtime_types (type TEXT PRIMARY KEY);
CREATE TABLE fc (seq INTEGER PRIMARY KEY, regex TEXT NOT NULL, flag TEXT NOT NULL, type TEXT NOT NULL,
                 source TEXT NOT NULL);
CREATE TABLE fc_subs (seq INTEGER PRIMARY KEY, path TEXT NOT NULL, equiv TEXT NOT NULL, source TEXT NOT NULL);
"""

INDEXES = """
CREATE INDEX te_by_src ON te (cls, src, tgt);
CREATE INDEX te_by_tgt ON te (cls, tgt);
CREATE INDEX te_by_cond ON te (cond);
CREATE INDEX typeattr_by_attr ON typeattr (attr, type);
CREATE INDEX xperms_by_src ON xperms (cls, src);
CREATE INDEX fc_by_type ON fc (type);
CREATE INDEX portcon_by_type ON portcon (type);
"""

#: file_contexts files read into the ``fc`` table (``.homedirs`` is per user, left out).
FC_SUFFIXES = ("", ".local")
#: Path-equivalence files read into ``fc_subs``.
SUBS_SUFFIXES = (".subs_dist", ".subs")

_PROTOCOLS = {"6": "tcp", "17": "udp", "132": "sctp", "33": "dccp"}


class Inputs:
    """The files one index is built from; their bytes make the cache key."""

    __slots__ = ("policy", "file_contexts", "policy_xml")

    def __init__(self, policy: Path, file_contexts: Path | None, policy_xml: Path | None) -> None:
        self.policy = Path(policy)
        self.file_contexts = Path(file_contexts) if file_contexts is not None else None
        self.policy_xml = Path(policy_xml) if policy_xml is not None else None

    def files(self) -> list[tuple[str, Path]]:
        """(role, path) of every input file, present or not, in a fixed order."""
        out = [("policy", self.policy)]
        if self.file_contexts is not None:
            fc = self.file_contexts
            out += [(f"fc{s}", fc.with_name(fc.name + s)) for s in FC_SUFFIXES + SUBS_SUFFIXES]
            out += [(f"ctx:{n}", fc.parent.parent / n) for n in RUNTIME_CONTEXT_FILES]
        if self.policy_xml is not None:
            out.append(("policy.xml", self.policy_xml))
        return out


class PolicyDumper(Protocol):
    """The C reader's interface (the module :mod:`avcfix.index._policydump`
    satisfies it: ``_policydump.pyi`` types what its method table exports)."""

    def read(self, data: bytes, /) -> PolicyDump: ...


def policy_dumper() -> PolicyDumper | None:
    """The C reader (:mod:`avcfix.index._policydump`), or ``None`` to read
    everything with setools.

    ``AVCFIX_INDEX_READER=setools`` (or ``AVCFIX_PURE=1``) forces setools;
    ``AVCFIX_INDEX_READER=sepol`` requires the C reader (ImportError when it is
    not built). Both fill the same database: tests/integration/test_index_dump.py.
    """
    choice = os.environ.get("AVCFIX_INDEX_READER", "").lower()
    if choice == "setools" or (choice != "sepol" and os.environ.get("AVCFIX_PURE", "") not in ("", "0")):
        return None
    try:
        from avcfix.index import _policydump
    except ImportError:
        if choice == "sepol":
            raise
        return None
    if getattr(_policydump, "API", None) != DUMP_API:
        if choice == "sepol":
            raise ImportError(f"avcfix.index._policydump has API {getattr(_policydump, 'API', None)}, "
                              f"not {DUMP_API}: reinstall (make setup)")
        return None
    return _policydump


def create(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)


def build(db: sqlite3.Connection, inputs: Inputs, meta: dict[str, str],
          descriptions: Callable[[bytes], dict[str, str]] | None = None) -> None:
    """Fill an empty database (``create`` done) from ``inputs``; ``meta`` is stored as is.

    ``descriptions``: policy.xml's bytes -> its boolean descriptions (the
    cache's, which parses each policy.xml once); by default parsed here.
    No ANALYZE: its statistics made the planner pick ``te_by_tgt`` for the
    explain's (class, sources, targets) look-up, 7 times slower than
    ``te_by_src``; the one query that needs ``te_by_tgt`` names it.

    Raises whatever setools (or the C reader: ValueError) raises for an
    unreadable policy; the caller (:mod:`avcfix.index.cache`) turns it into a
    PolicyError.
    """
    setools = require("setools", "reading a binary policy")

    dumper = policy_dumper()
    dump = dumper.read(inputs.policy.read_bytes()) if dumper is not None else None  # ValueError: bad policy
    builder = _Builder(db, None, dump)
    if dump is not None:
        # the heavy rows go in and are freed before setools loads its own copy
        # of the policy (the peak memory of a cold run)
        builder._from_dump(dump)
        builder.dump = {"role_types": dump["role_types"], "role_allow": dump["role_allow"]}
        del dump
    builder.p = setools.SELinuxPolicy(str(inputs.policy))
    builder.run()
    if inputs.file_contexts is not None:
        _file_contexts(db, inputs.file_contexts)
    if inputs.policy_xml is not None:
        _descriptions(db, inputs.policy_xml, descriptions)
    db.executescript(INDEXES)
    db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))


class _Builder:
    """Fills the tables from a setools policy; with ``dump`` (the rows
    :mod:`avcfix.index._policydump` read), the types, classes, TE rules and
    role types come from it instead (the setools code stays the reference)."""

    def __init__(self, db: sqlite3.Connection, policy: Any, dump: RoleRows | None = None) -> None:
        self.db = db
        self.p = policy
        self.dump = dump
        self.type_ids: dict[str, int] = {}
        self.class_bits: dict[str, dict[str, int]] = {}
        self.class_ids: dict[str, int] = {}
        self.cond_ids: dict[tuple[str, ...], int] = {}

    def run(self) -> None:
        """Everything but what :meth:`_from_dump` inserted (when the C reader ran)."""
        if self.dump is None:
            self._types()
            self._classes()
            self._rules()
        self._constraints()
        self._rbac()
        self._mls()
        self._labels()
        p = self.p
        self.db.executemany("INSERT INTO booleans (name, state) VALUES (?, ?)",
                            sorted((str(b), int(bool(b.state))) for b in p.bools()))
        self.db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("mls", "1" if p.mls else "0"),
            ("handle_unknown", str(p.handle_unknown)),
            ("policy_version", str(p.version)),
        ])

    # ---------------------------------------------------------- the C reader

    def _from_dump(self, dump: PolicyDump) -> None:
        """What _types, _classes and _rules insert, from the C reader's rows."""
        db = self.db
        db.executemany("INSERT INTO types VALUES (?, ?, ?, ?, ?)", dump["types"])
        db.executemany("INSERT OR IGNORE INTO typeattr VALUES (?, ?)", dump["typeattr"])
        db.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)", sorted(dump["aliases"]))
        self.type_ids = {name: tid for tid, name, *_ in dump["types"]}
        db.executemany("INSERT INTO classes VALUES (?, ?, ?)", dump["classes"])
        for cid, name, perms in dump["classes"]:
            self.class_ids[name] = cid
            self.class_bits[name] = {n: 1 << b for b, n in enumerate(perms.split())}
        for cid, tokens in dump["conds"]:
            self.cond_ids[tokens] = cid
            names = sorted({t[2:] for t in tokens if t.startswith("b:")})
            db.execute("INSERT INTO conds VALUES (?, ?, ?, ?)",
                       (cid, json.dumps(tokens), _cond_text(tokens), " ".join(names)))
        db.executemany("INSERT INTO te VALUES (?, ?, ?, ?, ?, ?, ?)", dump["te"])
        db.executemany("INSERT INTO xperms VALUES (?, ?, ?, ?, ?, ?)", dump["xperms"])

    # ---------------------------------------------------------------- types

    def _types(self) -> None:
        p = self.p
        rows = []
        names = sorted([(str(t), 0, t) for t in p.types()] + [(str(a), 1, a) for a in p.typeattributes()],
                       key=lambda x: x[0])
        for i, (name, _is_attr, _obj) in enumerate(names, start=1):
            self.type_ids[name] = i
        members: list[tuple[int, int]] = []
        aliases: list[tuple[str, int]] = []
        for name, is_attr, obj in names:
            tid = self.type_ids[name]
            if is_attr:
                rows.append((tid, name, 1, 0, None))
                continue
            rows.append((tid, name, 0, int(bool(obj.ispermissive)), None))
            members.append((tid, tid))
            members.extend((tid, self.type_ids[str(a)]) for a in obj.attributes())
            aliases.extend((str(a), tid) for a in obj.aliases())
        self.db.executemany("INSERT INTO types VALUES (?, ?, ?, ?, ?)", rows)
        self.db.executemany("INSERT OR IGNORE INTO typeattr VALUES (?, ?)", members)
        self.db.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)", sorted(aliases))
        bounds = []
        for b in p.bounds():
            if str(getattr(b, "ruletype", "typebounds")) == "typebounds":
                bounds.append((self.type_ids[str(b.parent)], self.type_ids[str(b.child)]))
        self.db.executemany("UPDATE types SET bounds = ? WHERE id = ?", bounds)

    def _classes(self) -> None:
        import setools  # build() required it

        rows = []
        for i, cls in enumerate(sorted(self.p.classes(), key=str), start=1):
            perms = set(str(x) for x in cls.perms)
            try:
                perms |= {str(x) for x in cls.common.perms}
            except setools.exception.NoCommon:
                pass
            ordered = sorted(perms)
            self.class_bits[str(cls)] = {n: 1 << b for b, n in enumerate(ordered)}
            self.class_ids[str(cls)] = i
            rows.append((i, str(cls), " ".join(ordered)))
        self.db.executemany("INSERT INTO classes VALUES (?, ?, ?)", rows)

    def _mask(self, tclass: str, perms: Iterable[Any]) -> int:
        bits = self.class_bits[tclass]
        mask = 0
        for perm in perms:
            mask |= bits.get(str(perm), 0)
        return mask

    # ---------------------------------------------------------------- rules

    def _cond(self, cond: Any) -> int:
        tokens = tuple(_cond_token(x) for x in cond.expression())
        found = self.cond_ids.get(tokens)
        if found is None:
            found = self.cond_ids[tokens] = len(self.cond_ids) + 1
            names = sorted({str(b) for b in cond.booleans})
            self.db.execute("INSERT INTO conds VALUES (?, ?, ?, ?)",
                            (found, json.dumps(tokens), str(cond), " ".join(names)))
        return found

    def _rules(self) -> None:
        from setools.policyrep import TERuletype

        kinds = {TERuletype.allow: ALLOW, TERuletype.auditallow: AUDITALLOW, TERuletype.dontaudit: DONTAUDIT}
        xkinds = {TERuletype.allowxperm: ALLOW, TERuletype.auditallowxperm: AUDITALLOW,
                  TERuletype.dontauditxperm: DONTAUDIT}
        ids = self.type_ids
        te: list[tuple[int, int, int, int, int, int, int]] = []
        xp: list[tuple[int, int, int, int, str, str]] = []
        seen_cond: set[tuple[int, int, int, int, int, int, int]] = set()
        for rule in self.p.terules():
            kind = kinds.get(rule.ruletype)
            if kind is None:
                xkind = xkinds.get(rule.ruletype)
                if xkind is not None:
                    cls = str(rule.tclass)
                    xp.append((xkind, ids[str(rule.source)], ids[str(rule.target)], self.class_ids[cls],
                               str(rule.xperm_type), _ranges(int(c) for c in rule.perms)))
                continue
            cls = str(rule.tclass)
            try:
                cond = rule.conditional
            except Exception:  # setools: RuleNotConditional
                cond_id, block = 0, 1
            else:
                cond_id, block = self._cond(cond), int(bool(rule.conditional_block))
            row = (kind, ids[str(rule.source)], ids[str(rule.target)], self.class_ids[cls],
                   self._mask(cls, rule.perms), cond_id, block)
            if cond_id:
                if row in seen_cond:
                    continue
                seen_cond.add(row)
            te.append(row)
        self.db.executemany("INSERT INTO te VALUES (?, ?, ?, ?, ?, ?, ?)", te)
        self.db.executemany("INSERT INTO xperms VALUES (?, ?, ?, ?, ?, ?)", xp)

    def _constraints(self) -> None:
        rows = []
        for c in self.p.constraints():
            ruletype = str(c.ruletype)
            if ruletype not in ("constrain", "mlsconstrain"):
                continue
            cls = str(c.tclass)
            tokens = [_constraint_token(x) for x in c.expression]
            rows.append((self.class_ids[cls], self._mask(cls, c.perms), int(ruletype == "mlsconstrain"),
                         json.dumps(tokens), str(c).strip()))
        self.db.executemany("INSERT INTO constraints VALUES (?, ?, ?, ?, ?)", rows)

    def _rbac(self) -> None:
        p = self.p
        users = []
        for u in p.users():
            rng = str(u.mls_range) if p.mls else None
            users.append((str(u), " ".join(sorted(str(r) for r in u.roles)), rng))
        self.db.executemany("INSERT INTO users VALUES (?, ?, ?)", users)
        dump = self.dump
        roles = list(p.roles())
        self.db.executemany("INSERT INTO roles VALUES (?)", [(str(r),) for r in roles])
        if dump is not None:  # setools builds every role's type set, slowly
            self.db.executemany("INSERT OR IGNORE INTO role_types VALUES (?, ?)", dump["role_types"])
            allows = set(dump["role_allow"])  # a binary policy has no role attributes left
        else:
            role_types: list[tuple[str, int]] = []
            for r in roles:
                role_types.extend((str(r), self.type_ids[str(t)]) for t in r.types())
            self.db.executemany("INSERT OR IGNORE INTO role_types VALUES (?, ?)", role_types)
            allows = set()
            for rule in p.rbacrules():
                if str(rule.ruletype) != "allow":
                    continue
                for s in _expand_roles(rule.source):
                    for t in _expand_roles(rule.target):
                        allows.add((s, t))
        self.db.executemany("INSERT INTO role_allow VALUES (?, ?)", sorted(allows))

    def _mls(self) -> None:
        p = self.p
        if not p.mls:
            return
        sens = []
        for i, s in enumerate(sorted(p.sensitivities())):
            sens.append((str(s), i))
            sens.extend((str(a), i) for a in s.aliases())
        self.db.executemany("INSERT OR IGNORE INTO sens VALUES (?, ?)", sens)
        cats = []
        for c in p.categories():
            cats.append((str(c), int(c._value) if hasattr(c, "_value") else _cat_ord(str(c))))
            cats.extend((str(a), cats[-1][1]) for a in c.aliases())
        self.db.executemany("INSERT OR IGNORE INTO cats VALUES (?, ?)", cats)
        ords = dict(cats)
        levels = []
        for lv in p.levels():
            levels.append((str(lv.sensitivity), _ranges(ords[str(c)] for c in lv.categories())))
        self.db.executemany("INSERT OR REPLACE INTO levels VALUES (?, ?)", levels)

    def _labels(self) -> None:
        p = self.p
        ports = []
        for pc in p.portcons():
            proto = str(pc.protocol).lower()
            ports.append((_PROTOCOLS.get(proto, proto), int(pc.ports.low), int(pc.ports.high),
                          str(pc.context.type_)))
        self.db.executemany("INSERT INTO portcon VALUES (?, ?, ?, ?)", sorted(ports))
        genfs = sorted({(str(g.context.type_),) for g in p.genfscons()})
        self.db.executemany("INSERT INTO genfs VALUES (?)", genfs)


def _expand_roles(obj: Any) -> list[str]:
    try:
        return sorted(str(r) for r in obj.expand())
    except AttributeError:
        return [str(obj)]


def _cat_ord(name: str) -> int:
    digits = "".join(ch for ch in name if ch.isdigit())
    return int(digits) if digits else 0


def _cond_token(x: Any) -> str:
    """One token of a conditional's postfix expression: ``b:NAME`` or ``o:OP``."""
    from setools.policyrep import Boolean

    return f"b:{x}" if isinstance(x, Boolean) else f"o:{x}"


#: setools' precedence of the conditional operators (Conditional.__str__).
_COND_PRECEDENCE = {"!": 5, "||": 1, "&&": 3, "^": 2, "==": 4, "!=": 4}


def _cond_text(tokens: tuple[str, ...]) -> str:
    """The infix text setools' ``str(Conditional)`` gives for these postfix tokens
    (its parenthesising, step by step, for the ``conds.text`` column)."""
    stack: list[Any] = []
    prev = 5
    for token in tokens:
        kind, value = token[:2], token[2:]
        if kind == "b:":
            stack.append(value)
        elif value == "!":
            operand = stack.pop()
            stack.append([value, "(", operand, ")"] if isinstance(operand, list) else [value, operand])
            prev = 5
        else:
            first, second = stack.pop(), stack.pop()
            precedence = _COND_PRECEDENCE[value]
            stack.append([first, value, second] if prev > precedence else ["(", first, value, second, ")"])
            prev = precedence
    out: list[str] = []

    def flatten(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                flatten(item)
            else:
                out.append(item)

    flatten(stack)
    return " ".join(out)


def _constraint_token(x: Any) -> Any:
    """A constraint postfix token: an operand/operator string, or a sorted list of names."""
    if isinstance(x, str):
        return x
    return sorted(str(n) for n in x)


def _ranges(values: Iterable[int]) -> str:
    """``1,2,3,7`` -> ``"1-3,7"`` (sorted, merged)."""
    out: list[str] = []
    items = sorted(set(values))
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        out.append(str(items[i]) if i == j else f"{items[i]}-{items[j]}")
        i = j + 1
    return ",".join(out)


def parse_ranges(text: str) -> frozenset[int]:
    """Inverse of :func:`_ranges`."""
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(out)


def _file_contexts(db: sqlite3.Connection, fc: Path) -> None:
    rows: list[tuple[int, str, str, str, str]] = []
    for suffix in FC_SUFFIXES:
        path = fc.with_name(fc.name + suffix)
        for regex, flag, ftype in labelfiles.fc_entries(path):
            rows.append((len(rows) + 1, regex, flag, ftype, path.name))
    db.executemany("INSERT INTO fc VALUES (?, ?, ?, ?, ?)", rows)
    subs: list[tuple[int, str, str, str]] = []
    for suffix in SUBS_SUFFIXES:
        path = fc.with_name(fc.name + suffix)
        for orig, equiv in labelfiles.subs_entries(path):
            subs.append((len(subs) + 1, orig, equiv, path.name))
    db.executemany("INSERT INTO fc_subs VALUES (?, ?, ?, ?)", subs)
    found = labelfiles.runtime_types(fc.parent.parent)
    db.executemany("INSERT INTO runtime_types VALUES (?)", sorted((t,) for t in found))


def _descriptions(db: sqlite3.Connection, xml: Path,
                  parse: Callable[[bytes], dict[str, str]] | None = None) -> None:
    if parse is None:
        from avcfix.explain.booldesc import parse_descriptions

        parse = parse_descriptions

    try:
        data = xml.read_bytes()
    except OSError:
        return
    found = sorted(parse(data).items())
    # every description policy.xml has, in the policy or not (as PolicyFacts.boolean_description)
    db.executemany("INSERT OR REPLACE INTO descriptions VALUES (?, ?)", found)
    for name, text in found:
        db.execute("UPDATE booleans SET description = ? WHERE name = ?", (text, name))
