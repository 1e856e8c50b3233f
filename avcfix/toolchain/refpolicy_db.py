"""The interface database of a refpolicy devel tree, made by the real m4.

A devel tree is the ``include/`` directory next to a devel ``Makefile``:
Debian's ``/usr/share/selinux/devel`` (selinux-policy-dev), Fedora's
``ROOT/usr/share/selinux/devel`` (selinux-policy-devel). :func:`devel_tree`
picks ``ROOT/usr/share/selinux/devel`` for a policy root when it exists, else
the host's.

:func:`build_database` expands the macros exactly as the Makefile builds a
module: it asks make for ``M4PARAM`` (the ``-D`` flags of build.conf), builds
``tmp/all_interfaces.conf`` as the Makefile does (m4 over ``support/*.spt``
and every layer's ``*.if``, ``dollarsstar`` put back), then runs ONE m4 with
``M4PARAM`` over the support files, all_interfaces.conf and a probe module
that calls, between comment markers,

- every interface whose body names ``$1`` and no other argument (no ``$2``..,
  ``$*``, ``$@``, ``$#``) with a placeholder domain,
- every permission-set macro (``*_perms`` of support/obj_perm_sets.spt),
- every pattern macro of support/*_patterns.spt that takes ``$1``..``$3``,
  with three placeholders.

The expansions are read by :mod:`avcfix.policy.refpolicy.access`. An
interface is usable for exact matching only when its expansion is nothing but
plain allow rules whose source is ``$1`` (``self`` kept, attributes kept as
names: an attribute target never equals a type from a log, so such an
interface is never "exact"); rules inside ``optional``/``if``/tunable blocks
count as access (worst case) but not as coverage (they may be off). An
interface whose expansion does anything else (``typeattribute``,
``type_transition``, ``role``, ``dontaudit``, rules for another source, a
deprecated interface (``refpolicywarn``), a template) is kept with the reason
it is refused.

The database is cached as JSON like the policy index: one file per input hash
(``refpolicy-KEY.json`` in ``$AVCFIX_CACHE_DIR``, else
``$XDG_CACHE_HOME/avcfix/refpolicy``), KEY the
SHA-256 of the devel tree's files (Makefile and every file under include/)
and of this builder's source; the file carries the SHA-256 of its payload,
is written atomically, and a corrupt or unreadable file is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from avcfix import proc
from avcfix.cachedir import cache_dir
from avcfix.errors import CompileError
from avcfix.policy.refpolicy import access as access_mod
from avcfix.policy.refpolicy.access import parse_expanded
from avcfix.policy.refpolicy.match import DatabasePayload, InterfaceEntry
from avcfix.toolchain.compile import DEVEL_MAKEFILE, devel_build_for

SCHEMA = 1
HOST_DEVEL = DEVEL_MAKEFILE.parent

#: Placeholders for the macro arguments (words no header defines).
PLACEHOLDERS = ("avcfixarg1_t", "avcfixarg2_t", "avcfixarg3_t")
_MARK = "# avcfix-probe"
_INTERFACE_RE = re.compile(r"^\s*interface\(\s*`([A-Za-z_][A-Za-z0-9_]*)'\s*,", re.MULTILINE)
_DEFINE_RE = re.compile(r"^\s*define\(\s*`([A-Za-z_][A-Za-z0-9_]*)'\s*,", re.MULTILINE)
_ARG_RE = re.compile(r"\$([0-9*@#])")


@dataclass(frozen=True, slots=True)
class DevelTree:
    """A devel Makefile and its header tree."""

    makefile: Path
    include: Path

    def make_argv(self, *targets: str) -> list[str]:
        """``make -f MAKEFILE HEADERDIR=INCLUDE TARGET...`` (Fedora's Makefile reads
        HEADERDIR; Debian's sets it, and a command-line value wins)."""
        return ["make", "-f", str(self.makefile), f"HEADERDIR={self.include}", *targets]


def devel_tree(root: Path | None = None) -> DevelTree:
    """The devel tree for a policy root (the one :func:`~avcfix.toolchain.compile.devel_build_for`
    picks for compiling: the root's own, else the host's); raises :class:`CompileError`
    when it has no Makefile and headers."""
    makefile, headerdir = devel_build_for(root)
    include = headerdir if headerdir is not None else makefile.parent / "include"
    if makefile.is_file() and (include / "support").is_dir():
        return DevelTree(makefile, include)
    raise CompileError(f"the refpolicy style needs a devel Makefile and its headers ({makefile.parent}; "
                       "selinux-policy-dev / selinux-policy-devel)")


def m4_params(tree: DevelTree) -> list[str]:
    """The Makefile's ``M4PARAM`` (``-D enable_mcs -D distro_debian ...``), asked of make itself."""
    argv = ["make", "-s", "-f", str(tree.makefile), f"HEADERDIR={tree.include}",
            "--eval", "avcfix-print-m4param: ; @echo '$(M4PARAM)'", "avcfix-print-m4param"]
    r = proc.run(argv, timeout=60)
    if not r.ok:
        raise CompileError(f"cannot read M4PARAM from {tree.makefile}: {(r.stderr or r.stdout).strip()[-500:]}")
    return r.stdout.split()


def support_files(tree: DevelTree) -> list[Path]:
    """``support/*.spt`` (the Makefile's ``m4support``)."""
    return sorted((tree.include / "support").glob("*.spt"))


def interface_files(tree: DevelTree) -> list[Path]:
    """Every layer's ``*.if`` (the Makefile's ``header_interfaces``), in its order."""
    layers = sorted(p for p in tree.include.iterdir() if p.is_dir() and p.name != "support")
    return [f for layer in layers for f in sorted(layer.glob("*.if"))]


def _quoted_body(text: str, start: int) -> str:
    """The m4-quoted argument starting at or after ``start`` (the text between the
    outer `` ` `` and its matching ``'``)."""
    i = text.find("`", start)
    if i < 0:
        return ""
    depth, j = 0, i
    while j < len(text):
        ch = text[j]
        if ch == "`":
            depth += 1
        elif ch == "'":
            depth -= 1
            if depth == 0:
                return text[i + 1:j]
        j += 1
    return text[i + 1:]


def _args_used(body: str) -> set[str]:
    return set(_ARG_RE.findall(body))


def single_domain_interfaces(files: list[Path]) -> tuple[list[str], dict[str, str]]:
    """(names of the interfaces that take only ``$1``, {refused name: why})."""
    ok: list[str] = []
    refused: dict[str, str] = {}
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        for m in _INTERFACE_RE.finditer(text):
            name = m.group(1)
            used = _args_used(_quoted_body(text, m.end()))
            if "refpolicywarn" in _quoted_body(text, m.end()):
                refused[name] = "deprecated (refpolicywarn)"
            elif used - {"1"}:
                refused[name] = "takes more arguments than the domain"
            elif "1" not in used:
                refused[name] = "does not take the domain as $1"
            else:
                ok.append(name)
        for m in re.finditer(r"^\s*template\(\s*`([A-Za-z_][A-Za-z0-9_]*)'", text, re.MULTILINE):
            refused[m.group(1)] = "a template"
    ok = sorted(set(ok) - set(refused))
    return ok, refused


def support_macros(tree: DevelTree) -> tuple[list[str], list[str]]:
    """(permission-set macro names, 3-argument pattern macro names) of support/*.spt."""
    perms: set[str] = set()
    patterns: set[str] = set()
    for f in support_files(tree):
        text = f.read_text(encoding="utf-8", errors="replace")
        for m in _DEFINE_RE.finditer(text):
            name = m.group(1)
            if name.endswith("_perms") and f.name == "obj_perm_sets.spt":
                perms.add(name)
            elif name.endswith("_pattern"):
                used = _args_used(_quoted_body(text, m.end()))
                if used == {"1", "2", "3"}:
                    patterns.add(name)
    return sorted(perms), sorted(patterns)


def tree_key(tree: DevelTree) -> str:
    """SHA-256 of the devel tree (Makefile, every file under include/) and this builder's source."""
    h = hashlib.sha256(f"avcfix-refpolicy-db schema={SCHEMA}\n".encode())
    for src in (Path(__file__), Path(access_mod.__file__)):
        h.update(src.read_bytes())
    files = [tree.makefile] + sorted(p for p in tree.include.rglob("*") if p.is_file())
    for p in files:
        try:
            data = p.read_bytes()
        except OSError:
            data = b"<unreadable>"
        h.update(f"\n{p.relative_to(tree.include) if p != tree.makefile else 'Makefile'} {len(data)}\n".encode())
        h.update(data)
    return h.hexdigest()


def _probe(interfaces: list[str], perm_sets: list[str], patterns: list[str]) -> str:
    d, a, b = PLACEHOLDERS
    lines = ["policy_module(avcfixprobe, 1.0)",
             # a deprecated interface called by another one shows in the expansion
             "define(`refpolicywarn',`avcfix_deprecated_warning;')"]
    for name in interfaces:
        lines += [f"{_MARK} interface {name}", f"{name}({d})"]
    for name in perm_sets:
        lines += [f"{_MARK} perms {name}", f"allow {d} {a}:avcfixclass {name};"]
    for name in patterns:
        lines += [f"{_MARK} pattern {name}", f"{name}({d}, {a}, {b})"]
    lines.append(f"{_MARK} end -")
    return "\n".join(lines) + "\n"


def _split(out: str) -> dict[tuple[str, str], str]:
    parts: dict[tuple[str, str], str] = {}
    current: tuple[str, str] | None = None
    buf: list[str] = []
    for line in out.splitlines():
        if line.startswith(_MARK + " "):
            if current is not None:
                parts[current] = "\n".join(buf)
            kind, name = line[len(_MARK) + 1:].split(" ", 1)
            current, buf = (kind, name.strip()), []
        elif current is not None:
            buf.append(line)
    return parts


def _triples(access: set[tuple[str, str, str, str]]) -> list[list[str]]:
    return sorted([t, c, p] for _, t, c, p in access)


def _run_module_m4(tree: DevelTree, params: list[str], module_text: str, what: str) -> str:
    """m4 over a module's text as the Makefile runs it (``tmp/all_interfaces.conf``
    built first, then ``m4 M4PARAM support/*.spt all_interfaces.conf MODULE.te``)."""
    spt = support_files(tree)
    work = Path(tempfile.mkdtemp(prefix="avcfix-refpolicy-m4-"))
    try:
        (work / "iferror.m4").write_text("ifdef(`__if_error',`m4exit(1)')\n")
        r = proc.run(["m4", *map(str, spt), *map(str, interface_files(tree)), str(work / "iferror.m4")],
                     timeout=600)
        if not r.ok:
            raise CompileError(f"m4 failed on the headers of {tree.include}: {r.stderr.strip()[-800:]}")
        (work / "all_interfaces.conf").write_text(
            "divert(-1)\n" + r.stdout.replace("dollarsstar", "$*") + "divert\n", encoding="utf-8")
        (work / "module.te").write_text(module_text, encoding="utf-8")
        r = proc.run(["m4", *params, *map(str, spt), str(work / "all_interfaces.conf"), str(work / "module.te")],
                     timeout=900)
        if not r.ok:
            raise CompileError(f"m4 failed expanding the {what} with the headers of {tree.include}: "
                               f"{r.stderr.strip()[-800:]}")
        return r.stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)


