"""Redaction (``avcfix bundle --redact``): complete, consistent, and it keeps
correlation. The completeness test is a property test: generated host names,
user names, addresses and ids in plain, quoted, hex and binary fields; no
original value may be left anywhere in the extracted archive. (That the
redacted log gives the same rules on a real policy:
tests/integration/test_bundle_redact_tools.py.)"""

from __future__ import annotations

import ipaddress
import json
import re
import string
from pathlib import Path

import pytest
from bundle_helpers import (
    FIXED_SECRETS,
    CommandSecrets,
    Secrets,
    haystack,
    hexs,
    hostile_log,
    members,
    secrets_log,
    sockaddr_v4,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from avcfix import proc
from avcfix.bundle.collect import BundleOptions, collect
from avcfix.bundle.facts import LocalUser
from avcfix.bundle.hostfacts import StaticHostFacts
from avcfix.bundle.markdown import code, fenced
from avcfix.bundle.redact import MAX_LITERAL_SECRETS, Redactor, compile_extra
from avcfix.bundle.secrets import secret_spans
from avcfix.errors import UsageError
from avcfix.triage import Triage

SELINUX_NAMES = ("httpd_t", "user_home_t", "http_port_t", "systemd_unit_file_t", "unconfined_t",
                 "{ read }", "{ name_connect }", "{ status }", "tclass=tcp_socket", "tclass=service")
PLACEHOLDER = re.compile(r"(host|user|ip|uid|gid|redacted|secret)-\d+")

SENTINEL = Secrets("sentinelhosta", "sentinelhostb", "sentinelhostc", "sentineluser", 1111, 2222,
                   "203.0.113.77", "203.0.113.78", "2001:db8:ffff::77")


def _bundle(tmp: Path, log: str, redact: bool, host: StaticHostFacts | None = None,
            extra: tuple[str, ...] = ()) -> dict[str, bytes]:
    src = tmp / "audit.log"
    src.write_text(log)
    b = collect(BundleOptions(redact=redact, redact_extra=extra),
                host or StaticHostFacts(), Triage([str(src)], facts=None), proc.Recorder(), version="test")
    return members(b.archive)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> str:
    """Everything an unredacted bundle of the template says besides the secrets."""
    return haystack(_bundle(tmp_path_factory.mktemp("base"), hostile_log(SENTINEL), redact=False))


_host = st.from_regex(r"[a-z][a-z0-9-]{3,8}[a-z0-9](\.[a-z]{2,6}){0,2}", fullmatch=True)
_user = st.from_regex(r"[a-z][a-z0-9_]{4,10}", fullmatch=True)
_v4 = st.ip_addresses(v=4).filter(
    lambda ip: not (ip.is_loopback or ip.is_unspecified or ip in ipaddress.ip_network("198.18.0.0/15")))
_v6 = st.ip_addresses(v=6).filter(
    lambda ip: not (ip.is_loopback or ip.is_unspecified or ip.ipv4_mapped or ip.sixtofour
                    or ip in ipaddress.ip_network("2001:db8::/32")))
_id = st.integers(min_value=1000, max_value=60000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(host1=_host, host2=_host, host3=_host, user=_user, uid=_id, gid=_id, ip4=_v4, ip4b=_v4, ip6=_v6,
       local=_user, local_uid=_id)
def test_no_original_value_survives(tmp_path_factory, baseline, host1, host2, host3, user, uid, gid,
                                    ip4, ip4b, ip6, local, local_uid):
    s = Secrets(host1, host2, host3, user, uid, gid, str(ip4), str(ip4b), str(ip6))
    values = s.values() + [local]
    assume(len(set(values)) == len(values))
    for v in values:
        assume(v not in baseline and not PLACEHOLDER.fullmatch(v))
        assume(not any(v != w and v in w for w in values))  # one value inside another is checked elsewhere
    for n in (uid, gid, local_uid):
        assume(str(n) not in baseline)
    assume(len({uid, gid, local_uid}) == 3)
    # The host's own account appears in the log only through its home directory.
    log = hostile_log(s).replace("/usr/bin/curl", f"/home/{local}/bin/curl")
    host = StaticHostFacts(users=(LocalUser(local, local_uid, f"/home/{local}"),))
    files = _bundle(tmp_path_factory.mktemp("red"), log, redact=True, host=host)
    text = haystack(files)
    upper = text.upper()
    for v in values:
        assert v not in text, v
        assert hexs(v) not in upper, v
    for n in (uid, gid):
        assert not re.search(rf"(?<!\d){n}(?!\d)", text), n
    # The binary sockaddr no longer carries the address.
    assert sockaddr_v4(str(ip4), 443) not in upper
    events = files["events.log"].decode()
    for name in SELINUX_NAMES:
        assert name in events, name
    # Consistency: one placeholder per value, the same in every file.
    assert "/home/user-" in events and "host-" in events and "ip-" in events
    doc = json.loads(files["denials.json"])
    nodes = [d["node"] for d in doc["denials"]]
    assert nodes[0] != nodes[1] and all(n.startswith("host-") for n in nodes[:2])
    assert nodes[0] in events and nodes[0] in files["README.md"].decode() or nodes[0] in events


def test_placeholders_are_consistent_across_files(tmp_path):
    s = Secrets("web01.corp.example", "db-main", "jump.lan", "alice", 1234, 1500, "10.20.30.40",
                "172.16.5.9", "2a01:4f8::17")
    files = _bundle(tmp_path, hostile_log(s), redact=True)
    doc = json.loads(files["denials.json"])
    first = doc["denials"][0]
    assert first["node"] == "host-1" and doc["denials"][1]["node"] == "host-2"
    assert first["exe"] == "/home/user-1/bin/tool"
    assert first["proctitle"] == "ssh user-1@host-2 -b ip-1 ip-2 /home/user-1/.ssh/id"
    assert doc["denials"][1]["paths"] == ["/srv/ip-2/host-1.conf"]
    events = files["events.log"].decode()
    assert "node=host-1 type=SYSCALL" in events and "auid=uid-1 uid=uid-1 gid=gid-1" in events
    assert 'UID="user-1"' in events and "hostname=host-3 addr=ip-3" in events
    # the binary sockaddr: ip-1 is 198.18.0.1 there, the port stays
    assert f"saddr={sockaddr_v4('198.18.0.1', 443)}" in events
    readme = files["README.md"].decode()
    assert "`/home/user-1/bin/tool`" in readme
    assert "3 host names" in readme and "3 IP addresses" in readme and "1 user name" in readme


def test_host_facts_names_and_local_users_are_redacted(tmp_path):
    s = Secrets("web01.corp.example", "db-main", "jump.lan", "alice", 1234, 1500, "10.20.30.40",
                "172.16.5.9", "2a01:4f8::17")
    log = hostile_log(s).replace('proctitle="curl"', f"proctitle={hexs('curl https://buildbox.internal/ -u bob')}")
    host = StaticHostFacts(names=("buildbox.internal",), users=(LocalUser("bob", 1001, "/home/bob"),))
    files = _bundle(tmp_path, log, redact=True, host=host)
    text = haystack(files)
    assert "buildbox" not in text and "bob" not in text
    assert re.search(r"curl https://host-\d/ -u user-2", text)


def test_redact_extra(tmp_path, capsys):
    s = Secrets("web01.corp.example", "db-main", "jump.lan", "alice", 1234, 1500, "10.20.30.40",
                "172.16.5.9", "2a01:4f8::17")
    files = _bundle(tmp_path, hostile_log(s).replace("notes.txt", "ACME-SECRET-42.txt"), redact=True,
                    extra=(r"ACME-SECRET-\d+",))
    text = haystack(files)
    assert "ACME-SECRET" not in text and "redacted-1.txt" in text
    with pytest.raises(UsageError):
        compile_extra(["("])
    with pytest.raises(UsageError):
        compile_extra(["x*"])   # matches the empty string


def test_selinux_fields_are_never_redacted():
    red = Redactor()
    for name in ("httpd_t", "read", "file", "system_u", "s0"):
        red.learn_host(name)
        red.learn_user(name + "x")
    line = ("type=AVC msg=audit(1.0:1): avc:  denied  { read } for  pid=1 comm=\"httpd_t\" "
            "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:httpd_t:s0 tclass=file permissive=0")
    out = red.record(line)
    assert "{ read }" in out and "scontext=system_u:system_r:httpd_t:s0" in out and "tclass=file" in out
    assert 'comm="host-1"' in out   # the comm is free text


def test_learned_values_never_break_the_avc_words():
    red = Redactor()
    red.learn_text("/home/denied/x /home/for/y")              # users named like the AVC's words
    red.learn_text("tool --password granted_ --token denied")
    line = ("type=AVC msg=audit(1.0:1): avc:  denied  { read } for  pid=1 comm=\"denied\" name=\"for\" "
            "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=0")
    out = red.record(line)
    assert out.startswith("type=AVC msg=audit(1.0:1): avc:  denied  { read } for  pid=1 comm=\"secret-2\" "
                          "name=\"user-2\" scontext="), out


def test_unchanged_hex_fields_stay_byte_identical():
    red = Redactor()
    line = "type=PROCTITLE msg=audit(1.0:1): proctitle=2F7573722F7362696E2F657563616E657464002D64"
    assert red.record(line) == line


def test_markdown_code_spans_cannot_be_broken():
    hostile = "a`b``c|d\n# heading <script>"
    span = code(hostile, cell=True)
    assert span.startswith("```") and span.endswith("```")   # longer than the longest run inside
    assert "\n" not in span and "\\|" in span
    block = fenced("x\n```\n# not a heading\n")
    assert block.startswith("````te" if False else "````") and block.rstrip().endswith("````")


def test_interpreted_names_are_users_but_service_accounts_are_not():
    red = Redactor()
    line = ("type=SYSCALL msg=audit(11/14/2023 22:13:21.200:4105) : arch=x86_64 syscall=openat success=no "
            "exit=EACCES ppid=1 pid=2051 auid=alice uid=alice gid=alice euid=sshd ouid=systemd-network "
            "comm=sshd exe=/usr/sbin/sshd subj=system_u:system_r:sshd_t:s0 key=(null)")
    red.learn_record(line)
    out = red.record(line)
    assert "alice" not in out and "auid=user-1 uid=user-1 gid=user-1" in out
    assert "euid=sshd ouid=systemd-network comm=sshd exe=/usr/sbin/sshd" in out
    assert "audit(11/14/2023 22:13:21.200:4105)" in out


def test_environment_paths_and_reasons_are_redacted(tmp_path):
    from avcfix.bundle.facts import Fact

    s = Secrets("web01.corp.example", "db-main", "jump.lan", "alice", 1234, 1500, "10.20.30.40",
                "172.16.5.9", "2a01:4f8::17")
    host = StaticHostFacts(module_list=Fact.absent("cannot read /home/carol/store: permission denied"),
                           labels={"/home/alice/bin/tool": "unconfined_u:object_r:user_home_t:s0"})
    files = _bundle(tmp_path, hostile_log(s), redact=True, host=host)
    env = json.loads(files["environment.json"])
    assert env["labels"]["/home/user-1/bin/tool"] == {"value": "unconfined_u:object_r:user_home_t:s0"}
    assert "carol" not in files["environment.json"].decode() and "carol" not in files["README.md"].decode()
    assert env["modules"]["missing"].startswith("cannot read /home/user-")


def test_hosts_in_urls_and_user_at_host_are_learned_from_free_text():
    red = Redactor()
    text = "curl https://build.acme.io:8443/x; ssh deploy@gw01 -p 22; systemctl start getty@tty1.service"
    red.learn_text(text)
    assert red.text(text) == "curl https://host-1:8443/x; ssh deploy@host-2 -p 22; systemctl start getty@tty1.service"


def test_binary_sockaddrs_unix_and_ipv6():
    red = Redactor()
    unix = (b"\x01\x00" + b"/home/alice/.app.sock" + b"\0" * 10).hex().upper()
    v6 = (b"\x0a\x00\x01\xbb" + b"\0" * 4 + ipaddress.IPv6Address("2a01:4f8::17").packed + b"\0" * 4).hex().upper()
    lines = [f"type=SOCKADDR msg=audit(1.0:1): saddr={unix}", f"type=SOCKADDR msg=audit(1.0:2): saddr={v6}"]
    for line in lines:
        red.learn_record(line)
    out = [bytes.fromhex(red.record(line).split("saddr=")[1]) for line in lines]
    assert out[0] == b"\x01\x00/home/user-1/.app.sock" + b"\0" * 10
    assert out[1][:8] == b"\x0a\x00\x01\xbb\0\0\0\0"                       # family and port kept
    assert ipaddress.IPv6Address(out[1][8:24]) == ipaddress.IPv6Address("2001:db8::1")


def test_user_records_accounts_and_addresses():
    red = Redactor()
    line = ("type=USER_LOGIN msg=audit(1.0:1): pid=1 uid=0 auid=1001 ses=2 msg='op=login acct=\"carol\" "
            "exe=\"/usr/sbin/sshd\" hostname=? addr=laptop.home.arpa terminal=ssh res=success'")
    red.learn_record(line)
    assert red.record(line) == ("type=USER_LOGIN msg=audit(1.0:1): pid=1 uid=0 auid=uid-1 ses=2 msg='op=login "
                                "acct=\"user-1\" exe=\"/usr/sbin/sshd\" hostname=? addr=host-1 terminal=ssh "
                                "res=success'")


# ------------------------------------------------------------------ host names in every letter case

def _case_log(node: str, title: list[str], path: str) -> str:
    """One denial event with ``node``, a hex PROCTITLE (NUL-separated argv) and a PATH name."""
    ev = "1700000200.000:601"
    return "\n".join([
        f"node={node} type=AVC msg=audit({ev}): avc:  denied  {{ name_connect }} for  pid=77 comm=\"ssh\" "
        "dest=22 scontext=system_u:system_r:ssh_t:s0 tcontext=system_u:object_r:ssh_port_t:s0 "
        "tclass=tcp_socket permissive=0",
        f"node={node} type=SYSCALL msg=audit({ev}): arch=c000003e syscall=42 success=no exit=-13 a0=3 a1=1 "
        "a2=10 a3=0 items=1 ppid=1 pid=77 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
        "tty=pts0 ses=1 comm=\"ssh\" exe=\"/usr/bin/ssh\" subj=system_u:system_r:ssh_t:s0 key=(null)",
        f"node={node} type=PATH msg=audit({ev}): item=0 name={hexs(path)} inode=9 dev=fd:01 mode=0100644 "
        "ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:etc_t:s0 nametype=NORMAL",
        f"node={node} type=PROCTITLE msg=audit({ev}): proctitle={hexs(chr(0).join(title))}",
    ]) + "\n"


def test_a_host_name_is_redacted_in_every_letter_case(tmp_path):
    # the repro: node=Db02.Example.com redacted, db02.example.com in the proctitle was not
    log = _case_log("Db02.Example.com", ["ssh", "db02.example.com", "uptime"], "/srv/DB02.EXAMPLE.COM./known")
    files = _bundle(tmp_path, log, redact=True)
    text = haystack(files)
    assert "db02" not in text.lower(), text
    doc = json.loads(files["denials.json"])
    assert doc["denials"][0]["node"] == "host-1"
    assert doc["denials"][0]["proctitle"] == "ssh host-1 uptime"
    assert doc["denials"][0]["paths"] == ["/srv/host-1./known"]
    assert "1 host name" in files["README.md"].decode()   # one host, one placeholder


def test_a_machines_short_name_shares_its_placeholder():
    red = Redactor()
    red.learn_record("node=web01.corp.example type=AVC msg=audit(1.0:1): avc:  denied  { read } for pid=1")
    red.learn_text("see https://WEB01.corp.example./ and https://api.github.com/")
    assert red.text("ssh Web01; ssh web01.CORP.example; cd /srv/web01-data; curl https://api.github.com/x") \
        == "ssh host-1; ssh host-1; cd /srv/host-1-data; curl https://host-2/x"
    # a URL's host gives no short name (api, www... are words), nor does a number
    assert red.text("api") == "api"
    red.learn_host("443.example.org", machine=True)
    assert red.text("dest=443") == "dest=443"
    assert red.counts.hosts == 3


@pytest.fixture(scope="module")
def case_baseline(tmp_path_factory) -> str:
    """Everything an unredacted bundle of the case template says besides the host name."""
    log = _case_log("qq", ["ssh", "qq", "--", "scp x qq:/tmp"], "/var/lib/qq/db")
    return haystack(_bundle(tmp_path_factory.mktemp("cbase"), log, redact=False)).lower()


_label = st.from_regex(r"[a-z][a-z0-9-]{2,8}[a-z0-9]", fullmatch=True)


@st.composite
def _case_variant(draw, name: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if f else c for c, f in zip(name, flips, strict=False)) + draw(st.sampled_from(["", "."]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(labels=st.lists(_label, min_size=1, max_size=3), data=st.data())
def test_case_variants_of_a_learned_host_never_survive(tmp_path_factory, case_baseline, labels, data):
    host = ".".join(labels)
    assume(labels[0] not in case_baseline and not PLACEHOLDER.fullmatch(labels[0]))
    variants = [data.draw(_case_variant(host)) for _ in range(4)]
    short = data.draw(_case_variant(labels[0])) if len(labels) > 1 else variants[3]
    log = _case_log(variants[0], ["ssh", variants[1], "--", f"scp x {short}:/tmp"],
                    f"/var/lib/{variants[2]}/db")
    files = _bundle(tmp_path_factory.mktemp("case"), log, redact=True)
    text = haystack(files).lower()
    assert host not in text
    assert labels[0] not in text
    assert hexs(host) not in text.upper() and hexs(host).lower() not in text


# ------------------------------------------------------------------ secrets in command lines

def _show(text: str) -> str:
    """``text`` with each secret span in <>."""
    out, pos = [], 0
    for start, end in secret_spans(text):
        out.append(text[pos:start] + "<" + text[start:end] + ">")
        pos = end
    return "".join(out) + text[pos:]


@pytest.mark.parametrize("text, marked", [
    ("mysql --password=hunter2 -h db", "mysql --password=<hunter2> -h db"),
    ("mysql\0--password\0my secret\0-h\0db", "mysql\0--password\0<my secret>\0-h\0db"),
    ("mysql -pS3cr3t -h db -P 3306", "mysql -p<S3cr3t> -h db -P 3306"),
    ("mysql -p dbname", "mysql -p dbname"),                       # -p alone prompts: dbname is no secret
    ("ssh -p 2222 host; nc -p1234 h; mkdir -p /x; psql -p 5432", "ssh -p 2222 host; nc -p1234 h; mkdir -p /x; psql -p 5432"),
    ("sshpass -p pw1 ssh -p 22 h", "sshpass -p <pw1> ssh -p 22 h"),
    ("env MYSQL_PWD=abc PWD=/home/x OLDPWD=/ DEPLOY_TOKEN=t0k mysql", "env MYSQL_PWD=<abc> PWD=/home/x OLDPWD=/ DEPLOY_TOKEN=<t0k> mysql"),
    ("psql\0host=db password=xx dbname=z", "psql\0host=db password=<xx> dbname=z"),
    ("curl -u bob:pa:ss https://a:b@c@host/x", "curl -u bob:<pa:ss> https://a:<b@c>@host/x"),
    ("curl\0-H\0Authorization: Basic dXNlcjpw\0https://x", "curl\0-H\0Authorization: Basic <dXNlcjpw>\0https://x"),
    ("curl -H X-Api-Key:k3y https://x", "curl -H X-Api-Key:<k3y> https://x"),
    ("git clone https://x-access-token:ghs_abc@github.com/r", "git clone https://x-access-token:<ghs_abc>@github.com/r"),
    ("echo AKIAIOSFODNN7EXAMPLE ASIAIOSFODNN7EXAMPLE AKIAshort done", "echo <AKIAIOSFODNN7EXAMPLE> <ASIAIOSFODNN7EXAMPLE> AKIAshort done"),
    ("cut ASIAIOSFOD", "cut <ASIAIOSFOD>"),                        # a proctitle truncated in the key
    ("t --token xoxb-1234567890-abc --no-password db --password-file f --ask-pass yes",
     "t --token <xoxb-1234567890-abc> --no-password db --password-file f --ask-pass yes"),
    ("sh\0-c\0mysql -pX1 db; ssh -p22 h", "sh\0-c\0mysql -p<X1> db; ssh -p22 h"),
    ("openssl rsa -passin pass:topsecret -passout env:V -k k3y -keyform PEM",
     "openssl rsa -passin pass:<topsecret> -passout env:V -k <k3y> -keyform PEM"),
    ("echo -----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY----- after",
     "echo <-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----> after"),
    ("k\0-----BEGIN OPENSSH PRIVATE KEY-----\nabc\0next", "k\0<-----BEGIN OPENSSH PRIVATE KEY-----\nabc>\0next"),
    ("zip -P zz -r a.zip . ; unzip -Pqq a.zip; redis-cli -a r3d", "zip -P <zz> -r a.zip . ; unzip -P<qq> a.zip; redis-cli -a <r3d>"),
    ("keytool -storepass sp -keypass kp -api-key=ak --apikey ak2 --access-key ak3",
     "keytool -storepass <sp> -keypass <kp> -api-key=<ak> --apikey <ak2> --access-key <ak3>"),
    ("x github_pat_11ABCDEFG0abcdefghijkl gho_x glpat-abcdefghij0123456789 aghp_x",
     "x <github_pat_11ABCDEFG0abcdefghijkl> gho_x <glpat-abcdefghij0123456789> aghp_x"),
    ("tool Bearer abc.def", "tool Bearer <abc.def>"),
    ("cryptsetup open --test-passphrase /dev/vda3 x --verify-passphrase y", "cryptsetup open --test-passphrase /dev/vda3 x --verify-passphrase y"),
    ("mysqldump --password --all-databases", "mysqldump --password --all-databases"),
])
def test_secret_patterns(text, marked):
    assert _show(text) == marked


def test_secrets_in_command_lines_are_redacted(tmp_path):
    files = _bundle(tmp_path, secrets_log(FIXED_SECRETS), redact=True)
    text = haystack(files)
    for v in FIXED_SECRETS.values():
        assert v not in text, v
    doc = json.loads(files["denials.json"])
    assert doc["denials"][0]["proctitle"] == ("env MYSQL_PWD=secret-1 DEPLOY_TOKEN=secret-1 mysql -u app --password "
                                              "secret-2 -psecret-3 --db-password=secret-2 -h db")
    curl = doc["denials"][1]["proctitle"]
    assert curl.startswith("curl -H Authorization: Bearer secret-") and "https://user-1:secret-" in curl
    assert "-----BEGIN" not in curl
    # the same value has the same placeholder everywhere (PATH name, exe, proctitle)
    aws = re.search(r"AWS_ACCESS_KEY_ID=(secret-\d+)", curl).group(1)
    assert doc["denials"][1]["paths"][0].startswith(f"/tmp/{aws} ")
    assert "5 IP" not in files["README.md"].decode() and "secrets (passwords, tokens, keys" in files["README.md"].decode()
    # SELinux names untouched, the events still parse
    events = files["events.log"].decode()
    assert "tcontext=system_u:system_r:mysqld_t:s0 tclass=unix_stream_socket" in events


def test_long_secrets_are_replaced_everywhere_short_ones_and_paths_where_found():
    red = Redactor()
    red.learn_text("mysql\0--password\0my secret\0-pab1\0--token\0/dev/vda3")
    assert red.text("mysql --password my secret -pab1 --token /dev/vda3") == \
        "mysql --password secret-1 -psecret-2 --token secret-3"
    # elsewhere: the long one as a word, not the short one (it would hit ports, ids), not a path
    assert red.text("cd '/srv/my secret' ab1 dest=ab1 /dev/vda3") == "cd '/srv/secret-1' ab1 dest=ab1 /dev/vda3"


def test_many_distinct_secrets_are_all_replaced():
    """Past MAX_LITERAL_SECRETS, secrets are still replaced where a pattern finds them."""
    values = [f"pw{i:04d}xyz" for i in range(MAX_LITERAL_SECRETS + 50)]
    argv = "\0".join(f"--password={v}" for v in values)
    red = Redactor()
    line = f"type=PROCTITLE msg=audit(1.0:1): proctitle={hexs(argv)}"
    red.learn_record(line)
    out = bytes.fromhex(red.record(line).split("proctitle=")[1]).decode()
    joined = red.text(argv.replace("\0", " "))
    assert not any(v in out or v in joined for v in values)
    assert red.counts.secrets == len(values)
    assert out.split("\0")[-1] == f"--password=secret-{len(values)}"


def test_a_secret_field_of_a_record_is_redacted():
    red = Redactor()
    line = ("type=USER_CMD msg=audit(1.0:1): pid=1 uid=0 auid=0 ses=1 msg='cwd=\"/\" "
            "cmd=\"psql password=abc\" MYSQL_PWD=zzz9 terminal=pts/0 res=success'")
    red.learn_record(line)
    assert red.record(line) == ("type=USER_CMD msg=audit(1.0:1): pid=1 uid=0 auid=0 ses=1 msg='cwd=\"/\" "
                                "cmd=\"psql password=secret-1\" MYSQL_PWD=secret-2 terminal=pts/0 res=success'")


_pw = st.text(alphabet=string.ascii_letters + string.digits + "!#%+,.^~_", min_size=8, max_size=16).filter(
    lambda s: not s.startswith(("-", "_")))
_alnum = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=16)


@st.composite
def _command_secrets(draw) -> CommandSecrets:
    upper = string.ascii_uppercase + string.digits
    return CommandSecrets(
        password=draw(_pw), mysql=draw(_pw), env=draw(_pw), url=draw(_alnum),
        bearer=draw(st.text(alphabet=string.ascii_letters + string.digits + "._~+/-", min_size=12, max_size=40)
                    .filter(lambda s: s[0].isalnum())),
        aws=draw(st.sampled_from(["AKIA", "ASIA"])) + draw(st.text(alphabet=upper, min_size=16, max_size=16)),
        github=draw(st.sampled_from(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]))
        + draw(st.text(alphabet=string.ascii_letters + string.digits, min_size=36, max_size=36)),
        slack=draw(st.sampled_from(["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"]))
        + draw(st.text(alphabet=string.digits, min_size=10, max_size=12)) + "-"
        + draw(st.text(alphabet=string.ascii_letters + string.digits, min_size=10, max_size=24)),
        pem=draw(st.text(alphabet=string.ascii_letters + string.digits + "+/", min_size=40, max_size=64)) + "==",
    )


@pytest.fixture(scope="module")
def secrets_baseline(tmp_path_factory) -> str:
    return haystack(_bundle(tmp_path_factory.mktemp("sbase"), secrets_log(FIXED_SECRETS), redact=False))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(s=_command_secrets())
def test_generated_secrets_never_survive(tmp_path_factory, secrets_baseline, s):
    values = s.values()
    assume(len(set(values)) == len(values))
    for v in values:
        assume(v not in secrets_baseline and not PLACEHOLDER.search(v))
        assume(not any(v != w and v in w for w in values))
    files = _bundle(tmp_path_factory.mktemp("sec"), secrets_log(s), redact=True)
    text = haystack(files)
    upper = text.upper()
    for name, content in files.items():   # every member, raw and with its hex fields decoded
        assert not any(v.encode() in content for v in values), name
    for v in values:
        assert v not in text, v
        assert hexs(v) not in upper, v
    for name in ("httpd_t", "mysqld_t", "http_port_t", "{ connectto }", "{ name_connect }", "tclass=unix_stream_socket"):
        assert name in files["events.log"].decode(), name
