"""The import graph of avcfix/: no cycle between packages, and the layer table of docs/architecture.md.

Every module of ``avcfix/`` is parsed with :mod:`ast`; every ``import`` and
``from ... import`` counts, those inside functions too (a lazy import is
still a dependency). A package is ``avcfix/NAME/`` or a top-level module
``avcfix/NAME.py``.

- No cycle between packages, but the ones listed in :data:`KNOWN_CYCLES`
  (not broken yet: the test fails when one grows, when a new one appears,
  and when a listed one is gone, so that the list only shrinks).
- The layer table of docs/architecture.md is read from the doc: each module
  belongs to the row naming it most precisely (a file before its package),
  and may import only modules of the layers in its row's last column.

Checked to fail: on the code before this change the cycle ``explain <->
policy`` (explain/commands.py -> policy/identifiers.py, policy/generate.py ->
explain/model.py) and ``system -> loop.fixes`` were found; a row narrowed by
hand (``interface`` without ``orchestration``) fails on cli/build.py. With
:data:`KNOWN_CYCLES` empty, the code before issue 17 fails with the cycles
explain/index/policy/toolchain and lab/loop/system (and
``test_the_named_cycles_stay_broken`` on ``explain -> index``).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
PKG = PROJECT / "avcfix"
DOC = PROJECT / "docs" / "architecture.md"

#: Cycles between packages that are not broken yet (see the module docstring):
#: none. Listing one again needs a reason in the commit that does it.
KNOWN_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(PROJECT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imports(mod: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The avcfix modules ``mod`` imports (anywhere in it)."""
    found: set[str] = set()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from avcfix.x import y``: y is a module when there is one
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # a name inside a module: the module
                name = name.rpartition(".")[0]
            if name.startswith("avcfix.") and name != mod:
                found.add(name)
    return found


def _package(mod: str) -> str:
    return mod.split(".")[1] if mod.count(".") else mod


def _graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], list[str]]]:
    modules = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    why: dict[tuple[str, str], list[str]] = defaultdict(list)
    for mod, path in modules.items():
        for dst in _imports(mod, path, modules):
            a, b = _package(mod), _package(dst)
            if a != b and a != "avcfix" and b != "avcfix":
                edges[a].add(b)
                why[a, b].append(f"{mod} -> {dst}")
    return edges, why


def _cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one package."""
    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    nodes = set(edges) | {b for bs in edges.values() for b in bs}
    reached = {n: reach(n) for n in nodes}
    out = set()
    for n in nodes:
        scc = frozenset({n} | {m for m in reached[n] if n in reached[m]})
        if len(scc) > 1:
            out.add(scc)
    return sorted(out, key=sorted)


def test_no_new_cycle_between_packages():
    edges, why = _graph()
    found = set(_cycles(edges))
    new = [c for c in found if c not in KNOWN_CYCLES]
    detail = [line for c in new for a in sorted(c) for b in sorted(edges[a] & c) for line in why[a, b]]
    assert not new, "package cycles:\n  " + "\n  ".join(detail)
    gone = KNOWN_CYCLES - found
    assert not gone, f"these cycles are broken now: take them out of KNOWN_CYCLES: {sorted(map(sorted, gone))}"


def test_the_named_cycles_stay_broken():
    edges, _ = _graph()
    assert "policy" not in edges["explain"]  # explain/commands.py builds names with avcfix/names/
    assert "loop" not in edges["names"] and "policy" not in edges["names"]
    _, why = _graph()
    assert not [w for w in why["system", "loop"] if "fixes" in w]  # the fixes are explain/fixes.py
    # explain/index/policy/toolchain: explain is pure (PolicyFacts is index/setools_facts.py, and
    # facts.py chooses and opens a backend); TargetPolicy and Names are index/setools_target.py
    assert not edges["explain"] & {"index", "toolchain", "facts"}, why["explain", "index"]
    assert "toolchain" not in edges["index"] and "facts" not in edges["index"], why["index", "toolchain"]
    # lab/loop/system: the loop's Protocols, values and preflight are looptypes/, below system/
    # and lab/; CurrentFacts is facts.py, FactsExplainer triage.py, write_json_atomic toolchain/atomic.py
    assert "loop" not in edges["system"] and "loop" not in edges["lab"], why["system", "loop"] + why["lab", "loop"]
    assert not edges["looptypes"] & {"system", "lab", "loop"}, why["looptypes", "system"]


# ------------------------------------------------------------------ the layer table

def _layer_table() -> list[tuple[str, list[str], list[str]]]:
    """``(layer, module paths, layers it may import)`` from the doc's table."""
    text = DOC.read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not line.startswith("|") or set(cells[0]) <= set("-: ") or cells[0] == "layer":
            continue
        paths = re.findall(r"`([\w/]+(?:\.py|/))`", cells[1])
        may = [m.strip() for m in re.findall(r"\*\*([\w ]+)\*\*", cells[2])]
        if paths:
            rows.append((cells[0], paths, may))
    return rows


def _layer_of(mod: str, rows) -> str | None:
    rel = "/".join(mod.split(".")[1:])
    best: tuple[int, str] | None = None
    for layer, paths, _ in rows:
        for p in paths:
            hit = (p.endswith(".py") and rel == p[:-3]) or (p.endswith("/") and (rel + "/").startswith(p))
            if hit and (best is None or len(p) > best[0]):
                best = (len(p), layer)
    return best[1] if best else None


def test_the_layer_table_is_read():
    rows = _layer_table()
    layers = [r[0] for r in rows]
    assert {"values", "pure core", "interface"} <= set(layers), layers
    for _, _, may in rows:
        assert set(may) <= set(layers), may


def test_every_module_has_a_layer_and_imports_only_what_its_row_says():
    rows = _layer_table()
    may = {layer: set(allowed) | {layer} for layer, _, allowed in rows}
    modules = _modules()
    unplaced, wrong = [], []
    for mod, path in modules.items():
        if mod == "avcfix" or mod == "avcfix.__main__":
            continue
        mine = _layer_of(mod, rows)
        if mine is None:
            unplaced.append(mod)
            continue
        for dst in _imports(mod, path, modules):
            if dst == "avcfix":
                continue
            theirs = _layer_of(dst, rows)
            if theirs not in may[mine]:
                wrong.append(f"{mod} ({mine}) -> {dst} ({theirs})")
    assert not unplaced, f"modules in no row of {DOC.name}'s layer table: {unplaced}"
    assert not wrong, "imports the layer table does not allow:\n  " + "\n  ".join(sorted(wrong))
