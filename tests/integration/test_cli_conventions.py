"""CLI conventions (issue 16): plain text when stdout is not a terminal,
``--format``, ``NO_COLOR``, ``--brief``, ``--version``, shell completion and
``requires-python``.

Expected answers are not hard-coded: group counts come from the JSON
document's denials (counted here from their contexts), versions from the
installed package metadata, the accelerators' state from the modules that
load them, lab names from the scenario directory, and completion results
from running the generated bash/fish scripts in a real shell."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from cli_helpers import PROJECT, avcfix_exe

EUCA = str(PROJECT / "fixtures" / "eucanetd" / "audit.log")
CORPUS = PROJECT.parent / "shared" / "corpus"
COMPLETIONS = PROJECT / "completions"

#: Box drawing (U+2500-U+257F) and block elements rich uses for panels and tables.
BOX = re.compile("[\u2500-\u259f]")
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_TERMINAL", "TTY_COMPATIBLE", "COLUMNS", "FORCE_COLOR")}
    env.update(TZ="UTC", TERM="xterm-256color")
    env.update(extra)
    return env


def run(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``avcfix ARGS`` as a real process, stdout and stderr pipes (not terminals)."""
    proc = subprocess.run([avcfix_exe(), *args], capture_output=True, cwd=PROJECT, timeout=300,
                          env=env or _env(), check=False)
    if check:
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def colour_codes(data: bytes) -> list[str]:
    """The SGR parameters of ``data`` that set a colour (30-38, 40-48, 90-97, 100-107)."""
    found = []
    for params in SGR.findall(data.decode("utf-8", errors="replace")):
        for p in params.split(";"):
            if p.isdigit() and (30 <= int(p) <= 38 or 40 <= int(p) <= 48 or 90 <= int(p) <= 107):
                found.append(p)
    return found


def _type(context: str) -> str:
    return context.split(":")[2]


def group_keys(doc: dict) -> set:
    """The report's groups, counted from the JSON denials: (source, target, class, permissive)."""
    return {(_type(d["scontext"]), _type(d["tcontext"]), d["tclass"], bool(d["permissive"])) for d in doc["denials"]}


def corpus_logs() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(str(p) for p in CORPUS.glob("*.log") if p.is_file())[:6]


# ------------------------------------------------------------------ plain text


def test_why_piped_is_plain_text_one_finding_per_block():
    """``avcfix why LOG | cat``: no box drawing, no escape codes, no wrapping.
    Each block is one JSON rule (finding): every line of it starts with the
    rule's 'SOURCE TARGET:CLASS', and its first fix appears whole on one line
    (the old rich report boxed it and cut it at 80 columns)."""
    out = run("why", EUCA).stdout
    text = out.decode()
    assert not BOX.search(text) and b"\x1b" not in out
    doc = json.loads(run("why", "--json", EUCA).stdout)
    body, _, tail = text.rpartition("\n\n")
    blocks = [b.split("\n") for b in body.split("\n\n")]
    assert len(blocks) == len(doc["rules"])
    for lines, rule in zip(blocks, sorted(doc["rules"], key=lambda r: (r["source"], r["target"], r["class"],
                                                                          r["permissive"], r["perms"])), strict=True):
        prefix = f"{rule['source']} {rule['target']}:{rule['class']} "
        assert all(line.startswith(prefix) for line in lines), lines
        assert lines[0] == prefix + "denied: { " + " ".join(rule["perms"]) + " } x" + str(rule["count"])
        assert prefix + "reason: " + rule["reason"] in lines[1]
        if rule["advice"]:
            assert any(line.startswith(prefix + "fix 1: " + rule["advice"][0]["command"]) for line in lines)
    assert f"{doc['stats']['denials']} denials in {len(group_keys(doc))} groups" in tail
    assert max(len(line) for line in text.splitlines()) > 80  # long lines are kept whole


def test_text_output_is_deterministic_and_default_when_piped():
    first = run("why", EUCA).stdout
    assert run("why", EUCA).stdout == first
    assert run("why", "--format", "text", EUCA).stdout == first