def expand_module(tree: DevelTree, module_text: str) -> access_mod.Expanded:
    """What a module's text grants once m4 has expanded it with ``tree``'s headers."""
    return parse_expanded(_run_module_m4(tree, m4_params(tree), module_text, "module"))


def expand_parts(tree: DevelTree, parts: list[str], header: str = "policy_module(avcfixparts, 1.0)") -> list[
        access_mod.Expanded]:
    """What each text of ``parts`` grants, all expanded in one m4 run (after ``header``)."""
    body = [header]
    for i, part in enumerate(parts):
        body += [f"{_MARK} part {i}", part]
    body.append(f"{_MARK} end -")
    split = _split(_run_module_m4(tree, m4_params(tree), "\n".join(body) + "\n", "module"))
    return [parse_expanded(split.get(("part", str(i)), "")) for i in range(len(parts))]


def build_database(tree: DevelTree) -> DatabasePayload:
    """Expand every macro of interest with the real m4 (see the module docstring)."""
    params = m4_params(tree)
    ifs = interface_files(tree)
    names, refused = single_domain_interfaces(ifs)
    perm_sets, patterns = support_macros(tree)
    text = _run_module_m4(tree, params, _probe(names, perm_sets, patterns), "probe")
    parts = _split(text)
    d, a, b = PLACEHOLDERS
    db_ifs: dict[str, InterfaceEntry] = {}
    for name, why in sorted(refused.items()):
        db_ifs[name] = {"refused": why}
    for name in names:
        e = parse_expanded(parts.get(("interface", name), ""))
        why = ""
        if e.other:
            why = "does more than allow rules (" + ", ".join(sorted(set(e.other))) + ")"
        elif any(s != d for s, _, _, _ in e.access):
            why = "has rules for another source"
        elif any(d in (t, c, p) for _, t, c, p in e.access):
            why = "passes the domain as a target"
        elif not e.access:
            why = "grants nothing"
        if why:
            db_ifs[name] = {"refused": why}
        else:
            db_ifs[name] = {"refused": "", "certain": _triples(e.certain),
                            "conditional": _triples(e.conditional - e.certain)}
    db_perms: dict[str, list[str]] = {}
    for name in perm_sets:
        e = parse_expanded(parts.get(("perms", name), ""))
        if not e.other and e.certain:
            db_perms[name] = sorted({p for _, _, _, p in e.certain})
    db_patterns: dict[str, list[list[str]]] = {}
    for name in patterns:
        e = parse_expanded(parts.get(("pattern", name), ""))
        if e.other or e.conditional or not e.certain or any(s != d for s, _, _, _ in e.certain):
            continue
        if not all(t in (a, b) for _, t, _, _ in e.certain):
            continue
        db_patterns[name] = sorted([{a: "$2", b: "$3"}[t], c, p] for _, t, c, p in e.certain)
    return {"schema": SCHEMA, "include": str(tree.include), "m4param": params,
            "interfaces": db_ifs, "perm_sets": db_perms, "patterns": db_patterns}


