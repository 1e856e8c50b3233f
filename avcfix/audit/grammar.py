"""The audit record grammar: every pattern avcfix's log readers use (pure data).

A record is ``[node=N ]type=T msg=audit(ID): key=value key=value ...``:

- an optional ``node=``/``host=`` prefix (:data:`NODE_PREFIXES`);
- the header: ``type=`` then ``msg=audit(ID):``, where ID is the event id
  ``SECONDS.FRACTION:SERIAL`` (raw) or ``MM/DD/YYYY HH:MM:SS.mmm:SERIAL``
  (``ausearch -i``) (:data:`RAW_EVENT_ID`, :data:`INTERP_EVENT_ID`);
- a body of ``key=value`` fields, where a value is ``"double quoted"``,
  ``'single quoted'`` (the ``msg='...'`` of user-space records),
  ``{braced}`` or bare, and an untrusted string is either quoted or
  upper-case hex (:data:`HEX`);
- optionally, after a GS byte (:data:`ENRICHED_SEP`, ``\\x1d``), the
  ``ENRICHED`` fields auditd adds (``AUID="root"``...), which the readers cut
  off.

The readers:

- :mod:`avcfix.audit.scanner` (bytes): the raw header's event key, the
  event id check, the record starts of a line holding several records, the
  denial marks;
- :mod:`avcfix.audit.chunks` (bytes): the event key of a line;
- :mod:`avcfix.audit.fastpath` (bytes): the strict kernel forms of the
  header and of the AVC, SYSCALL, PATH, CWD, PROCTITLE and SOCKADDR bodies;
- :mod:`avcfix.audit.parse` and :mod:`avcfix.audit.fields` (text): the
  tolerant typed path;
- :mod:`avcfix.bundle.redact` (text): the fields of a record to redact.

The C accelerator (``avcfix/audit/_cscan.c``) hand-codes the bytes
patterns of the plain raw form. Its functions mirror them one for one:

======================  =====================================================
pattern                 C function that mirrors it
======================  =====================================================
RAW_HEADER_KEY          ``raw_header`` (one line; ``scan_block`` checks that
                        ``audit(`` appears once a line, as
                        ``scanner._py_fast_block`` does)
DENIAL_NEEDLES          ``scan_block``'s ``NEEDLES`` (the marks)
FAST_HEADER             ``header``
FAST_AVC                ``avc_fields``
FAST_KV                 ``kv_fields``
SYSCALL_HEAD, COMM_EXE  ``syscall_fields`` (values by ``quoted_or_hex``)
PATH_NAME               the PATH branch of ``event_fields_impl``
CWD, PROCTITLE          ``search_value`` (values by ``quoted_or_hex``)
SADDR                   the SOCKADDR branch of ``event_fields_impl``
PATH_BODY, PATH_FIELD   ``path_item_of`` (unquoted values by ``c_plain``)
ENRICHED_SEP            ``event_fields_impl`` declines a record holding it
======================  =====================================================

``tests/unit/test_audit_grammar.py`` feeds this module's edge cases (quoted,
unquoted and hex values, ``msg='...'`` user records, node prefixes, GS
separated enriched fields, truncated headers) to these patterns and to the C
functions and requires the same answers; ``tests/integration/test_accel.py`` compares the
C scanner with its Python twins on the corpus and on generated input.

Patterns over ``bytes`` are built from the same text as the ``str`` ones
where both exist; note that ``\\d``, ``\\w`` and ``\\s`` are ASCII-only in a
bytes pattern and Unicode-aware in a str one (each reader keeps the flavour
it has always had).
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------- shared pieces

#: The prefixes that name the machine a record comes from.
NODE_PREFIXES_TEXT = ("node=", "host=")
NODE_PREFIXES = (b"node=", b"host=")

#: The GS byte auditd writes before the ENRICHED fields of a record.
ENRICHED_SEP_TEXT = "\x1d"
ENRICHED_SEP = b"\x1d"

#: A field name.
_KEY = r"[A-Za-z_][\w.-]*"
#: A field value: "double quoted", 'single quoted', {braced} or bare (a
#: quote or brace left open runs to the end of the text).
_VALUE = r"""("[^"]*"?|'[^']*'?|\{[^}]*\}?|[^\s]*)"""

#: The ``ausearch -i`` event id: local date and time, then the serial.
_INTERP_ID = r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?:(\d+)"

# ---------------------------------------------------------------- text (typed path, redaction)

#: ``key=value`` at a word boundary; the value as written (quotes kept).
#: :func:`avcfix.audit.fields.split_fields` and ``fields_read`` read a body with it.
KV = re.compile(rf"""\b({_KEY})={_VALUE}""")

#: ``key=value`` whose key starts a token (no name character before it, so
#: ``a.b=1`` is one key, never ``b``): the fields :mod:`avcfix.bundle.redact` rewrites.
KV_TOKEN = re.compile(rf"""(?<![\w.-])({_KEY})={_VALUE}""")

#: An even run of hex digits: an untrusted string the kernel hex-encoded.
HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")

#: The text inside ``audit(...)``: the raw event id (the fraction is
#: checked by the caller, to say why an id without one is bad) ...
RAW_EVENT_ID = re.compile(r"^(\d+)(?:\.(\d+))?:(\d+)$")
#: ... or the ``ausearch -i`` one.
INTERP_EVENT_ID = re.compile(rf"^{_INTERP_ID}$")