@pytest.mark.parametrize("log", [EUCA, *corpus_logs()])
def test_format_json_is_json(log):
    """``--format json`` gives the same bytes as ``--json`` (report and --brief)."""
    short = run("why", "--json", log)
    assert run("why", "--format", "json", log).stdout == short.stdout
    assert run("why", "--brief", "--json", log).stdout == run("why", "--brief", "--format", "json", log).stdout


def test_json_and_another_format_is_a_usage_error():
    proc = run("why", "--json", "--format", "text", EUCA, check=False)
    assert proc.returncode == 2 and b"--format" in proc.stderr


def test_format_rich_keeps_the_report_and_no_color_turns_colour_off():
    """``--format rich`` on a (forced) terminal is coloured; ``NO_COLOR`` (any
    non-empty value) and ``TERM=dumb`` turn the colour off, an empty NO_COLOR
    does not (https://no-color.org)."""
    tty = {"TTY_COMPATIBLE": "1", "COLUMNS": "200"}  # rich: treat stdout as a terminal
    coloured = run("why", EUCA, env=_env(**tty)).stdout
    assert BOX.search(coloured.decode())  # rich is the default on a terminal
    assert colour_codes(coloured)
    assert run("why", "--format", "rich", EUCA, env=_env(**tty)).stdout == coloured
    assert colour_codes(run("why", "--format", "rich", EUCA, env=_env(NO_COLOR="", **tty)).stdout)
    for env in (_env(NO_COLOR="1", **tty), _env(**tty, TERM="dumb")):
        plain = run("why", "--format", "rich", EUCA, env=env).stdout
        assert not colour_codes(plain) and BOX.search(plain.decode())
        assert not colour_codes(run("why", "--brief", "--format", "rich", EUCA, env=env).stdout)


# ------------------------------------------------------------------ --brief


@pytest.mark.parametrize("log", [EUCA, *corpus_logs()])
def test_brief_one_line_per_group(log):
    """--brief: as many lines as the JSON document has groups (counted here from
    its denials), their counts add up to the denials; json: the same rows."""
    doc = json.loads(run("why", "--json", log).stdout)
    keys = group_keys(doc)
    text = run("why", "--brief", log).stdout.decode()
    lines = text.splitlines()
    assert len(lines) == len(keys) and text.endswith("\n") or (not keys and text == "")
    fields = [line.split("\t") for line in lines]
    assert all(len(f) == 6 for f in fields)
    assert sum(int(f[0]) for f in fields) == doc["stats"]["denials"]
    counts = [int(f[0]) for f in fields]
    assert counts == sorted(counts, reverse=True)  # most denials first
    rows = json.loads(run("why", "--brief", "--format", "json", log).stdout)
    assert len(rows) == len(keys)
    assert {(r["source"], r["target"], r["class"], r["permissive"]) for r in rows} == keys
    by_rule = {}
    for rule in doc["rules"]:
        by_rule.setdefault((rule["source"], rule["target"], rule["class"], rule["permissive"]), set()).add(rule["reason"])
    for r, f in zip(rows, fields, strict=False):
        assert set(r["reasons"]) == by_rule[(r["source"], r["target"], r["class"], r["permissive"])]
        assert f[1] == r["source"] and f[2] == f"{r['target']}:{r['class']}" and f[4] == ",".join(r["reasons"])


def test_brief_rich_is_a_table():
    out = run("why", "--brief", "--format", "rich", EUCA, env=_env(COLUMNS="250")).stdout.decode()
    doc = json.loads(run("why", "--json", EUCA).stdout)
    assert out.splitlines()[0].split()[:3] == ["count", "domain", "target:class"]
    assert f"{doc['stats']['denials']} denials in {len(group_keys(doc))} groups" in out


# ------------------------------------------------------------------ --version


def _version_lines(env: dict) -> list[str]:
    proc = run("--version", env=env)
    assert proc.stderr == b""
    return proc.stdout.decode().splitlines()