# ------------------------------------------------------------------ cache


def _cache_dir() -> Path:
    """``$AVCFIX_CACHE_DIR``, else ``$XDG_CACHE_HOME/avcfix/refpolicy`` (:mod:`avcfix.cachedir`)."""
    return cache_dir("refpolicy")


def _read(path: Path, key: str) -> DatabasePayload | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        # what load_database wrote: trusted once its key, SHA-256 and schema match below
        payload: DatabasePayload = doc["payload"]
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        if doc.get("key") != key or doc.get("sha256") != hashlib.sha256(text.encode()).hexdigest():
            return None
        if payload.get("schema") != SCHEMA:
            return None
        return payload
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def load_database(tree: DevelTree, *, use_cache: bool = True) -> DatabasePayload:
    """The database of ``tree``: from the cache when a valid file is there, else
    built (and saved when the cache is writable)."""
    key = tree_key(tree)
    path = _cache_dir() / f"refpolicy-{key[:32]}.json"
    if use_cache:
        found = _read(path, key) if path.is_file() else None
        if found is not None:
            return found
    payload = build_database(tree)
    if use_cache:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        doc = {"key": key, "sha256": hashlib.sha256(text.encode()).hexdigest(), "payload": payload}
        try:
            from avcfix.toolchain.atomic import write_atomic

            write_atomic(path, json.dumps(doc, sort_keys=True, separators=(",", ":")))
        except OSError:
            pass  # not writable: used for this run only
    return payload
