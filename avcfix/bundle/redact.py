"""Consistent redaction of host names, addresses, user names, ids and secrets (pure).

A :class:`Redactor` first *learns* the sensitive values of a bundle (``node=``
and ``hostname=`` values, the host's own names, user names from home
directories, ``ausearch -i`` / ENRICHED names and ``acct=``, uids above 999,
IP addresses, the secrets :mod:`avcfix.bundle.secrets` finds), then *applies*
the same placeholder to every occurrence, in every file: ``host-1``,
``ip-1``, ``/home/user-1``, ``uid-1``, ``gid-1``, ``secret-1``,
``redacted-1`` (``--redact-extra``). Learning everything before applying
anything is what keeps the placeholders consistent across files. Host names
match in any ASCII letter case and with a trailing dot; secrets are replaced
before anything else, so no other placeholder can split one.

SELinux names are never touched: record fields that carry contexts or classes
(``scontext``, ``tcontext``, ``subj``, ``obj``, ``tclass``...) and the
``{ permissions }`` of an AVC are copied verbatim. Hex-encoded fields are
decoded, redacted and re-encoded; a binary ``saddr=`` gets its address
replaced by the placeholder's documentation address (``ip-N`` is
``198.18.x.y`` or ``2001:db8::N`` there). The record patterns are
:mod:`avcfix.audit.grammar`'s.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from avcfix.audit.grammar import AVC_NON_FIELDS as _BRACES
from avcfix.audit.grammar import HEX as _HEXVAL
from avcfix.audit.grammar import KV_TOKEN as _KV
from avcfix.bundle.secrets import is_secret_name, merge_spans, secret_spans
from avcfix.errors import UsageError

#: Record keys whose values are SELinux contexts, classes or verdicts: never redacted.
SELINUX_KEYS = frozenset({
    "scontext", "tcontext", "subj", "obj", "tclass", "oldcontext", "newcontext", "ocontext",
    "ncontext", "invalid_context", "context", "srcontext", "tcontext_type", "permissive",
    "type", "seresult", "seperms", "sauid", "old-context", "new-context", "vm-ctx", "img-ctx",
    "old_enforcing", "enforcing", "policy", "bool", "val", "old_val",
})

#: Numeric user ids (placeholder ``uid-N`` above :data:`SYSTEM_ID_MAX`).
UID_KEYS = frozenset({"uid", "auid", "euid", "suid", "fsuid", "ouid", "old-auid", "oauid",
                      "loginuid", "old-loginuid", "new-auid", "old-uid", "new-uid", "iuid"})
#: Numeric group ids (placeholder ``gid-N``).
GID_KEYS = frozenset({"gid", "egid", "sgid", "fsgid", "ogid", "old-gid", "new-gid", "igid"})
#: Fields the kernel may hex-encode (decoded, redacted, re-encoded).
HEX_KEYS = frozenset({"proctitle", "name", "path", "cwd", "comm", "exe", "acct", "cmd", "data",
                      "old", "new", "root_dir", "ocomm", "grantors", "unit", "key"})
#: Fields whose value is a host name.
HOST_KEYS = frozenset({"node", "hostname", "host", "rhost", "addr", "laddr_host"})
#: Fields whose value is a user name.
USER_KEYS = frozenset({"acct", "user", "id"})

#: ids at or below this are system accounts (kept); 4294967295 is "unset".
SYSTEM_ID_MAX = 999
UNSET_IDS = frozenset({4294967295, 65535, -1})

#: Names that are never a person's account: placeholders of the audit
#: format and common service accounts (``ausearch -i`` prints ``ouid=sshd``
#: without the number that would tell a service from a person).
SYSTEM_NAMES = frozenset({
    "root", "unset", "nobody", "nogroup", "daemon", "bin", "sys", "adm", "wheel", "users",
    "?", "(none)", "(null)", "(invalid", "unknown", "localhost", "localhost.localdomain", "none",
    "sshd", "apache", "www-data", "nginx", "mysql", "postgres", "polkitd", "dbus", "messagebus",
    "chrony", "ntp", "postfix", "rpc", "rpcuser", "qemu", "libvirt", "avahi", "colord", "gdm", "lp",
    "mail", "games", "ftp", "named", "squid", "tss", "sssd", "unbound", "dnsmasq", "syslog", "_apt",
    "uucp", "operator", "halt", "shutdown", "sync", "man", "news", "proxy", "backup", "list", "irc",
    "gnats", "tty", "disk", "kmem", "audio", "video", "utmp", "input", "kvm", "render", "systemd",
})
#: Prefixes of service accounts (``systemd-network``...).
SYSTEM_PREFIXES = ("systemd-", "_")

_HOME = re.compile(r"/home/([^/\s\"'\x00-\x1f]+)")
#: Host names in free text: ``scheme://host[:port]/`` and ``user@host``.
_URL_HOST = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://(?:[^/\s\0]*@)?([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)")
#: The user name of ``scheme://user:password@`` (the password is a secret).
_URL_USER = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://([^/\s\0:@]+):[^/\s\0]*@")
#: ``getty@tty1.service`` is a systemd unit instance, not ``user@host``.
_UNIT_SUFFIXES = (".service", ".socket", ".target", ".mount", ".timer", ".slice", ".scope", ".path",
                  ".device", ".swap", ".automount")
_AT_HOST = re.compile(r"(?<![\w.-])[A-Za-z0-9._-]+@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?![\w@-])")
_V4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)"
_V6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})(?![\w:])"
_IPS = re.compile(f"(?P<v6>{_V6})|(?P<v4>{_V4})")
_WORD = "A-Za-z0-9_"
#: What a placeholder looks like (never learned as a value).
_PLACEHOLDER = re.compile(r"(?:host|ip|user|uid|gid|redacted|secret)-\d+")
#: A secret this long is replaced wherever it appears as a word, not only where
#: a pattern finds it (a shorter one, ``-p 22``-like, would hit ports and ids).
MIN_SECRET_LITERAL = 6
#: At most this many secrets are searched for as words (the first learned):
#: one regex alternation per text, which a hostile log with thousands of
#: distinct passwords would make quadratic. The rest are replaced where found.
MAX_LITERAL_SECRETS = 256


def _literal_secret(value: str) -> bool:
    """Whether a secret is also replaced wherever it appears as a word: at least
    :data:`MIN_SECRET_LITERAL` long and not a path (``/dev/vda3`` after a flag
    taken for a password option would lose every path of the report)."""
    return len(value) >= MIN_SECRET_LITERAL and not (value.startswith("/") and not any(c.isspace() for c in value))


def compile_extra(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """Compile ``--redact-extra`` regexes; a bad or empty-matching one is a usage error."""
    out = []
    for p in patterns:
        try:
            rx = re.compile(p)
        except re.error as exc:
            raise UsageError(f"--redact-extra {p!r}: not a valid regular expression: {exc}") from None
        if rx.fullmatch(""):
            raise UsageError(f"--redact-extra {p!r} matches the empty string")
        out.append(rx)
    return tuple(out)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_unspecified:
        return None  # 127.0.0.1, ::1, 0.0.0.0 say nothing about the site
    return ip


@dataclass(slots=True)
class Counts:
    """How many distinct values of each kind were replaced (no originals)."""

    hosts: int = 0
    ips: int = 0
    users: int = 0
    uids: int = 0
    gids: int = 0
    extra: int = 0
    secrets: int = 0


@dataclass(slots=True)
class Redactor:
    """Learns sensitive values, then replaces them consistently.

    Stateful by design (one per bundle): the maps grow while learning. The
    mapping itself is never written anywhere.
    """

    extra: tuple[re.Pattern[str], ...] = ()
    _hosts: dict[str, str] = field(default_factory=dict)
    _users: dict[str, str] = field(default_factory=dict)
    _ips: dict[str, str] = field(default_factory=dict)
    _ids: dict[tuple[str, int], str] = field(default_factory=dict)
    _extras: dict[str, str] = field(default_factory=dict)
    _secrets: dict[str, str] = field(default_factory=dict)
    _literal_rx: re.Pattern[str] | None = None
    _secret_rx: re.Pattern[str] | None = None
    _literal_secrets: list[str] = field(default_factory=list)

    # ------------------------------------------------------------ learning

    def learn_host(self, name: str | None, machine: bool = False) -> None:
        """Remember a host name, in any letter case and with or without a trailing dot.

        ``machine``: the name of a machine (``node=``, ``hostname=``, the
        host's own), whose short name (first label of a fully qualified name)
        is then a name of the same host. A fully qualified name whose short
        name is already known shares its placeholder: one host, one placeholder.
        """
        key = host_key(name) if name else ""
        if not key or key in SYSTEM_NAMES or key.isdigit() or _ip(key) is not None or key in self._hosts \
                or name in self._users or _PLACEHOLDER.fullmatch(key):
            return
        short = key.split(".", 1)[0] if "." in key else ""
        if short in SYSTEM_NAMES or short.isdigit() or _PLACEHOLDER.fullmatch(short):
            short = ""  # a number would hit ports and ids
        tag = self._hosts.get(short) if short else None
        if tag is None:
            tag = f"host-{len(set(self._hosts.values())) + 1}"
        self._hosts[key] = tag
        if machine and short and short not in self._hosts and short not in self._users:
            self._hosts[short] = tag
        self._literal_rx = None

    def learn_user(self, name: str | None) -> None:
        """Remember a user (or group) name."""
        if name and name not in SYSTEM_NAMES and not name.startswith(SYSTEM_PREFIXES) and not name.isdigit() \
                and name not in self._users and name not in self._hosts and not name.startswith("user-"):
            self._users[name] = f"user-{len(self._users) + 1}"
            self._literal_rx = None

    def learn_id(self, kind: str, value: int) -> None:
        """Remember a uid (``kind="uid"``) or gid above 999."""
        if value > SYSTEM_ID_MAX and value not in UNSET_IDS and (kind, value) not in self._ids:
            n = sum(1 for k, _ in self._ids if k == kind) + 1
            self._ids[(kind, value)] = f"{kind}-{n}"

    def _learn_ip(self, text: str) -> str | None:
        ip = _ip(text)
        if ip is None:
            return None
        key = ip.compressed
        if key not in self._ips:
            self._ips[key] = f"ip-{len(self._ips) + 1}"
        return self._ips[key]

    def learn_text(self, text: str | None) -> None:
        """Learn from free text: secrets (:mod:`avcfix.bundle.secrets`), home
        directories' user names, IP addresses, host names in URLs
        (``https://host/``) and ``user@host``, the user of ``https://user:pass@``."""
        if not text:
            return
        for start, end in secret_spans(text):
            self.learn_secret(text[start:end])
        if "://" in text:
            for m in _URL_USER.finditer(text):
                self.learn_user(m.group(1))
        for m in _HOME.finditer(text):
            self.learn_user(m.group(1))
        for rx in (_URL_HOST, _AT_HOST):
            for m in rx.finditer(text):
                if _ip(m.group(1)) is None and not m.group(1).endswith(_UNIT_SUFFIXES):
                    self.learn_host(m.group(1))
        for m in _IPS.finditer(text):
            self._learn_ip(m.group(0))

    def learn_record(self, line: str) -> None:
        """Learn from one raw audit record (any of avcfix's input formats)."""
        values: dict[str, str] = {}
        for key, raw in _KV.findall(line):
            value = _unquote(raw)
            lkey = key.lower()
            if raw[:1] == "'" or raw[:1] == "{":
                self.learn_record(value)
                continue
            if key in HEX_KEYS and raw[:1] != '"' and _HEXVAL.fullmatch(value):
                value = _hex_decode(value)
            if key not in SELINUX_KEYS and _secret_field(key, value):
                self.learn_secret(value)
            elif lkey in HOST_KEYS:
                self.learn_host(value, machine=True)
            elif key in USER_KEYS:
                self.learn_user(value)
            elif key in UID_KEYS or key in GID_KEYS:
                if _is_int(value):
                    self.learn_id("uid" if key in UID_KEYS else "gid", int(value))
                else:  # ausearch -i writes the name instead of the number
                    self.learn_user(value)
            elif key.isupper() and lkey in UID_KEYS | GID_KEYS:
                values[lkey + "\0name"] = value
            elif key == "saddr" and _HEXVAL.fullmatch(value):
                self._learn_sockaddr(value)
            if key not in SELINUX_KEYS:
                values.setdefault(key, value)
                self.learn_text(value)
        # ENRICHED names: a person's when the numeric id is above 999 (or absent).
        for k, name in values.items():
            if k.endswith("\0name"):
                num = values.get(k[:-5])
                if num is None or not _is_int(num) or (int(num) > SYSTEM_ID_MAX and int(num) not in UNSET_IDS):
                    self.learn_user(name)
        rest = _KV.sub(" ", line)
        self.learn_text(rest)   # ausearch -i: `proctitle=mysql --password secret` (spaces between)
        for chunk in rest.split():
            self.learn_text(chunk)

    def _learn_sockaddr(self, value: str) -> None:
        data = bytes.fromhex(value)
        family = int.from_bytes(data[:2], "little") if len(data) >= 2 else -1
        if family == 2 and len(data) >= 8:
            self._learn_ip(str(ipaddress.IPv4Address(data[4:8])))
        elif family == 10 and len(data) >= 24:
            self._learn_ip(str(ipaddress.IPv6Address(data[8:24])))
        elif family == 1:
            self.learn_text(data[2:].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                            if data[2:3] != b"\0" else data[3:].split(b"\0", 1)[0].decode("utf-8", "surrogateescape"))

    # ------------------------------------------------------------ applying

    @property
    def counts(self) -> Counts:
        """How many distinct values of each kind are replaced."""
        return Counts(
            hosts=len(set(self._hosts.values())), ips=len(self._ips), users=len(self._users),
            uids=sum(1 for k, _ in self._ids if k == "uid"), gids=sum(1 for k, _ in self._ids if k == "gid"),
            extra=len(self._extras), secrets=len(self._secrets),
        )

    def _literals(self) -> re.Pattern[str] | None:
        """One regex for every learned name: host names in any ASCII letter case
        (DNS names are case-insensitive), user names exactly (accounts are not)."""
        if self._literal_rx is None:
            names = sorted({*((h, True) for h in self._hosts), *((u, False) for u in self._users)},
                           key=lambda s: (-len(s[0]), s))
            if not names:
                return None
            alt = "|".join(f"(?ai:{re.escape(n)})" if host else re.escape(n) for n, host in names)
            self._literal_rx = re.compile(f"(?<![{_WORD}])(?:{alt})(?![{_WORD}])")
        return self._literal_rx

    def _sub_literal(self, m: re.Match[str]) -> str:
        s = m.group(0)
        return self._users.get(s) or self._hosts.get(host_key(s)) or s

    def _sub_ip(self, m: re.Match[str]) -> str:
        return self._learn_ip(m.group(0)) or m.group(0)

    def _sub_extra(self, m: re.Match[str]) -> str:
        s = m.group(0)
        if not s:
            return s
        if s not in self._extras:
            self._extras[s] = f"redacted-{len(self._extras) + 1}"
        return self._extras[s]

    def text(self, text: str) -> str:
        """Free text with every ``--redact-extra`` match, secret, learned name and IP replaced."""
        if not text:
            return text
        for rx in self.extra:
            text = rx.sub(self._sub_extra, text)
        spans = self._secret_spans(text)
        if not spans:
            return self._plain(text)
        out: list[str] = []
        pos = 0
        for start, end in spans:
            out.append(self._plain(text[pos:start]))
            out.append(self._secret(text[start:end]))
            pos = end
        out.append(self._plain(text[pos:]))
        return "".join(out)

    def _plain(self, text: str) -> str:
        """``text`` (no secrets left in it) with learned names and IPs replaced."""
        if not text:
            return text
        lit = self._literals()
        if lit is not None:
            text = lit.sub(self._sub_literal, text)
        return _IPS.sub(self._sub_ip, text)

    # ------------------------------------------------------------ secrets

    def learn_secret(self, value: str) -> None:
        """Remember a secret value (placeholder ``secret-N``)."""
        if value and value not in self._secrets and not _PLACEHOLDER.fullmatch(value):
            self._secrets[value] = f"secret-{len(self._secrets) + 1}"
            if _literal_secret(value) and len(self._literal_secrets) < MAX_LITERAL_SECRETS:
                self._literal_secrets.append(value)
                self._secret_rx = None

    def _secret(self, value: str) -> str:
        self.learn_secret(value)
        return self._secrets.get(value, value)

    def _secret_spans(self, text: str) -> list[tuple[int, int]]:
        """Where the secrets of ``text`` are: its patterns, and learned values as words."""
        spans = secret_spans(text)
        if self._secret_rx is None:
            values = sorted(self._literal_secrets, key=lambda v: (-len(v), v))
            self._secret_rx = re.compile(
                f"(?<![{_WORD}])(?:{'|'.join(re.escape(v) for v in values)})(?![{_WORD}])" if values else "(?!)")
        found = [m.span() for m in self._secret_rx.finditer(text)]
        return merge_spans(spans + found) if found else spans

    def maybe(self, text: str | None) -> str | None:
        """:meth:`text` for optional values."""
        return None if text is None else self.text(text)

    def texts(self, items: Iterable[str]) -> tuple[str, ...]:
        """:meth:`text` over a sequence (order kept)."""
        return tuple(self.text(s) for s in items)

    def host(self, name: str | None) -> str | None:
        """A host name's placeholder (learning it when new)."""
        if name is None:
            return None
        self.learn_host(name, machine=True)
        return self._hosts.get(host_key(name)) or self.text(name)

    def record(self, line: str) -> str:
        """One raw audit record, field by field (SELinux fields verbatim)."""
        out: list[str] = []
        pos = 0
        for m in _KV.finditer(line):
            out.append(self._between(line[pos:m.start()]))
            out.append(self._field(m.group(1), m.group(2)))
            pos = m.end()
        out.append(self._between(line[pos:]))
        return "".join(out)

    def _between(self, text: str) -> str:
        """Text between fields: redacted, but an AVC's ``avc:  denied  { perms } for`` kept
        (a learned name or secret ``denied`` must not make the record unreadable)."""
        if not text.strip():
            return text
        parts: list[str] = []
        pos = 0
        for m in _BRACES.finditer(text):
            parts.append(self.text(text[pos:m.start()]))
            parts.append(m.group(0))
            pos = m.end()
        parts.append(self.text(text[pos:]))
        return "".join(parts)

    def _field(self, key: str, raw: str) -> str:
        if key in SELINUX_KEYS or (key == "msg" and raw.startswith("audit(")):
            return f"{key}={raw}"
        quote = raw[:1] if raw[:1] in ("'", '"', "{") else ""
        value = _unquote(raw)
        if quote == "'" or quote == "{":
            inner = self.record(value)
            close = "'" if quote == "'" else "}"
            closed = raw.endswith(close) and len(raw) > 1
            return f"{key}={quote}{inner}{close if closed else ''}"
        if key in UID_KEYS or key in GID_KEYS:
            if _is_int(value):
                kind = "uid" if key in UID_KEYS else "gid"
                return f"{key}={self._ids.get((kind, int(value)), value)}"
        if key == "saddr" and not quote and _HEXVAL.fullmatch(value):
            return f"{key}={self._sockaddr(value)}"
        if _secret_field(key, value):
            new = self._secret(value)
        elif key.lower() in HOST_KEYS and value:
            new = self.host(value) or value
        elif key in HEX_KEYS and not quote and _HEXVAL.fullmatch(value):
            decoded = _hex_decode(value)
            red = self.text(decoded)
            new = value if red == decoded else red.encode("utf-8", "surrogateescape").hex().upper()
        else:
            new = self.text(value)
        if quote == '"':
            closed = raw.endswith('"') and len(raw) > 1
            return f'{key}="{new}{chr(34) if closed else ""}'
        return f"{key}={new}"

    def _sockaddr(self, value: str) -> str:
        """A hex ``struct sockaddr``: the address replaced by its placeholder's documentation address."""
        data = bytearray(bytes.fromhex(value))
        family = int.from_bytes(data[:2], "little") if len(data) >= 2 else -1
        if family == 2 and len(data) >= 8:
            tag = self._learn_ip(str(ipaddress.IPv4Address(bytes(data[4:8]))))
            if tag:
                n = int(tag.split("-")[1])
                data[4:8] = (ipaddress.IPv4Address("198.18.0.0") + n).packed
        elif family == 10 and len(data) >= 24:
            tag = self._learn_ip(str(ipaddress.IPv6Address(bytes(data[8:24]))))
            if tag:
                n = int(tag.split("-")[1])
                data[8:24] = (ipaddress.IPv6Address("2001:db8::") + n).packed
        elif family == 1 and len(data) > 2:
            body = bytes(data[2:])
            lead = b"\0" if body[:1] == b"\0" else b""
            path, nul, rest = body[len(lead):].partition(b"\0")
            text = path.decode("utf-8", "surrogateescape")
            red = self.text(text)
            if red != text:
                data = bytearray(data[:2] + lead + red.encode("utf-8", "surrogateescape") + nul + rest)
        else:
            return value
        out = bytes(data).hex().upper()
        return out if out.upper() != value.upper() else value


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def host_key(name: str) -> str:
    """The form a host name is remembered by: ASCII lower case, no trailing dot
    (``Db02.Example.COM.`` is ``db02.example.com``)."""
    return name.rstrip(".").translate(_ASCII_LOWER)


def _secret_field(key: str, value: str) -> bool:
    """A record field whose value is a secret (``MYSQL_PWD=``, ``password=``...)."""
    return bool(value) and value not in ("?", "(null)", "(none)") and is_secret_name(key, env=True)


def _unquote(raw: str) -> str:
    if raw[:1] in ('"', "'"):
        return raw[1:-1] if len(raw) > 1 and raw[-1] == raw[0] else raw[1:]
    if raw[:1] == "{":
        return raw[1:-1] if len(raw) > 1 and raw[-1] == "}" else raw[1:]
    return raw


def _hex_decode(value: str) -> str:
    return bytes.fromhex(value).decode("utf-8", "surrogateescape")


def _is_int(value: str) -> bool:
    return value.isdigit() or (value[:1] == "-" and value[1:].isdigit())
