"""The skeleton of a new domain for a service that has none yet (``--new-domain``).

What ``sepolicy generate --init`` writes for a daemon, in refpolicy style, as
three files the devel Makefile builds together:

- ``NAME.te``: ``policy_module(NAME, 1.0.0)``; the domain ``NAME_t`` and its
  entry point ``NAME_exec_t`` with ``init_daemon_domain`` (init and its
  service manager transition to ``NAME_t`` when they execute a file labelled
  ``NAME_exec_t``); ``NAME_var_run_t`` (``/run/NAME``), ``NAME_log_t``
  (``/var/log/NAME``) and ``NAME_var_lib_t`` (``/var/lib/NAME``), each with
  the interface that makes it a run-time, log or plain file type, the manage
  patterns on its own type and the type transition that labels what the
  daemon creates in ``/run``, ``/var/log`` and ``/var/lib``; and the base
  access every daemon needs (its own pipes and unix stream sockets, the
  inherited descriptors, ``/etc``, locales, syslog).
- ``NAME.if``: the small interface set other modules call
  (``NAME_domtrans``, ``NAME_read_log``, ``NAME_manage_var_lib``...).
- ``NAME.fc``: the executable's path (escaped into a file-contexts regex) and
  the three directories, with ``gen_context``.

Only interfaces the target policy's headers define are written: the
reference policy and Fedora's differ (``files_runtime_file`` is
``files_pid_file`` on Fedora; a call that neither tree defines is left out
and listed in :attr:`Skeleton.left_out`). Permission sets are expanded (by the
caller, with m4 over the headers' ``support/obj_perm_sets.spt``) into plain
permission lists, so that every ``allow`` rule parses, merges and is verified after an
install like the loop's own rules.

``permissive NAME_t;``, which sepolicy writes, is NOT written by default:
``avcfix loop`` confines the service ENFORCING, so the skeleton is meant to
be enforced; ``permissive=True`` (``--permissive-domain``) adds it.

NAME and PATH come from the command line but are treated as untrusted: NAME
must be a lower-case identifier whose derived names are no m4 macro of the
headers (the whole module goes through m4), PATH an absolute, normalised path
without characters the file-contexts or m4 syntax would read.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from avcfix.errors import UsageError
from avcfix.names.identifiers import identifier_problem
from avcfix.names.m4names import m4_words, static_m4_problem

#: A new domain's NAME: what ``sepolicy generate`` accepts, lower case (m4 reads
#: ``NAME_domtrans`` as one word, so no ``-`` or ``.``).
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
MAX_NAME_LENGTH = 64

#: Characters of an executable path that are written as is (each other
#: character is refused; regex metacharacters among them are escaped).
_PATH_RE = re.compile(r"/[A-Za-z0-9_.+@%=:,/-]*\Z")
MAX_PATH_LENGTH = 4096

#: The directories every daemon skeleton labels: (suffix, fc dir, what).
RUN_DIR = "/run"
LOG_DIR = "/var/log"
LIB_DIR = "/var/lib"

#: The interfaces of the skeleton, each with its alternatives in order of
#: preference (the first one the headers define is written).
_ALTERNATIVES = {
    "runtime_file": ("files_runtime_file", "files_pid_file"),
    "runtime_filetrans": ("files_runtime_filetrans", "files_pid_filetrans"),
    "search_runtime": ("files_search_runtime", "files_search_pids"),
}
#: The patterns each private type gets (sepolicy's var_run/var_log/var_lib templates).
_MANAGE = ("manage_dirs_pattern", "manage_files_pattern", "manage_lnk_files_pattern")
#: The base access of a daemon (sepolicy's te_daemon rules and usual uses).
_BASE_CALLS = ("domain_use_interactive_fds", "files_read_etc_files", "miscfiles_read_localization",
               "logging_send_syslog_msg")
#: The base self rules: (class, permission set macro).
_SELF_RULES = (("fifo_file", "rw_fifo_file_perms"), ("unix_stream_socket", "create_stream_socket_perms"))
#: The permission sets the caller expands from the headers for :func:`write_skeleton`.
SELF_PERM_SETS = tuple(macro for _cls, macro in _SELF_RULES)

#: Every interface the skeleton's .te and .if call (all must be defined, or the line is left out).
REQUIRED = ("init_daemon_domain", "logging_log_file", "files_type", "logging_log_filetrans",
            "files_var_lib_filetrans", *_MANAGE)


@dataclass(frozen=True, slots=True)
class Skeleton:
    """The three files of a new domain's module, and what they declare."""

    name: str
    exec_path: str
    te: str
    if_text: str
    fc: str
    domain: str
    exec_type: str
    #: role -> type: ``{"run": NAME_var_run_t, "log": NAME_log_t, "lib": NAME_var_lib_t}``
    file_types: dict[str, str]
    permissive: bool = False
    #: Interface calls left out because the headers do not define them.
    left_out: tuple[str, ...] = ()
    #: Interfaces the .if defines.
    interfaces: tuple[str, ...] = field(default=())
    #: The executable's path in the .fc (``exec_path`` after the policy's path aliases).
    fc_exec_path: str = ""

    @property
    def types(self) -> tuple[str, ...]:
        return (self.domain, self.exec_type, *self.file_types.values())

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "exec": self.exec_path, "fc_exec": self.fc_exec_path or self.exec_path,
                "domain": self.domain, "exec_type": self.exec_type,
                "file_types": dict(self.file_types), "types": list(self.types),
                "interfaces": list(self.interfaces), "permissive": self.permissive,
                "left_out": list(self.left_out)}


