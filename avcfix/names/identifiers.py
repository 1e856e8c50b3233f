"""SELinux identifier grammar: what may be written into policy as a name.

Everything avcfix writes into a ``.te`` or ``.cil`` file as a type, attribute,
role, class, permission, boolean or module name must pass :func:`identifier_problem`.
The rule is checkpolicy's lexer rule for ``IDENTIFIER``
(``{letter}({alnum}|[_-])*([.]?({alnum}|[_-]))*``), which is also what
``cil_verify_name()`` accepts, minus the words the languages treat as
keywords (checkpolicy's lexer: :data:`TE_KEYWORDS`; libsepol's CIL:
:data:`CIL_KEYWORDS`), and minus every name with a word that m4 would expand
when the refpolicy build runs over the ``.te`` (builtins, refpolicy's macros
and the installed headers' interfaces: see :mod:`avcfix.names.m4names`). Log
text that fails the check never reaches policy; it is reported and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Literal

from avcfix.errors import PolicyError
from avcfix.names.m4names import m4_words, static_m4_problem

__all__ = [
    "CIL_KEYWORDS", "CIL_KEYWORDS_USED_AS_NAMES", "InvalidIdentifier", "Kind",
    "MAX_IDENTIFIER_LENGTH", "TE_KEYWORDS", "check_identifier", "check_version", "default_module_name",
    "identifier_problem", "is_identifier", "version_problem",
]

#: checkpolicy's IDENTIFIER: a letter, then letters, digits, ``_`` or ``-``,
#: with single dots in between (never two in a row, never at the end).
_IDENTIFIER_RE = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*\Z")

#: A module version as checkmodule accepts it and people write it.
_VERSION_RE = re.compile(r"[0-9]+(?:\.[0-9]+)*\Z")

#: Longest name accepted; real policy names are far shorter.
MAX_IDENTIFIER_LENGTH = 255

#: checkpolicy's keywords: every word of its lexer (checkpolicy/policy_scan.l,
#: 3.4 to 3.8; it matches each in lower and upper case, avcfix refuses any case),
#: and ``self``, which the grammar reserves. ``filesystem`` is not one (it is a
#: token class of the lexer and a real object class).
TE_KEYWORDS = frozenset(
    """
    alias allow allowxperm and attribute attribute_role auditallow auditallowxperm
    auditdeny bool category class clone common constrain default_range
    default_role default_type default_user devicetreecon dom domby dominance
    dontaudit dontauditxperm else eq expandattribute false fs_use_task
    fs_use_trans fs_use_xattr fscon genfscon glblub h1 h2 high ibendportcon
    ibpkeycon if incomp inherits iomemcon ioportcon l1 l2 level low low-high
    mlsconstrain mlsvalidatetrans module netifcon neverallow neverallowxperm
    nodecon not optional or pcidevicecon permissive pirqcon policycap portcon
    r1 r2 r3 range range_transition require role role_transition roleattribute
    roles sameuser self sensitivity sid source t1 t2 t3 target true tunable type
    type_change type_member type_transition typealias typeattribute typebounds
    types u1 u2 u3 user validatetrans xor
    """.split()
)

#: libsepol's CIL keywords: every key of cil_init_keys() (libsepol/cil/src/cil.c,
#: 3.4 to 3.8) that can be an identifier, and the operators of its expressions.
CIL_KEYWORDS = frozenset(
    """
    all allow allowx and any auditallow auditallowx block blockabstract
    blockinherit boolean booleanif call category categoryalias
    categoryaliasactual categoryorder categoryset char cil class classcommon
    classmap classmapping classorder classpermission classpermissionset common
    constrain context dccp defaultrange defaultrole
    defaulttype defaultuser deny devicetreecon dir dom domby dontaudit
    dontauditx eq expandtypeattribute false file filecon fsuse genfscon glblub
    h1 h2 handleunknown high ibendportcon ibpkeycon in incomp iomemcon
    ioportcon ioctl ipaddr l1 l2 level levelrange lme lms lmx low low-high
    macro mls mlsconstrain mlsvalidatetrans name neq netifcon neverallow
    neverallowx nlmsg nodecon not notself object_r optional or other
    pcidevicecon perm permissionx pipe pirqcon policycap portcon r1 r2 r3
    range rangetransition reject role roleallow roleattribute roleattributeset
    rolebounds roletransition roletype sctp self selinuxuser
    selinuxuserdefault sensitivity sensitivityalias sensitivityaliasactual
    sensitivitycategory sensitivityorder sid sidcontext sidorder socket source
    string symlink t1 t2 t3 target task tcp trans true tunable tunableif type
    typealias typealiasactual typeattribute typeattributeset typebounds
    typechange typemember typepermissive typetransition u1 u2 u3 udp
    unordered user userattribute userattributeset userbounds userlevel
    userprefix userrange userrole validatetrans xattr xor
    """.split()
)

#: CIL keywords that are also real object class or permission names
#: (``class file``, ``dir``, ``socket``, ``context``; ``binder { call }``,
#: ``ioctl``, ``nlmsg``): CIL reads them by position there, so a class or
#: permission may be named so; a type, boolean or user may not.
CIL_KEYWORDS_USED_AS_NAMES = frozenset("call context dir file ioctl nlmsg socket".split())

#: What a name is. A class or permission may be one of
#: :data:`CIL_KEYWORDS_USED_AS_NAMES`, the role ``object_r`` is CIL's own, and a
#: module name may be any CIL keyword (CIL never reads it: a CIL module is named
#: by its file); no other name may be a CIL keyword. ``None`` (a name of unknown
#: use) may be any of these but a module's.
Kind = Literal["type", "attribute", "role", "user", "bool", "module", "class", "permission"]

#: The CIL keywords each kind of name may be (see :data:`Kind`).
_CIL_ALLOWED: dict[str | None, frozenset[str]] = {
    None: CIL_KEYWORDS_USED_AS_NAMES | {"object_r"},
    "class": CIL_KEYWORDS_USED_AS_NAMES,
    "permission": CIL_KEYWORDS_USED_AS_NAMES,
    "role": frozenset({"object_r"}),
    "module": CIL_KEYWORDS,
}


class InvalidIdentifier(PolicyError, ValueError):
    """A name that must not be written into policy."""


def identifier_problem(name: object, kind: Kind | None = None, reserved: Collection[str] = ()) -> str | None:
    """Why ``name`` is not a safe SELinux identifier, or ``None`` when it is.

    ``kind`` says what the name is (see :data:`Kind`); ``None`` accepts what a
    class, permission or role may be named (callers that check a name of unknown use).
    ``reserved`` holds more m4 macro names to refuse, the installed headers'
    interfaces (:func:`avcfix.names.m4names.header_macro_names`).
    """
    if not isinstance(name, str):
        return "not a string"
    if not name:
        return "empty name"
    if len(name) > MAX_IDENTIFIER_LENGTH:
        return f"longer than {MAX_IDENTIFIER_LENGTH} characters"
    if not _IDENTIFIER_RE.match(name):
        return "not an SELinux identifier (a letter, then letters, digits, '_', '-' or single '.')"
    lowered = name.lower()
    if lowered in TE_KEYWORDS:
        return "a policy language keyword"
    if lowered in CIL_KEYWORDS and lowered not in _CIL_ALLOWED.get(kind, frozenset()):
        return "a CIL keyword"
    for word in m4_words(name):
        problem = static_m4_problem(word)
        if problem is None and word in reserved:
            problem = f"{word!r} is a macro of the refpolicy headers: the m4 build would expand it"
        if problem is not None:
            return problem if word == name else f"{problem} (m4 reads it as a word of {name!r})"
    return None


def is_identifier(name: object, kind: Kind | None = None, reserved: Collection[str] = ()) -> bool:
    """True when ``name`` may be written into policy as a name (see :func:`identifier_problem`)."""
    return identifier_problem(name, kind, reserved) is None


def check_identifier(name: str, what: str = "name", kind: Kind | None = None,
                     reserved: Collection[str] = ()) -> str:
    """Return ``name`` or raise :class:`InvalidIdentifier` saying ``what`` it was."""
    problem = identifier_problem(name, kind, reserved)
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
