"""Well-known secrets in command lines and free text: where they are (pure).

:func:`secret_spans` returns the ``(start, end)`` of every secret *value* in a
text; the :class:`~avcfix.bundle.redact.Redactor` replaces each distinct value
with ``secret-N``. A text containing NUL is an argv (a decoded ``proctitle``):
its entries are the arguments, so ``--password`` followed by the entry
``my secret`` is one value with its space. Otherwise arguments are separated
by white space (``ausearch -i`` and avcfix's own joined proctitle).

What counts as a secret:

- an option or assignment whose name ends in a secret word (:data:`SECRET_WORDS`:
  ``--password=X``, ``--password X``, ``-pass X``, ``--db-password X``,
  ``--api-key X``, ``MYSQL_PWD=X``, ``GITHUB_TOKEN=X``, libpq's
  ``password=X``...); ``--no-password``, ``--ask-pass`` and ``--password-file``
  are not (flags, and a file name);
- ``-p`` only where it is a password: ``mysql``/``mariadb`` clients
  (``-pX``), ``sshpass`` (``-p X``, ``-pX``) and ``7z`` (``-pX``); elsewhere
  it is a port (ssh, nc, psql) or a flag (mkdir, cp); also ``zip -P X``,
  ``redis-cli -a X``, ``openssl ... -k X`` and the password of ``curl -u
  USER:PASS`` / ``--proxy-user``;
- ``Authorization: <scheme> X``, ``Bearer X`` and token headers
  (``X-Api-Key:``, ``Private-Token:``, ``X-Auth-Token:``, ``X-Vault-Token:``);
- ``scheme://user:PASS@host`` (the password);
- AWS access key ids (``AKIA``/``ASIA`` + 16), GitHub (``ghp_``, ``gho_``,
  ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``), GitLab (``glpat-``) and
  Slack (``xoxb-``...) tokens, anywhere; a token cut short at the end of the
  text (the kernel truncates a proctitle) counts too;
- a ``-----BEGIN ... PRIVATE KEY-----`` block, to its END line (or to the end
  of the argument when the END was cut off).
"""

from __future__ import annotations

import functools
import os
import re

#: Last words of an option or variable name whose value is a secret
#: (compared in lower case, ``_`` read as ``-``).
SECRET_WORDS = ("password", "passwd", "passphrase", "pass", "pw", "secret", "token", "api-key", "apikey",
                "access-key", "secret-key", "private-key", "credential", "credentials")
#: Whole names that are secret too (``keytool -storepass``, ``openssl -passin``).
SECRET_NAMES = frozenset({"storepass", "keypass", "srcstorepass", "deststorepass", "srckeypass",
                          "destkeypass", "passin", "passout", "pwd-value"})
#: Name prefixes that make a secret-looking option a flag (``--no-password``, ``--ask-pass``).
FLAG_PREFIXES = ("no-", "ask-", "prompt-", "without-", "with-", "skip-", "use-", "test-", "verify-", "force-",
                 "allow-", "disable-", "enable-", "require-", "generate-", "random-", "show-", "print-", "read-",
                 "check-", "reset-", "change-", "empty-", "stdin-")
#: ``NAME_PWD=`` is MySQL's password variable; a bare ``PWD=`` is the working directory.
_ENV_ONLY_SUFFIXES = ("-pwd",)

#: Programs whose ``-p`` is a password, and how it is given.
_ATTACHED_P = frozenset({"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mysqlshow",
                         "mysqlslap", "mysqlbinlog", "mysqlpump", "mysqlsh", "mariadb", "mariadb-dump",
                         "mariadb-admin", "mariadb-import", "mariadb-check", "mariadb-show", "mariadb-slap",
                         "mariadb-binlog", "7z", "7za", "7zr", "sshpass"})
#: Program -> its options whose next argument (or attached rest) is a password.
_PROGRAM_FLAGS: dict[str, frozenset[str]] = {
    "sshpass": frozenset({"-p"}), "zip": frozenset({"-P"}), "zipcloak": frozenset({"-P"}),
    "unzip": frozenset({"-P"}), "redis-cli": frozenset({"-a"}), "openssl": frozenset({"-k"}),
}
#: Programs that also take the password glued to the option (``zip -PSECRET``).
_GLUED = frozenset({"zip", "zipcloak", "unzip"})
#: Program -> options whose value is ``USER:PASSWORD`` (the part after the first ``:`` is secret).
_USERPASS_FLAGS: dict[str, frozenset[str]] = {
    "curl": frozenset({"-u", "--user", "-U", "--proxy-user"}),
}
#: Tokens that separate commands in a shell line.
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")"})
#: openssl's password sources that do not hold the password itself.
_NOT_A_PASSWORD = re.compile(r"(?:env|file|fd):.*|stdin")