# ---------------------------------------------------------------- validation

def derived_names(name: str) -> tuple[str, ...]:
    """Every name the skeleton writes from NAME (types and interface names)."""
    return (name, f"{name}_t", f"{name}_exec_t", f"{name}_var_run_t", f"{name}_log_t", f"{name}_var_lib_t",
            *(f"{name}_{i}" for i in _IF_NAMES))


def name_problem(name: object, macros: Collection[str] = ()) -> str | None:
    """Why ``name`` cannot name a new domain (None: it can)."""
    if not isinstance(name, str) or not name:
        return "empty name"
    if len(name) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    if not _NAME_RE.match(name):
        return "a new domain's name is a lower-case letter, then lower-case letters, digits or '_'"
    if name.endswith("_t"):
        return f"give the name without _t (the domain is NAME_t: {name}_t would be {name}_t_t)"
    for derived in derived_names(name):
        problem = identifier_problem(derived, "module" if derived == name else "type", reserved=macros)
        if problem:
            return f"{derived}: {problem}"
    return None


def check_name(name: str, macros: Collection[str] = ()) -> str:
    problem = name_problem(name, macros)
    if problem:
        raise UsageError(f"--new-domain {name!r}: not a valid domain name: {problem}")
    return name


def path_problem(path: object, macros: Collection[str] = ()) -> str | None:
    """Why ``path`` cannot be the executable's path in a ``.fc`` (None: it can)."""
    if not isinstance(path, str) or not path:
        return "empty path"
    if len(path) > MAX_PATH_LENGTH:
        return f"longer than {MAX_PATH_LENGTH} characters"
    if not path.startswith("/"):
        return "not an absolute path"
    if not _PATH_RE.match(path):
        bad = sorted({c for c in path if not re.match(r"[A-Za-z0-9_.+@%=:,/-]", c)})
        return ("characters a file-contexts line or m4 would read: "
                + " ".join(repr(c) for c in bad))
    parts = path.split("/")[1:]
    if path == "/" or path.endswith("/") or any(p in ("", ".", "..") for p in parts):
        return "not a normalised path to a file (no trailing '/', '//', '.' or '..')"
    for word in m4_words(path):
        problem = static_m4_problem(word)
        if problem is None and word in macros:
            problem = f"{word!r} is a macro of the refpolicy headers: the m4 build would expand it"
        if problem:
            return problem
    return None


def check_path(path: str, macros: Collection[str] = ()) -> str:
    problem = path_problem(path, macros)
    if problem:
        raise UsageError(f"--exec {path!r}: not a usable executable path: {problem}")
    return path


def fc_regex(path: str) -> str:
    """``path`` as a file-contexts regex that matches it alone (metacharacters escaped)."""
    from avcfix.explain.commands import fc_regex as _fc

    return _fc(path, tree=False)


# ---------------------------------------------------------------- headers

