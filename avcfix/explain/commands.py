"""Exact, shell-safe fix commands built from (untrusted) log text.

Paths and other free text are quoted with :func:`shlex.quote`; names must pass
SELinux's identifier grammar before they appear in a command or a rule; ports
must be integers in range. Every builder returns ``None`` when its input is
not safe to show, so no log text can inject a command or a policy statement.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from avcfix.names.identifiers import is_identifier

#: Control characters (and Unicode line separators): never shown in a command.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

#: Regex metacharacters escaped in a file_contexts path regex.
_FC_SPECIAL = set("\\.^$|?*+()[]{}")


#: Directories a fix never relabels recursively (nor gives a ``DIR(/.*)?`` file
#: context): a log that names one would otherwise relabel a whole system tree.
SYSTEM_TREES = frozenset(
    "/ /bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /media /mnt /opt /proc /root /run "
    "/sbin /srv /sys /tmp /usr /usr/bin /usr/lib /usr/lib64 /usr/libexec /usr/local /usr/sbin /usr/share "
    "/var /var/backups /var/cache /var/db /var/empty /var/lib /var/local /var/lock /var/log /var/mail /var/opt "
    "/var/run /var/spool /var/tmp /usr/include /usr/lib32 /usr/libx32 /usr/src /etc/default "
    "/etc/init.d /etc/systemd /run/user".split()
)


def safe_path(path: str | None) -> str | None:
    """``path`` when it is absolute, free of control characters and of ``.``/``..``
    segments (a log's ``/var/www/../..`` must not become a fix for ``/``), else ``None``."""
    if not path or not path.startswith("/") or _CONTROL_RE.search(path) or len(path) > 4096:
        return None
    if any(seg in (".", "..") for seg in path.split("/")):
        return None
    return path


def is_system_tree(path: str) -> bool:
    """``path`` (slashes normalised) is ``/`` or one of :data:`SYSTEM_TREES`."""
    return ("/" + "/".join(seg for seg in path.split("/") if seg)) in SYSTEM_TREES


def fc_regex(path: str, tree: bool) -> str:
    """A file_contexts regex matching ``path`` exactly (and below it when ``tree``)."""
    stripped = path.rstrip("/") or "/"
    body = "".join("\\" + c if c in _FC_SPECIAL else c for c in stripped)
    return body + "(/.*)?" if tree else body


def setsebool(settings: Sequence[tuple[str, bool]]) -> str | None:
    """``setsebool -P NAME on`` or, for several, ``setsebool -P A=on B=off``."""
    if not settings or not all(is_identifier(n) for n, _ in settings):
        return None
    words = ["on" if v else "off" for _, v in settings]
    if len(settings) == 1:
        return f"setsebool -P {settings[0][0]} {words[0]}"
    return "setsebool -P " + " ".join(f"{n}={w}" for (n, _), w in zip(settings, words, strict=True))


def semanage_port(port_type: str, proto: str, port: int | None, modify: bool = False) -> str | None:
    """``semanage port -a -t TYPE -p PROTO PORT`` (``PORT`` when the log lacks it);
    ``-m`` instead of ``-a`` for a port the policy already defines."""
    if not is_identifier(port_type) or proto not in {"tcp", "udp", "sctp", "dccp"}:
        return None
    op = "-m" if modify else "-a"
    if port is None:
        return f"semanage port {op} -t {port_type} -p {proto} PORT"
    if not isinstance(port, int) or not 0 < port < 65536:
        return None
    return f"semanage port {op} -t {port_type} -p {proto} {port}"


def restorecon(path: str, recursive: bool = False) -> str | None:
    """``restorecon -v PATH`` (``-Rv`` for a directory tree), the path quoted."""
    p = safe_path(path)
    if p is None:
        return None
    recursive = recursive and not is_system_tree(p)
    return f"restorecon -{'R' if recursive else ''}v {shlex.quote(p)}"


def semanage_fcontext(file_type: str, path: str, tree: bool) -> str | None:
    """``semanage fcontext -a -t TYPE 'REGEX' && restorecon -v PATH``."""
    p = safe_path(path)
    if p is None or not is_identifier(file_type) or (tree and is_system_tree(p)):
        return None
    rc = restorecon(p.rstrip("/") or "/", recursive=tree)
    return f"semanage fcontext -a -t {file_type} {shlex.quote(fc_regex(p, tree))} && {rc}"


def semanage_fcontext_equal(standard: str, custom: str) -> str | None:
    """``semanage fcontext -a -e STANDARD CUSTOM && restorecon -Rv CUSTOM``: label
    the custom tree as file_contexts labels the standard one. Both paths quoted;
    ``None`` for an unsafe path, the same path twice, or a system tree as the
    custom tree (it would relabel the system)."""
    src, dst = safe_path(standard), safe_path(custom)
    if src is None or dst is None:
        return None
    src, dst = src.rstrip("/") or "/", dst.rstrip("/") or "/"
    if src == dst or is_system_tree(dst) or src == "/":
        return None
    if dst.startswith(src + "/") or src.startswith(dst + "/"):
        return None  # an equivalence inside itself loops
    return f"semanage fcontext -a -e {shlex.quote(src)} {shlex.quote(dst)} && {restorecon(dst, recursive=True)}"


def allow_rule(source: str, target: str, tclass: str, perms: Sequence[str]) -> str | None:
    """The allow rule ``avcfix build`` would write, with the real type names.

    The target is named even when it is the source (``allow a_t a_t:capability
    ...;``, what the module's ``allow a_t self:capability ...;`` means): advice
    reaches ``why --json``, bundles and loop reports, which never say ``self``.
    """
    names = [source, target, tclass, *perms]
    if not perms or not all(is_identifier(n) for n in names):
        return None
    ps = sorted(set(perms))
    body = ps[0] if len(ps) == 1 else "{ " + " ".join(ps) + " }"
    return f"allow {source} {target}:{tclass} {body};"


#: Most ioctl commands written into one allowxperm advice.
MAX_XPERM_CMDS = 64


def _rule_body(names: Sequence[str]) -> str:
    ps = sorted(set(names))
    return ps[0] if len(ps) == 1 else "{ " + " ".join(ps) + " }"


def allowxperm_rule(source: str, target: str, tclass: str, cmds: Sequence[int]) -> str | None:
    """``allowxperm S T:C ioctl 0x5401;`` (or ``{ 0x5401 0x5402 }``): the commands
    as 4-digit hex, every one a 16-bit integer; the names identifiers."""
    if not all(is_identifier(n) for n in (source, target, tclass)):
        return None
    if not cmds or len(set(cmds)) > MAX_XPERM_CMDS:
        return None
    if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 0xFFFF for c in cmds):
        return None
    words = [f"0x{c:04x}" for c in sorted(set(cmds))]
    body = words[0] if len(words) == 1 else "{ " + " ".join(words) + " }"
    return f"allowxperm {source} {target}:{tclass} ioctl {body};"