_SPACE = " \t\n\r\f\v\0"
#: ``[-[-]]NAME=`` at the start of a word.
_ASSIGN = re.compile(r"(?<![A-Za-z0-9_.\-])(--?)?([A-Za-z_][A-Za-z0-9_.\-]*)=")
#: Well-known token shapes; the value is the whole match. ``(?=\0*\Z)``: cut short at the end.
_TOKEN_END = r"(?![A-Za-z0-9_])"
_TOKENS = re.compile("|".join([
    rf"(?<![A-Za-z0-9])(?:AKIA|ASIA)(?:[A-Z0-9]{{16}}|[A-Z0-9]{{4,15}}(?=\0*\Z)){_TOKEN_END}",
    rf"(?<![A-Za-z0-9_])gh[pousr]_(?:[A-Za-z0-9]{{20,}}|[A-Za-z0-9]+(?=\0*\Z)){_TOKEN_END}",
    rf"(?<![A-Za-z0-9_])github_pat_(?:[A-Za-z0-9_]{{20,}}|[A-Za-z0-9_]+(?=\0*\Z)){_TOKEN_END}",
    r"(?<![A-Za-z0-9_])glpat-(?:[A-Za-z0-9_\-]{20,}|[A-Za-z0-9_\-]+(?=\0*\Z))(?![A-Za-z0-9_\-])",
    r"(?<![A-Za-z0-9_])xox[abeoprs]-(?:[A-Za-z0-9\-]{10,}|[A-Za-z0-9\-]+(?=\0*\Z))(?![A-Za-z0-9\-])",
]))
#: ``scheme://user:PASSWORD@`` (the password may hold ``@`` and ``:``; the host follows the last ``@``).
_URL_PASS = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://[^/\s\0:@]*:([^/\s\0]*)@")
#: Header-like ``Name: VALUE`` of a credential; ``Authorization`` may name a scheme first.
_HEADER = re.compile(
    r"(?i)(?<![A-Za-z0-9_\-/:@.])(?:(?:proxy-)?authorization|x-api-key|api-key|apikey|private-token|x-auth-token"
    r"|x-vault-token|x-access-token|access-token)\s*:[ \t]*"
    r"(?:(?:basic|bearer|token|digest|negotiate|ntlm|aws4-hmac-sha256)[ \t]+)?"
)
_BEARER = re.compile(r"(?i)(?<![A-Za-z0-9_\-])bearer[ \t]+(?=[A-Za-z0-9._~+/=\-])")
#: Nothing can be found in a text without one of these (most field values).
_MAYBE = re.compile(r"[=:\-]|AKIA|ASIA|gh[pousr]_|github_pat_|glpat|xox|[Bb][Ee][Aa][Rr][Ee][Rr]")
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----")


_SECRET_NAME = re.compile(
    "(?:{})|(?:.*-)?(?:{})".format("|".join(map(re.escape, sorted(SECRET_NAMES))),
                                     "|".join(map(re.escape, SECRET_WORDS))))


#: Longer option or variable names are not looked at (nor cached).
MAX_NAME = 64


def is_secret_name(name: str, *, env: bool = False) -> bool:
    """Whether the option or variable ``name`` (without dashes) holds a secret.

    ``env``: an assignment ``NAME=``, where ``..._PWD`` is a password too.
    """
    return len(name) <= MAX_NAME and _is_secret_name(name, env)


@functools.lru_cache(maxsize=4096)
def _is_secret_name(name: str, env: bool) -> bool:
    n = name.lower().replace("_", "-").strip("-")
    if not n or n.startswith(FLAG_PREFIXES):
        return False
    return _SECRET_NAME.fullmatch(n) is not None or (env and n.endswith(_ENV_ONLY_SUFFIXES))


class _Quotes:
    """Closing-quote lookups that stay linear on hostile text: once a quote
    character has no match after some position, it has none after any later one."""

    __slots__ = ("text", "missing")

    def __init__(self, text: str) -> None:
        self.text = text
        self.missing: dict[str, int] = {}

    def find(self, quote: str, pos: int) -> int:
        if pos >= self.missing.get(quote, len(self.text) + 1):
            return -1
        found = self.text.find(quote, pos)
        if found < 0:
            self.missing[quote] = pos
        return found


def _value_end(text: str, pos: int, whole_entry: bool, quotes: _Quotes | None = None) -> tuple[int, int]:
    """``(start, end)`` of the value beginning at ``pos``: a quoted string's
    inside; else to the end of the argv entry (``whole_entry``) or of the word."""
    if pos < len(text) and text[pos] in "\"'":
        close = (quotes or _Quotes(text)).find(text[pos], pos + 1)
        if close > pos + 1:
            return pos + 1, close
    end = pos
    stops = "\0" if whole_entry else _SPACE
    while end < len(text) and text[end] not in stops:
        end += 1
    return pos, end


def _words(text: str, argv: bool) -> list[tuple[int, int]]:
    """Spans of the argv entries (``argv``) or of the white-space separated words."""
    sep = "\0" if argv else None
    out = []
    pos = 0
    for part in (text.split(sep) if sep else re.split(r"([\s\0]+)", text)):
        if sep or not (part and part[0] in _SPACE):
            if part:
                out.append((pos, pos + len(part)))
        pos += len(part) + (1 if sep else 0)
    return out


