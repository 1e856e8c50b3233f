"""SELinux identifier grammar: what may be written into policy as a name.

Everything avcfix writes into a ``.te`` or ``.cil`` file as a type, attribute,
role, class, permission, boolean or module name must pass :func:`identifier_problem`.
The rule is checkpolicy's lexer rule for ``IDENTIFIER``
(``{letter}({alnum}|[_-])*([.]?({alnum}|[_-]))*``), which is also what
``cil_verify_name()`` accepts, minus the words that the two languages (and m4,
which the refpolicy build runs over ``.te`` files) treat as keywords. Log text
that fails the check never reaches policy; it is reported and skipped.
"""

from __future__ import annotations

import re

from avcfix.errors import PolicyError

#: checkpolicy's IDENTIFIER: a letter, then letters, digits, ``_`` or ``-``,
#: with single dots in between (never two in a row, never at the end).
_IDENTIFIER_RE = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*\Z")

#: A module version as checkmodule accepts it and people write it.
_VERSION_RE = re.compile(r"[0-9]+(?:\.[0-9]+)*\Z")

#: Longest name accepted; real policy names are far shorter.
MAX_IDENTIFIER_LENGTH = 255

#: checkpolicy's keywords (its lexer matches them case-insensitively).
TE_KEYWORDS = frozenset(
    """
    alias allow allowxperm and attribute attribute_role auditallow auditallowxperm
    auditdeny bool category class clone common constrain default_range
    default_role default_type default_user devicetreecon dom domby dominance
    dontaudit dontauditxperm else eq expandattribute filesystem fs_use_task
    fs_use_trans fs_use_xattr genfscon glblub h1 h2 high ibendportcon ibpkeycon
    if incomp inherits iomemcon ioportcon l1 l2 level low low-high
    mlsconstrain mlsvalidatetrans module netifcon neq neverallow neverallowxperm
    nodecon not optional or pcidevicecon permissive pirqcon policycap portcon
    r1 r2 r3 range range_transition require role role_transition roleattribute
    roles sameuser self sensitivity sid source t1 t2 t3 target true false
    tunable type type_change type_member type_transition typealias
    typeattribute typebounds types u1 u2 u3 user validatetrans xor
    """.split()
)

#: CIL words that would change the meaning of an expression.
CIL_KEYWORDS = frozenset("all and dom domby eq incomp neq not or range self xor".split())

#: m4 builtins: refpolicy-style modules go through m4, where these expand.
M4_BUILTINS = frozenset(
    """
    builtin changecom changequote changeword debugfile debugmode decr define defn
    divert divnum dnl dumpdef errprint esyscmd eval format ifdef ifelse include
    incr index indir len m4exit m4wrap maketemp mkstemp patsubst popdef pushdef
    regexp shift sinclude substr syscmd sysval traceoff traceon translit
    undefine undivert
    """.split()
)


class InvalidIdentifier(PolicyError, ValueError):
    """A name that must not be written into policy."""


def identifier_problem(name: object) -> str | None:
    """Why ``name`` is not a safe SELinux identifier, or ``None`` when it is."""
    if not isinstance(name, str):
        return "not a string"
    if not name:
        return "empty name"
    if len(name) > MAX_IDENTIFIER_LENGTH:
        return f"longer than {MAX_IDENTIFIER_LENGTH} characters"
    if not _IDENTIFIER_RE.match(name):
        return "not an SELinux identifier (a letter, then letters, digits, '_', '-' or single '.')"
    lowered = name.lower()
    if lowered in TE_KEYWORDS or lowered in CIL_KEYWORDS:
        return "a policy language keyword"
    if name in M4_BUILTINS:
        return "an m4 builtin"
    return None


def is_identifier(name: object) -> bool:
    """True when ``name`` may be written into policy as a name."""
    return identifier_problem(name) is None


def check_identifier(name: str, what: str = "name") -> str:
    """Return ``name`` or raise :class:`InvalidIdentifier` saying ``what`` it was."""
    problem = identifier_problem(name)
    if problem is not None:
        raise InvalidIdentifier(f"invalid {what} {name!r}: {problem}")
    return name


def version_problem(version: object) -> str | None:
    """Why ``version`` is not a module version like ``1.0``, or ``None``."""
    if not isinstance(version, str) or not _VERSION_RE.match(version) or len(version) > 64:
        return "not a module version (digits separated by single dots, like 1.0)"
    return None


def check_version(version: str) -> str:
    """Return ``version`` or raise :class:`InvalidIdentifier`."""
    problem = version_problem(version)
    if problem is not None:
        raise InvalidIdentifier(f"invalid module version {version!r}: {problem}")
    return version


_NOT_NAME_CHAR_RE = re.compile(r"[^A-Za-z0-9_]")


def default_module_name(name: str) -> str:
    """The module ``avcfix build`` (and a bundle) writes for ``name``: ``NAME_local``,
    ``_t`` dropped and every character that is not a letter, digit or ``_`` made
    ``_`` (``eucalyptus_eucanetd_t`` -> ``eucalyptus_eucanetd_local``,
    ``python3.11`` -> ``python3_11_local``, ``7zip`` -> ``m_7zip_local``)."""
    base = name[:-2] if name.endswith("_t") and len(name) > 2 else name
    base = _NOT_NAME_CHAR_RE.sub("_", base).strip("_") or "avcfix"
    if not base[0].isalpha():
        base = "m_" + base
    return f"{base}_local"