def test_version():
    """The version is the installed package's; the accelerators' state is what
    the modules that load them decided (accel.cscan, index.build.policy_dumper)."""
    from avcfix.audit import accel
    from avcfix.index.build import policy_dumper

    lines = _version_lines(_env())
    assert lines[0] == f"avcfix {metadata.version('avcfix')}"
    text = "\n".join(lines)
    scan = next(line for line in lines if line.startswith("C scanner"))
    assert scan.split(": ", 1)[1].startswith("loaded") == (accel.cscan is not None)
    reader = next(line for line in lines if line.startswith("C policy reader"))
    assert reader.split(": ", 1)[1].startswith("loaded") == (policy_dumper() is not None)
    assert f"setools {metadata.version('setools')}" in text
    pure = _version_lines(_env(AVCFIX_PURE="1"))
    assert "off (AVCFIX_PURE" in next(line for line in pure if line.startswith("C scanner"))


def test_version_loads_no_subcommand():
    code = ("import sys; from avcfix.cli import main; import io, contextlib\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = main(['--version'])\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith('avcfix.cli.') or m == 'setools'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PROJECT).stdout.split(" ", 1)
    assert out[0] == "0"
    for heavy in ("avcfix.cli.why", "avcfix.cli.build", "avcfix.cli.loop", "setools"):
        assert heavy not in out[1]


# ------------------------------------------------------------------ completion


def test_completion_files_match_the_cli():
    """completions/ is what ``make completions`` writes for the current CLI."""
    from avcfix.cli.completion import FILES, SCRIPTS

    for shell, name in FILES.items():
        path = COMPLETIONS / name
        assert path.is_file(), f"{path} missing: run make completions"
        assert path.read_text() == SCRIPTS[shell](), f"{path} is stale: run make completions"


def bash_complete(*words: str, cwd: Path = PROJECT) -> list[str]:
    """Run the bash completion function ``_avcfix`` on ``words`` (the last is the one completed)."""
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    arr = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f"source {COMPLETIONS / 'avcfix.bash'}\n"
              f"COMP_WORDS=({arr}); COMP_CWORD={len(words) - 1}\n"
              "_avcfix\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                          cwd=cwd, check=True, env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"})
    return [line for line in proc.stdout.splitlines() if line]


def test_bash_completes_subcommands_and_root_options():
    from avcfix.cli import COMMANDS

    assert bash_complete("avcfix", "") == list(COMMANDS)
    assert bash_complete("avcfix", "wh") == ["why"]
    assert bash_complete("avcfix", "b") == ["build", "bundle"]
    assert bash_complete("avcfix", "--v") == ["--version"]


def test_bash_completes_every_option_of_every_command():
    """Each subcommand's options as click knows them, and nothing else."""
    import typer.main

    from avcfix.cli import COMMANDS, app, load_commands

    load_commands([])
    root = typer.main.get_command(app)
    for name in COMMANDS:
        want = {o for p in root.commands[name].params if getattr(p, "param_type_name", "") == "option"
                for o in (*p.opts, *getattr(p, "secondary_opts", ()))} | {"--help"}
        assert set(bash_complete("avcfix", name, "-")) == want, name
    assert "--brief" in bash_complete("avcfix", "why", "--b")
    assert bash_complete("avcfix", "why", "--fo") == ["--format"]


def test_bash_completes_values_and_files(tmp_path):
    from avcfix.lab.scenario import LABS_DIR

    assert bash_complete("avcfix", "why", "--format", "") == ["rich", "text", "json"]
    assert bash_complete("avcfix", "build", "--format", "=", "j") == ["json"]  # --format=j, as bash splits it
    labs = sorted(p.stem for p in LABS_DIR.glob("*.toml"))
    assert labs and bash_complete("avcfix", "loop", "--lab", "") == labs
    assert bash_complete("avcfix", "loop", "--lab", labs[0][:3]) == [n for n in labs if n.startswith(labs[0][:3])]
    (tmp_path / "audit.log").write_text("")
    (tmp_path / "adir").mkdir()
    assert bash_complete("avcfix", "why", "au", cwd=tmp_path) == ["audit.log"]
    assert bash_complete("avcfix", "why", "--policy", "au", cwd=tmp_path) == ["audit.log"]
    assert bash_complete("avcfix", "build", "--out-dir", "a", cwd=tmp_path) == ["adir"]
    assert bash_complete("avcfix", "why", "--domain", "") == []  # a free value: nothing offered


