"""Names m4 would expand in a ``.te``: what a name from a log must never be.

A refpolicy-style module (``policy_module(...)``, interface calls) is built
with the devel Makefile, which runs m4 over the module together with the
refpolicy support macros (``support/*.spt``) and every interface of the
installed headers (``**/*.if``). m4 expands any *word* (``[_A-Za-z][_A-Za-z0-9]*``)
that names a macro, wherever it stands: ``manage_file_perms`` in a permission
set becomes twelve permissions, ``dnl`` swallows the rest of the line,
``x-gen_require`` hides a macro after the ``-``. A name taken from a log is
therefore refused when any of its m4 words is

- an m4 builtin (:data:`M4_BUILTINS`),
- a refpolicy support macro or a name the devel Makefile defines with ``-D``
  (:data:`REFPOLICY_MACROS`, :data:`REFPOLICY_PREFIXES`),
- a permission set, pattern or class set macro (:data:`REFPOLICY_SUFFIXES`:
  ``*_perms``, ``*_pattern``, ``*_class_set``), or
- any name the headers on the machine define (:func:`macro_names_in_text`
  finds ``define(`x'``, ``interface(`x'``, ``template(`x'``, ``pushdef(`x'``;
  :func:`avcfix.toolchain.headers.header_macro_names` reads the installed trees).

The static rules hold without headers, so a module written today stays safe
when it is built later on a machine that has them. Refusing is the rule, not
quoting: a quoted name would reach checkmodule as a permission or type that
does not exist, and the whole module would fail to install.
"""

from __future__ import annotations

import re

#: What m4 reads as one word (GNU m4 without ``changeword``).
M4_WORD_RE = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")

#: GNU m4's builtin macros (``echo dumpdef | m4``), with the platform macros of
#: other builds (``unix``, ``windows``, ``os2``) and ``changeword``.
M4_BUILTINS = frozenset(
    """
    __file__ __gnu__ __line__ __os2__ __program__ __unix__ __windows__ builtin
    changecom changequote changeword debugfile debugmode decr define defn divert
    divnum dnl dumpdef errprint esyscmd eval format ifdef ifelse include incr
    index indir len m4exit m4wrap maketemp mkstemp os2 patsubst popdef pushdef
    regexp shift sinclude substr syscmd sysval traceoff traceon translit
    undefine undivert unix windows
    """.split()
)

#: refpolicy's support macros (support/*.spt of refpolicy and Fedora's
#: selinux-policy) and the names its Makefiles define with ``m4 -D``.
REFPOLICY_MACROS = frozenset(
    """
    __endline__ __if_error __in_optional_policy can_exec decl_cats decl_levels
    decl_sens declare_required_symbols dflt_or_overr direct_initrc
    direct_sysadm_daemon enable_mcs enable_mls enable_ubac gen_all_interfaces
    gen_bool gen_cats gen_context gen_dominance gen_initial_sid gen_levels
    gen_require gen_sens gen_tunable gen_user hide_broken_symptoms ifndef
    init_systemd interface m4_fatal_error mcs_allcats mcs_num_cats
    mcs_systemhigh mcs_systemlow mls_num_cats mls_num_sens mls_systemhigh
    mls_systemlow optional_policy policy_call_depth policy_m4_comment
    policy_module refpolicyerr refpolicywarn require self_contained_policy
    shiftn template tunable_policy
    """.split()
)

#: Name prefixes the Makefiles define with ``-D`` (``distro_redhat``...).
REFPOLICY_PREFIXES = ("distro_",)

#: Suffixes of refpolicy's permission set, pattern and class set macros
#: (``manage_file_perms``, ``read_files_pattern``, ``dir_file_class_set``).
REFPOLICY_SUFFIXES = ("_perms", "_pattern", "_class_set")

#: A macro definition in a header: ``define(`NAME'``, ``interface(`NAME'``...
_DEFINITION_RE = re.compile(r"\b(?:define|interface|template|pushdef)\(\s*`([_A-Za-z][_A-Za-z0-9]*)'")

#: ``CUSTOM_BUILDOPT ?= a b`` in build.conf: each word is an ``m4 -D``.
_BUILDOPT_RE = re.compile(r"^\s*CUSTOM_BUILDOPT\s*[:?+]?=(.*)$", re.MULTILINE)


def m4_words(name: str) -> list[str]:
    """The words m4 sees in ``name`` (``a.b-gen_require`` -> ``a``, ``b``, ``gen_require``)."""
    return M4_WORD_RE.findall(name)


def static_m4_problem(word: str) -> str | None:
    """Why the m4 word ``word`` expands in every refpolicy build, or ``None``."""
    if word in M4_BUILTINS:
        return f"{word!r} is an m4 builtin"
    if word in REFPOLICY_MACROS or word.startswith(REFPOLICY_PREFIXES):
        return f"{word!r} is a refpolicy macro"
    for suffix in REFPOLICY_SUFFIXES:
        if word.endswith(suffix):
            return f"{word!r} is a refpolicy macro name (*{suffix}): the m4 build would expand it"
    return None


def macro_names_in_text(text: str) -> set[str]:
    """The macro names a header file (``.if``, ``.spt``) or ``build.conf`` defines.
    Names built from arguments (``define(`$1_x'``) exist only once a template runs;
    they are not found here."""
    names = set(_DEFINITION_RE.findall(text))
    for m in _BUILDOPT_RE.finditer(text):
        names.update(M4_WORD_RE.findall(m.group(1)))
    return names
