"""Port label advisor: the canonical port type for the service, chosen by
evidence (the domain's own unconditional rule, then the portcon), on
Debian's reference policy and Fedora's targeted policy.

How each expectation was checked (both policies unless said):

- ``seinfo --portcon 8090`` / ``2525`` / ``10143`` → unreserved_port_t (a generic type);
  ``seinfo --portcon 25`` → smtp_port_t (a specific type);
- ``sesearch -A -s httpd_t -c tcp_socket -p name_bind``: ``allow httpd_t http_port_t``
  and ``allow httpd_t http_cache_port_t`` (both unconditional; Fedora adds
  jboss_management_port_t, jboss_messaging_port_t, ntop_port_t, puppet_port_t);
  ``seinfo --portcon -x | grep http``: http_port_t holds 80, 443, 488 (reserved)
  and more, http_cache_port_t holds 3128, 8080, 8118, 10001-10010 (none reserved);
- ``sesearch -A -s httpd_t -c tcp_socket -p name_connect``: every port type of
  httpd_t's own rules is under a boolean (http_port_t under httpd_can_network_relay
  and httpd_graceful_shutdown);
- ``sesearch -A -s exim_t -c tcp_socket -p name_bind``: smtp_port_t (holds 25, 465,
  587) and amavisd_send_port_t (holds 10025);
- ``sesearch -A -s dovecot_t -c tcp_socket -p name_bind``: pop_port_t (holds 106, 109,
  110, 143, 220, 993, 995...), lmtp_port_t (24), mail_port_t (2000, 3905),
  sieve_port_t (4190), and on Fedora smtp_port_t.

On main (name prefix) httpd_t got http_cache_port_t first at 90, exim_t
amavisd_send_port_t and dovecot_t lmtp_port_t.
"""

from __future__ import annotations

import pytest
from advisor_helpers import explain_one, of_kind, policy_facts

from avcfix.explain.model import AdviceKind

pytestmark = pytest.mark.slow


@pytest.fixture(params=("debian", "fedora"))
def facts(request):
    return policy_facts(request, request.param)


def test_web_server_listener_gets_http_port_t_not_the_cache_port(facts):
    f = explain_one("httpd_bind_unreserved.log", facts)
    first = f.advice[0]
    assert first.kind is AdviceKind.PORT_LABEL
    assert first.command == "semanage port -a -t http_port_t -p tcp 8090"
    assert first.confidence >= 70
    assert "policy: allow httpd_t http_port_t:tcp_socket name_bind;" in first.evidence
    assert any(e.startswith("portcon: http_port_t holds 80, ") for e in first.evidence)
    assert not any("http_cache_port_t -p" in a.command for a in f.advice)


def test_port_type_reached_only_through_a_boolean_is_low_and_names_the_boolean(facts):
    f = explain_one("httpd_connect_unreserved.log", facts)
    [port] = of_kind(f, AdviceKind.PORT_LABEL)
    assert port.command == "semanage port -a -t http_port_t -p tcp 8090"
    assert port.confidence < 50
    assert "httpd_can_network_relay" in port.why and "httpd_graceful_shutdown" in port.why
    assert any("[ httpd_graceful_shutdown ]:True" in e or "[ httpd_can_network_relay ]:True" in e
               for e in port.evidence)


@pytest.mark.parametrize(("log", "expected", "port"), [
    ("exim_bind_unreserved.log", "smtp_port_t", 2525),
    ("dovecot_bind_unreserved.log", "pop_port_t", 10143),
])
def test_the_type_holding_the_services_well_known_ports_first(facts, log, expected, port):
    f = explain_one(log, facts)
    first = f.advice[0]
    assert first.command == f"semanage port -a -t {expected} -p tcp {port}"
    # granted directly, but several candidates and none named for the service: below 70
    assert first.confidence < 70


def test_a_port_that_already_has_a_specific_type_is_never_relabelled(facts):
    # httpd_t may not bind smtp_port_t (no rule at all); port 25 belongs to the mail server
    f = explain_one("httpd_bind_smtp.log", facts)
    assert not of_kind(f, AdviceKind.PORT_LABEL)
    assert all(a.confidence < 70 or a.kind is AdviceKind.MODULE for a in f.advice)


def test_candidates_ranked_by_evidence(facts):
    from avcfix.explain.advisors.port_label import Grant, candidates

    found = candidates(facts, "httpd_t", "tcp_socket", "name_bind")
    assert found[0].type == "http_port_t" and found[0].grant is Grant.DIRECT and found[0].reserved
    cache = next(c for c in found if c.type == "http_cache_port_t")
    assert cache.grant is Grant.DIRECT and not cache.reserved
    # types reached only under a boolean come after every unconditional one
    grants = [c.grant for c in found]
    assert grants == sorted(grants)
    assert facts.port_ranges("http_port_t")[:2] == (("tcp", 80, 80), ("tcp", 81, 81)) \
        or facts.port_ranges("http_port_t")[:2] == (("tcp", 80, 80), ("tcp", 443, 443))


# The service's own port type by the reference policy's naming convention
# (corenet_port(X_port_t) for the service X_t / Xd_t) comes before a type with
# reserved ports that the domain may also bind. Checked on both policies with
# ``sesearch -A -s DOMAIN -c tcp_socket -p name_bind``: openvpn_t may bind
# openvpn_port_t and http_port_t (80 reserved); squid_t squid_port_t,
# gopher_port_t (70) and http_port_t; syslogd_t (udp) syslogd_port_t; sshd_t
# ssh_port_t and xserver_port_t.
@pytest.mark.parametrize(("domain", "tclass", "own"), [
    ("openvpn_t", "tcp_socket", "openvpn_port_t"),
    ("squid_t", "tcp_socket", "squid_port_t"),
    ("syslogd_t", "udp_socket", "syslogd_port_t"),
    ("sshd_t", "tcp_socket", "ssh_port_t"),
    ("httpd_t", "tcp_socket", "http_port_t"),
])
def test_the_services_own_port_type_first(facts, domain, tclass, own):
    from avcfix.explain.advisors.port_label import candidates, own_port_type

    found = [c.type for c in candidates(facts, domain, tclass, "name_bind")]
    assert found and found[0] == own, found
    assert own_port_type(domain, own)
    assert not own_port_type("httpd_t", "http_cache_port_t")