def _password_value(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The secret part of an option's value: after openssl's ``pass:``; none for ``env:X``..."""
    value = text[start:end]
    if value.startswith("pass:"):
        return (start + 5, end) if end > start + 5 else None
    if _NOT_A_PASSWORD.fullmatch(value) or value == "-":
        return None
    return (start, end) if end > start else None


def _scan_words(text: str, words: list[tuple[int, int]], argv: bool, out: list[tuple[int, int]]) -> None:
    """Option/value pairs: ``--password X``, and the program-specific flags."""
    program = ""
    take_next: str | None = None   # "all" (the next word is a password) or "userpass"
    for start, end in words:
        word = text[start:end]
        if take_next is not None:
            kind, take_next = take_next, None
            if not word.startswith("--"):
                if kind == "userpass":
                    colon = word.find(":")
                    if colon >= 0 and end > start + colon + 1:
                        out.append((start + colon + 1, end))
                else:
                    span = _password_value(text, start, end)
                    if span:
                        out.append(span)
                continue
        if word in _SEPARATORS or word.endswith(";"):
            program = ""
            continue
        base = os.path.basename(word.strip("\"'"))
        if base in _ATTACHED_P or base in _PROGRAM_FLAGS or base in _USERPASS_FLAGS:
            program = base
            continue
        if not word.startswith("-") or word.startswith("---"):
            if program == "sshpass":
                program = ""   # the command sshpass runs: its -p is its own (ssh -p PORT)
            continue
        short = not word.startswith("--")
        if program in _USERPASS_FLAGS:
            flag, eq, value = word.partition("=")
            if flag in _USERPASS_FLAGS[program] and not eq:
                take_next = "userpass"
                continue
            glued = short and len(word) > 2 and word[:2] in _USERPASS_FLAGS[program]
            if (eq and flag in _USERPASS_FLAGS[program]) or glued:
                first = start + (len(flag) + 1 if eq else 2)
                colon = text.find(":", first, end)
                if colon >= 0 and end > colon + 1:
                    out.append((colon + 1, end))
                continue
        if "=" in word:
            continue   # --password=X: see _ASSIGN
        name = word.lstrip("-")
        if program in _ATTACHED_P and short and word.startswith("-p") and len(word) > 2:
            out.append((start + 2, end))   # mysql -pSECRET, 7z -pSECRET
        elif word in _PROGRAM_FLAGS.get(program, ()):
            take_next = "all"
        elif program in _GLUED and short and len(word) > 2 and word[:2] in _PROGRAM_FLAGS[program]:
            out.append((start + 2, end))   # zip -PSECRET
        elif (not short or len(name) > 1) and is_secret_name(name):
            take_next = "all"


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``(start, end)`` of the secret values in ``text``."""
    if not text or _MAYBE.search(text) is None:
        return []
    argv = "\0" in text
    out: list[tuple[int, int]] = []
    quotes = _Quotes(text)
    # Every search resumes after the value it found: linear on `password=password=...`.
    if "=" in text:
        pos = 0
        while (m := _ASSIGN.search(text, pos)) is not None:
            pos = m.end()
            dashes, name = m.group(1) or "", m.group(2)
            if not is_secret_name(name, env=not dashes):
                continue
            whole = argv and (bool(dashes) or m.start() == 0 or text[m.start() - 1] == "\0")
            start, end = _value_end(text, m.end(), whole, quotes)
            span = _password_value(text, start, end) if dashes else ((start, end) if end > start else None)
            if span:
                out.append(span)
                pos = max(pos, span[1])
    if "-" in text:   # every option-borne secret is after a dash
        _scan_words(text, _words(text, argv), argv, out)
        if argv:   # an entry may itself be a shell line: `sh -c "mysql -pX db"`
            _scan_words(text, _words(text, False), False, out)
    for m in _TOKENS.finditer(text):
        out.append(m.span())
    if ":" in text:
        for m in _URL_PASS.finditer(text):
            if m.end(1) > m.start(1):
                out.append(m.span(1))
    for rx, whole in ((_HEADER, argv), (_BEARER, False)):
        if rx is _HEADER and ":" not in text:
            continue
        pos = 0
        while (m := rx.search(text, pos)) is not None:
            start, end = _value_end(text, m.end(), whole, quotes)
            if end > start:
                out.append((start, end))
            pos = max(m.end(), end, m.start() + 1)
    if "-----BEGIN" in text:
        pos = 0
        while (m := _PEM.search(text, pos)) is not None:
            limit = text.find("\0", m.end()) if argv else -1
            limit = len(text) if limit < 0 else limit
            footer = f"-----END {m.group(1)}PRIVATE KEY{m.group(2) or ''}-----"
            stop = text.find(footer, m.end(), limit)
            end = stop + len(footer) if stop >= 0 else limit   # no END (cut off): to the end of the argument
            out.append((m.start(), end))
            pos = end
    return merge_spans(out) if out else out


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` sorted, overlapping ones joined, empty ones dropped."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start < merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