#: An AVC body: verdict, ``{ permissions }`` and the fields after ``for``.
AVC = re.compile(r"avc:\s+(?P<result>denied|granted)\s+\{(?P<perms>[^}]*)\}?(?:\s+for\s)?(?P<rest>.*)", re.S)
#: The verdict of an AVC body (an ``avc:`` text without one is not an SELinux AVC).
AVC_VERDICT = re.compile(r"avc:\s+(?:denied|granted)\b")
#: A brace right after an AVC's permission list (``{ read } } for``, ``{ a } { b }``).
AVC_BRACE_AFTER = re.compile(r"\s*[{}]")
#: The verdict, and each ``{ ... }`` with the ``for`` after it: the parts of
#: an AVC text that are not ``key=value`` fields, which redaction must keep
#: for avcfix, ausearch and audit2allow to read it back.
AVC_NON_FIELDS = re.compile(r"avc:\s+(?:denied|granted)(?![\w-])|\{[^}]*\}(?:\s+for(?![\w-]))?")
#: The context a SELINUX_ERR record names as invalid.
INVALID_CONTEXT = re.compile(r"invalid context (\S+)")
#: The fields of an ``ausearch -i`` SOCKADDR value (``{ saddr_fam=inet laddr=... }``).
INTERP_SADDR_FIELD = re.compile(r"(\w+)=(\S+)")
#: The number at the start of a value (``-13(Permission denied)``).
LEADING_INT = re.compile(r"-?\d+")

# ---------------------------------------------------------------- bytes (scanner, chunks)

#: The key of a plain raw record line: a newline, then ``type=T msg=audit(ID)``
#: (found over a whole block with ``findall``). C: ``raw_header``.
RAW_HEADER_KEY = re.compile(rb"\n(?:type=[A-Z_0-9]+ msg=)audit\(([0-9.:]+)\)")
#: A usable event id (raw or ``ausearch -i``), matched in full.
EVENT_ID_OK = re.compile(rb"\d+\.\d+:\d+|" + _INTERP_ID.encode())
#: Where a record starts in a line that holds several (node prefix, type, audit().
RECORD_START = re.compile(rb"(?:(?<![\w=])(?:node|host)=\S+\s+)?(?<![\w=])type=\S+\s+(?:msg=)?audit\(")
#: The event id of a line, wherever ``audit(...)`` stands in it.
LINE_EVENT_ID = re.compile(rb"audit\(([^)\n]{1,80})\)")
#: A record holding one of these is (part of) a denial: AVC and USER_AVC
#: text, SELINUX_ERR, and their numeric types (1400 is AVC's own ``avc:``).
DENIAL_MARKERS = (b"avc:", b"SELINUX_ERR", b"type=1401", b"type=1122")
#: The markers the plain raw form needs (its types are never numeric). C:
#: ``scan_block``'s ``NEEDLES``.
DENIAL_NEEDLES = (b"avc:", b"SELINUX_ERR")

# ---------------------------------------------------------------- bytes (fast path: the kernel's own form)

#: The header as the kernel writes it, at a record's start. C: ``header``.
FAST_HEADER = re.compile(rb"type=([A-Z_]+) msg=audit\((\d+\.\d+):(\d+)\): ?")
#: A kernel AVC body: a denial with the kernel's spacing. C: ``avc_fields``.
FAST_AVC = re.compile(rb"avc:  denied  \{ ([^{}]*) \} for  (.*)", re.S)
#: The fields of a kernel AVC: keys as ``KV`` reads them (``a-pid=7`` is the key
#: ``a-pid``, never ``pid``); quoted or bare values. C: ``kv_fields``.
FAST_KV = re.compile(rb"""\b([A-Za-z_][\w.-]*)=("[^"]*"|[^\s"]*)""")
#: The head of a SYSCALL record, right after its header. C: ``syscall_fields``.
SYSCALL_HEAD = re.compile(rb"arch=([0-9a-f]+) syscall=(\d+) (?:per=\S+ )?success=(yes|no) exit=(-?\d+) ")
#: A quoted or hex-encoded untrusted value. C: ``quoted_or_hex``.
_QUOTED_OR_HEX = rb'("[^"]*"|[0-9A-F]+)'
#: ``comm=`` and ``exe=`` of a SYSCALL record. C: ``syscall_fields``.
COMM_EXE = re.compile(rb"comm=" + _QUOTED_OR_HEX + rb" exe=" + _QUOTED_OR_HEX)
#: ``item=`` and ``name=`` of a PATH record (searched). C: ``event_fields_impl``.
PATH_NAME = re.compile(rb'item=(\d+) name=("[^"]*"|[0-9A-F]+|\(null\))')
#: ``cwd=`` of a CWD record (searched). C: ``search_value``.
CWD = re.compile(rb"cwd=" + _QUOTED_OR_HEX)
#: ``proctitle=`` of a PROCTITLE record (searched). C: ``search_value``.
PROCTITLE = re.compile(rb"proctitle=" + _QUOTED_OR_HEX)
#: The hex ``saddr=`` of a SOCKADDR record (searched). C: ``event_fields_impl``.
SADDR = re.compile(rb"saddr=([0-9A-F]+)")
#: One field of a plain PATH body: a name, and a quoted value or printable
#: ASCII without quotes or braces. C: ``path_item_of`` (``c_plain``).
_PATH_KEY = rb"[A-Za-z_][A-Za-z0-9_]*"
_PATH_VALUE = rb'"[^"]*"|[!#-&(-z|~]*'
PATH_FIELD = re.compile(rb" (" + _PATH_KEY + rb")=(" + _PATH_VALUE + rb")")
#: A PATH record's body as the kernel writes it: ``item=`` and ``name=``
#: first, then such fields one space apart. The fast path and the C build
#: take only such a body; any other sends the event to the typed path.
PATH_BODY = re.compile(rb'item=(\d{1,64}) name=("[^"]*"|[0-9A-F]+|\(null\))((?: ' + _PATH_KEY + rb"=(?:" + _PATH_VALUE
                       + rb"))*)")
