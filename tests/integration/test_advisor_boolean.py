"""Boolean advisor: among audit2why's booleans, the narrowest first, by the
policy's conditional rules (never by name order), on Debian's reference
policy and Fedora's targeted policy.

How each expectation was checked (both policies unless said):

- ``sesearch -A -s httpd_t -c tcp_socket -p name_connect POLICY`` shows
  ``allow httpd_t postgresql_port_t:tcp_socket name_connect; [ httpd_can_network_connect_db ]:True``,
  the same for ``mysqld_port_t``, ``allow httpd_t smtp_port_t:tcp_socket name_connect;
  [ httpd_can_sendmail ]:True`` and ``allow httpd_t port_type:tcp_socket name_connect;
  [ httpd_can_network_connect ]:True`` (``port_type``: ``seinfo -a port_type -x`` lists
  232 types on Debian, 317 on Fedora);
- and ``allow nsswitch_domain unreserved_port_t:tcp_socket name_connect; [ allow_ypbind ]:True``
  (Debian), ``[ nis_enabled ]`` (Fedora), and on Fedora ``allow nsswitch_domain
  reserved_port_type:tcp_socket name_connect; [ nis_enabled ]:True`` (smtp_port_t
  holds 25, a reserved port); ``seinfo -a nsswitch_domain -x``: 356 / 535 domains;
- ``seinfo --portcon 5432`` → postgresql_port_t, ``3306`` → mysqld_port_t,
  ``25`` → smtp_port_t, ``8090`` → unreserved_port_t;
- audit2why (``Finding.booleans``) names exactly those booleans: checked in
  each test, so the ranking, not the set, is what is tested.

On main (name order, ``related()`` by name prefix) httpd_can_network_connect
came first at 80 in every connect case, and allow_ypbind/nis_enabled got 65-70.
"""

from __future__ import annotations

import pytest
from advisor_helpers import explain_one, of_kind, policy_facts

from avcfix.explain.model import AdviceKind, Reason

pytestmark = pytest.mark.slow

POLICIES = ("debian", "fedora")


@pytest.fixture(params=POLICIES)
def facts(request):
    return policy_facts(request, request.param)


def _booleans(f):
    return [a.command for a in of_kind(f, AdviceKind.BOOLEAN)]


@pytest.mark.parametrize(("log", "narrow", "port_type"), [
    ("httpd_connect_postgresql.log", "httpd_can_network_connect_db", "postgresql_port_t"),
    ("httpd_connect_mysqld.log", "httpd_can_network_connect_db", "mysqld_port_t"),
    ("httpd_connect_smtp.log", "httpd_can_sendmail", "smtp_port_t"),
])
def test_the_purpose_made_boolean_comes_before_the_broad_one(facts, log, narrow, port_type):
    f = explain_one(log, facts)
    assert f.reason is Reason.BOOLEAN
    names = {n for n, _ in f.booleans}
    assert {narrow, "httpd_can_network_connect"} <= names
    first = f.advice[0]
    assert first.kind is AdviceKind.BOOLEAN and first.command == f"setsebool -P {narrow} on"
    assert first.confidence >= 70
    # the evidence names the conditional rule; the description stays in why
    assert f"policy: allow httpd_t {port_type}:tcp_socket name_connect; [ {narrow} ]:True" in first.evidence
    assert facts.boolean_description(narrow) and facts.boolean_description(narrow) in first.why
    broad = next(a for a in f.advice if a.command == "setsebool -P httpd_can_network_connect on")
    assert broad.confidence <= 60 < first.confidence
    assert "policy: allow httpd_t port_type:tcp_socket name_connect; [ httpd_can_network_connect ]:True" \
        in broad.evidence
    # a port that carries a specific type is never relabelled
    assert not of_kind(f, AdviceKind.PORT_LABEL)


def test_an_unrelated_boolean_is_never_first_nor_confident(request):
    # Fedora, port 25: nis_enabled reaches smtp_port_t through reserved_port_type
    # for all 535 nsswitch_domain types (Debian's allow_ypbind names only
    # port_t/reserved_port_t/unreserved_port_t, so audit2why does not offer it there)
    f = explain_one("httpd_connect_smtp.log", policy_facts(request, "fedora"))
    assert ("nis_enabled", True) in f.booleans
    [nis] = [a for a in f.advice if a.command == "setsebool -P nis_enabled on"]
    assert nis.confidence < 50 and nis is f.advice[-1]
    assert "policy: allow nsswitch_domain reserved_port_type:tcp_socket name_connect; [ nis_enabled ]:True" \
        in nis.evidence


def test_generic_port_connect_broad_boolean_first_nis_last(facts):
    f = explain_one("httpd_connect_unreserved.log", facts)
    nis = "allow_ypbind" if facts.boolean_state("allow_ypbind") is not None else "nis_enabled"
    assert {n for n, _ in f.booleans} == {"httpd_can_network_connect", nis}
    cmds = _booleans(f)
    assert cmds == ["setsebool -P httpd_can_network_connect on", f"setsebool -P {nis} on"]
    by_cmd = {a.command: a for a in f.advice}
    # nothing names unreserved_port_t exactly for httpd_t: no boolean reaches 70
    assert all(a.confidence < 70 for a in of_kind(f, AdviceKind.BOOLEAN))
    assert by_cmd["setsebool -P httpd_can_network_connect on"].confidence <= 60
    assert by_cmd[f"setsebool -P {nis} on"].confidence < 50
    assert f.advice[0].command == "setsebool -P httpd_can_network_connect on"


def test_the_narrower_of_two_narrow_booleans_first(request):
    # Fedora, httpd_t name_connect http_port_t (port 80): sesearch shows both
    # [ httpd_graceful_shutdown ] and [ httpd_can_network_relay ] name http_port_t;
    # `sesearch -A -s httpd_t -b httpd_graceful_shutdown` prints 1 rule,
    # `-b httpd_can_network_relay` 17 (ftp, gopher, squid, memcache, http_cache ports...)
    facts = policy_facts(request, "fedora")
    f = explain_one("httpd_connect_http.log", facts)
    assert _booleans(f)[:3] == ["setsebool -P httpd_graceful_shutdown on",
                                "setsebool -P httpd_can_network_relay on",
                                "setsebool -P httpd_can_network_connect on"]
    assert [a.confidence >= 70 for a in f.advice[:3]] == [True, True, False]
    graceful = facts.boolean_rules((("httpd_graceful_shutdown", True),), "httpd_t")
    relay = facts.boolean_rules((("httpd_can_network_relay", True),), "httpd_t")
    assert len(graceful) < len(relay)