def devel_dir(root: Path | None = None) -> Path:
    """The devel tree to build with: ``ROOT/usr/share/selinux/devel`` when it
    exists (a policy root's own headers), else the host's."""
    if root is not None:
        mine = Path(root) / "usr" / "share" / "selinux" / "devel"
        if (mine / "include").is_dir():
            return mine
    return Path("/usr/share/selinux/devel")


# ---------------------------------------------------------------- writing

_IF_NAMES = ("domtrans", "read_log", "append_log", "manage_log", "read_pid_files", "search_lib",
             "read_lib_files", "manage_lib_files", "manage_var_lib")


def _pick(macros: Collection[str], key: str) -> str | None:
    return next((m for m in _ALTERNATIVES[key] if m in macros), None)


def write_skeleton(name: str, exec_path: str, *, macros: Collection[str],
                   perm_sets: Mapping[str, tuple[str, ...]] | None = None, permissive: bool = False,
                   fc_exec_path: str | None = None) -> Skeleton:
    """The skeleton's three files for ``name`` and ``exec_path``, using only the
    macros the headers define (``macros``: :func:`header_macro_names` of them)
    and the permission sets as the headers expand them (``perm_sets``: macro ->
    permissions, :func:`avcfix.toolchain.headers.expand_perm_set`; a rule whose
    set is not given is left out). ``fc_exec_path``: the executable's path as
    the policy's file_contexts spell it (after its ``.subs`` aliases; Fedora
    looks ``/usr/sbin/x`` up as ``/usr/bin/x``), default ``exec_path``.

    Raises :class:`UsageError` for a bad name or path, or headers that lack
    ``init_daemon_domain`` and the other interfaces no skeleton can do without.
    """
    check_name(name, macros)
    check_path(exec_path, macros)
    fc_exec_path = check_path(fc_exec_path, macros) if fc_exec_path is not None else exec_path
    missing = [m for m in REQUIRED if m not in macros]
    if missing:
        raise UsageError("the policy headers do not define " + ", ".join(missing)
                         + ": they are not refpolicy headers a daemon's domain can be written with")
    t, ex = f"{name}_t", f"{name}_exec_t"
    run_t, log_t, lib_t = f"{name}_var_run_t", f"{name}_log_t", f"{name}_var_lib_t"
    left_out: list[str] = []

    def call(macro: str | None, args: str, fallback: str) -> list[str]:
        if macro is None or macro not in macros:
            left_out.append(f"{fallback}({args})")
            return []
        return [f"{macro}({args})"]

    te: list[str] = [
        f"policy_module({name}, 1.0.0)",
        "",
        f"# the domain of {exec_path}, entered from init (systemd) by executing {ex}",
        f"type {t};",
        f"type {ex};",
        f"init_daemon_domain({t}, {ex})",
    ]
    if permissive:
        te += ["", "# the domain is permissive: denials are logged, not enforced", f"permissive {t};"]
    te += ["", f"# {RUN_DIR}/{name}: pid file and sockets"]
    te += [f"type {run_t};"] + call(_pick(macros, "runtime_file"), run_t, "files_runtime_file")
    te += ["", f"# {LOG_DIR}/{name}: log files", f"type {log_t};", f"logging_log_file({log_t})"]
    te += ["", f"# {LIB_DIR}/{name}: state", f"type {lib_t};", f"files_type({lib_t})"]
    te += ["", f"# {name} local policy: its own pipes and unix stream sockets"]
    for tclass, macro in _SELF_RULES:
        perms = tuple((perm_sets or {}).get(macro, ()))
        if perms:
            te.append(f"allow {t} self:{tclass} {{ {' '.join(perms)} }};")
        else:
            left_out.append(f"allow {t} self:{tclass} {macro};")
    te.append("")
    for private, trans, args in (
        (run_t, _pick(macros, "runtime_filetrans"), "files_runtime_filetrans"),
        (log_t, "logging_log_filetrans", "logging_log_filetrans"),
        (lib_t, "files_var_lib_filetrans", "files_var_lib_filetrans"),
    ):
        te += [f"{p}({t}, {private}, {private})" for p in _MANAGE]
        te += call(trans, f"{t}, {private}, {{ dir file lnk_file }}", args)
        te.append("")
    for macro in _BASE_CALLS:
        te += call(macro, t, macro)
    te_text = "\n".join(te).rstrip("\n") + "\n"

    if_text, interfaces = _write_if(name, macros, left_out)
    fc = "\n".join([
        f"{fc_regex(fc_exec_path)}\t--\tgen_context(system_u:object_r:{ex},s0)",
        "",
        f"{RUN_DIR}/{name}(/.*)?\tgen_context(system_u:object_r:{run_t},s0)",
        f"{LOG_DIR}/{name}(/.*)?\tgen_context(system_u:object_r:{log_t},s0)",
        f"{LIB_DIR}/{name}(/.*)?\tgen_context(system_u:object_r:{lib_t},s0)",
    ]) + "\n"
    return Skeleton(name, exec_path, te_text, if_text, fc, t, ex, {"run": run_t, "log": log_t, "lib": lib_t},
                    permissive, tuple(left_out), interfaces, fc_exec_path)