def dontaudit_rule(source: str, target: str, tclass: str, perms: Sequence[str]) -> str | None:
    """``dontaudit S T:C { perms };``: silences a denial without allowing it."""
    names = [source, target, tclass, *perms]
    if not perms or not all(is_identifier(n) for n in names):
        return None
    return f"dontaudit {source} {target}:{tclass} {_rule_body(perms)};"


def execstack_clear(path: str | None) -> str | None:
    """``execstack -c PATH`` (the path quoted): clears a binary's executable-stack flag."""
    p = safe_path(path)
    if p is None:
        return None
    return f"execstack -c {shlex.quote(p)}"


#: A kernel module name (or alias such as ``net-pf-10``) as written into modules-load.d.
_KMOD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def modules_load(kmod: str | None) -> str | None:
    """``echo NAME > /etc/modules-load.d/NAME.conf``: load a kernel module at boot
    (only plain module names: letters, digits, ``_`` and ``-``)."""
    if not kmod or not _KMOD_RE.fullmatch(kmod):
        return None
    return f"echo {kmod} > /etc/modules-load.d/{kmod}.conf"


def note(template: str, **values: str | None) -> str | None:
    """A change to make by hand (no command exists), shown as a shell comment:
    ``# TEMPLATE`` with each ``{name}`` replaced by its value, quoted. ``None``
    when a value is missing or holds control characters."""
    quoted = {}
    for key, value in values.items():
        if not value or _CONTROL_RE.search(value) or len(value) > 4096:
            return None
        quoted[key] = shlex.quote(value)
    return "# " + template.format(**quoted)