def test_zsh_and_fish_scripts_parse():
    for shell, name in (("zsh", "_avcfix"), ("fish", "avcfix.fish")):
        if shutil.which(shell) is None:
            continue
        subprocess.run([shell, "-n", str(COMPLETIONS / name)], check=True, capture_output=True)
    if shutil.which("zsh") is None and shutil.which("fish") is None:
        pytest.skip("neither zsh nor fish is installed")


def test_fish_completes_subcommands_and_values():
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")

    def complete(line: str) -> list[str]:
        proc = subprocess.run(["fish", "--no-config", "-c", f"source {COMPLETIONS / 'avcfix.fish'}; "
                               f"complete -C '{line}'"], capture_output=True, text=True, check=True, cwd=PROJECT)
        return [row.split("\t")[0] for row in proc.stdout.splitlines()]

    assert complete("avcfix wh") == ["why"]
    assert sorted(complete("avcfix why --format ")) == ["json", "rich", "text"]
    assert "--brief" in complete("avcfix why --br")


# ------------------------------------------------------------------ requires-python


def test_requires_python_matches_the_code():
    """The oldest Python the code runs on: 3.11 for tomllib, 3.10 for
    dataclass(slots=True) (both used in avcfix/); pyproject says the same,
    in requires-python and in the classifiers."""
    needs = (3, 0)
    for path in (PROJECT / "avcfix").rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        if re.search(r"^\s*import tomllib|^\s*from tomllib import", src, re.M):
            needs = max(needs, (3, 11))
        if "slots=True" in src:
            needs = max(needs, (3, 10))
    assert needs == (3, 11)
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={needs[0]}.{needs[1]}"
    classifiers = project.get("classifiers", [])
    assert f"Programming Language :: Python :: {needs[0]}.{needs[1]}" in classifiers
    assert sys.version_info >= needs


def test_text_report_to_a_closed_pipe_is_the_documented_exit(tmp_path):
    """``avcfix why LOG | head -c 64`` in text: the report (well over a pipe's
    64 KiB buffer) meets a closed pipe: exit 141, no traceback."""
    gen = PROJECT / "bench" / "gen.py"
    if not gen.exists():
        pytest.skip("bench/gen.py not present")
    log = tmp_path / "groups.log"
    subprocess.run([sys.executable, str(gen), "--groups", "1500", "-o", str(log), "--seed", "5"], check=True)
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([avcfix_exe(), "why", "--all", str(log)], stdout=write_end, stderr=subprocess.PIPE,
                            env=_env())
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read(64)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141, err
    assert b"Traceback" not in err and b"internal error" not in err


def test_every_command_runs_with_the_distributions_typer(tmp_path) -> None:
    """The .deb runs avcfix with Debian 12's python3-typer (0.7), which reads only
    ``Optional[X]`` in a command's signature (``X | None`` raises "Type not yet
    supported" when the command is built). Every command's --help, and a why run,
    with /usr/bin/python3 and the system's typer, from outside the source tree."""
    import shutil
    import subprocess

    system_python = shutil.which("python3", path="/usr/bin")
    if system_python is None:
        pytest.skip("no /usr/bin/python3")
    probe = subprocess.run([system_python, "-c", "import typer, rich"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("the system python has no typer/rich (python3-typer, python3-rich: make setup installs them)")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(PROJECT), "HOME": str(tmp_path)}
    for argv in (["--version"], ["why", "--help"], ["build", "--help"], ["loop", "--help"], ["merge", "--help"],
                 ["bundle", "--help"], ["why", EUCA, "--brief"]):
        cp = subprocess.run([system_python, "-m", "avcfix", *argv], capture_output=True, text=True, cwd=tmp_path,
                            env=env, check=False)
        assert cp.returncode == 0, (argv, cp.stderr[-2000:])