def _interface(name: str, summary: str, requires: list[str], body: list[str]) -> list[str]:
    return [
        "########################################",
        "## <summary>",
        f"##\t{summary}",
        "## </summary>",
        "## <param name=\"domain\">",
        "##\t<summary>",
        "##\tDomain allowed access.",
        "##\t</summary>",
        "## </param>",
        "#",
        f"interface(`{name}',`",
        "\tgen_require(`",
        *[f"\t\ttype {r};" for r in requires],
        "\t')",
        "",
        *[f"\t{line}" for line in body],
        "')",
        "",
    ]


def _write_if(name: str, macros: Collection[str], left_out: list[str]) -> tuple[str, tuple[str, ...]]:
    t, ex = f"{name}_t", f"{name}_exec_t"
    run_t, log_t, lib_t = f"{name}_var_run_t", f"{name}_log_t", f"{name}_var_lib_t"
    search_run = _pick(macros, "search_runtime")
    specs = [
        ("domtrans", f"Execute {name} in the {t} domain.", [t, ex],
         ["corecmd_search_bin($1)", f"domtrans_pattern($1, {ex}, {t})"]),
        ("read_log", f"Read {name}'s log files.", [log_t],
         ["logging_search_logs($1)", f"read_files_pattern($1, {log_t}, {log_t})"]),
        ("append_log", f"Append to {name}'s log files.", [log_t],
         ["logging_search_logs($1)", f"append_files_pattern($1, {log_t}, {log_t})"]),
        ("manage_log", f"Create, read, write and delete {name}'s log files.", [log_t],
         ["logging_search_logs($1)", f"manage_dirs_pattern($1, {log_t}, {log_t})",
          f"manage_files_pattern($1, {log_t}, {log_t})"]),
        ("read_pid_files", f"Read {name}'s pid files.", [run_t],
         ([f"{search_run}($1)"] if search_run else []) + [f"read_files_pattern($1, {run_t}, {run_t})"]),
        ("search_lib", f"Search {name}'s state directories.", [lib_t],
         ["files_search_var_lib($1)", f"allow $1 {lib_t}:dir search_dir_perms;"]),
        ("read_lib_files", f"Read {name}'s state files.", [lib_t],
         ["files_search_var_lib($1)", f"read_files_pattern($1, {lib_t}, {lib_t})"]),
        ("manage_lib_files", f"Create, read, write and delete {name}'s state files.", [lib_t],
         ["files_search_var_lib($1)", f"manage_files_pattern($1, {lib_t}, {lib_t})"]),
        ("manage_var_lib", f"Create, read, write and delete {name}'s state directories and files.", [lib_t],
         ["files_search_var_lib($1)", f"manage_dirs_pattern($1, {lib_t}, {lib_t})",
          f"manage_files_pattern($1, {lib_t}, {lib_t})", f"manage_lnk_files_pattern($1, {lib_t}, {lib_t})"]),
    ]
    out = [f"## <summary>policy for {name}</summary>", ""]
    names: list[str] = []
    for suffix, summary, requires, body in specs:
        calls = [re.match(r"([A-Za-z_]\w*)\(", line) for line in body]
        lacking = [m.group(1) for m in calls if m and m.group(1) not in macros]
        if lacking:
            left_out.append(f"{name}_{suffix} (the headers lack {', '.join(lacking)})")
            continue
        out += _interface(f"{name}_{suffix}", summary, requires, body)
        names.append(f"{name}_{suffix}")
    return "\n".join(out).rstrip("\n") + "\n", tuple(names)

