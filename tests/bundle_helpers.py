"""Shared helpers for the bundle tests of both tiers: run the CLI, read archives, build hostile logs."""

from __future__ import annotations

import io
import ipaddress
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from avcfix.cli import main

EUCANETD_LOG = Path(__file__).resolve().parents[1] / "fixtures" / "eucanetd" / "audit.log"


def run(capsys, *args: str) -> tuple[int, str, str]:
    """``avcfix ARGS`` in-process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def members(data: bytes) -> dict[str, bytes]:
    """``{name: content}`` of a bundle (names without the top directory)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


_HEXTOKEN = re.compile(r"=([0-9A-Fa-f]{8,})\b")


def haystack(files: dict[str, bytes]) -> str:
    """Every member's text, plus the decoded form of every hex field in it."""
    parts = []
    for content in files.values():
        text = content.decode("utf-8", "replace")
        parts.append(text)
        for m in _HEXTOKEN.finditer(text):
            raw = m.group(1)
            if len(raw) % 2 == 0:
                parts.append(bytes.fromhex(raw).decode("utf-8", "replace").replace("\0", " "))
    return "\n".join(parts)


def hexs(text: str) -> str:
    return text.encode().hex().upper()


def sockaddr_v4(ip: str, port: int) -> str:
    return (b"\x02\x00" + port.to_bytes(2, "big") + ipaddress.IPv4Address(ip).packed + b"\0" * 8).hex().upper()


@dataclass(frozen=True)
class Secrets:
    """The sensitive values a hostile log carries."""

    host1: str   # node= of the first event
    host2: str   # node= of the second event; also inside hex fields of the first
    host3: str   # hostname= of a USER_AVC
    user: str    # home directory, ENRICHED names, proctitle
    uid: int
    gid: int
    ip4: str     # proctitle (hex) and binary saddr
    ip4b: str    # addr= of the USER_AVC, plain
    ip6: str     # proctitle (hex) and a plain PATH name

    def values(self) -> list[str]:
        return [self.host1, self.host2, self.host3, self.user, self.ip4, self.ip4b, self.ip6]


def hostile_log(s: Secrets) -> str:
    """Three denial events carrying the secrets in plain, quoted, hex and binary fields."""
    e1 = "1700000100.000:501"
    e2 = "1700000101.000:502"
    e3 = "1700000102.000:503"
    title = "\0".join(["ssh", f"{s.user}@{s.host2}", "-b", s.ip4, s.ip6, f"/home/{s.user}/.ssh/id"])
    lines = [
        f"node={s.host1} type=AVC msg=audit({e1}): avc:  denied  {{ read }} for  pid=4242 "
        f"comm={hexs('tool ' + s.user)} name=\"notes.txt\" dev=\"vda1\" ino=77 "
        "scontext=system_u:system_r:httpd_t:s0 tcontext=unconfined_u:object_r:user_home_t:s0 "
        "tclass=file permissive=0",
        f"node={s.host1} type=SYSCALL msg=audit({e1}): arch=c000003e syscall=257 success=no exit=-13 "
        f"a0=ffffff9c a1=7ffd5e1c2a10 a2=0 a3=0 items=1 ppid=1 pid=4242 auid={s.uid} uid={s.uid} "
        f"gid={s.gid} euid={s.uid} suid={s.uid} fsuid={s.uid} egid={s.gid} sgid={s.gid} fsgid={s.gid} "
        f"tty=(none) ses=7 comm={hexs('tool ' + s.user)} exe=\"/home/{s.user}/bin/tool\" "
        f"subj=system_u:system_r:httpd_t:s0 key=(null)\x1dARCH=x86_64 SYSCALL=openat "
        f"AUID=\"{s.user}\" UID=\"{s.user}\" GID=\"{s.user}\" EUID=\"{s.user}\"",
        f"node={s.host1} type=CWD msg=audit({e1}): cwd={hexs(f'/home/{s.user}/my docs')}",
        f"node={s.host1} type=PATH msg=audit({e1}): item=0 name={hexs(f'/home/{s.user}/my docs/{s.host2} notes.txt')} "
        f"inode=77 dev=fd:01 mode=0100600 ouid={s.uid} ogid={s.gid} rdev=00:00 "
        "obj=unconfined_u:object_r:user_home_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
        f"node={s.host1} type=SOCKADDR msg=audit({e1}): saddr={sockaddr_v4(s.ip4, 443)}",
        f"node={s.host1} type=PROCTITLE msg=audit({e1}): proctitle={hexs(title)}",
        f"node={s.host2} type=AVC msg=audit({e2}): avc:  denied  {{ name_connect }} for  pid=4243 "
        f"comm=\"curl\" dest=443 scontext=system_u:system_r:httpd_t:s0 "
        "tcontext=system_u:object_r:http_port_t:s0 tclass=tcp_socket permissive=0",
        f"node={s.host2} type=SYSCALL msg=audit({e2}): arch=c000003e syscall=42 success=no exit=-13 "
        f"a0=3 a1=7ffd5e1c2a10 a2=10 a3=0 items=0 ppid=1 pid=4243 auid={s.uid} uid=48 gid=48 "
        f"euid=48 suid=48 fsuid=48 egid=48 sgid=48 fsgid=48 tty=(none) ses=7 comm=\"curl\" "
        f"exe=\"/usr/bin/curl\" subj=system_u:system_r:httpd_t:s0 key=(null)",
        f"node={s.host2} type=PATH msg=audit({e2}): item=0 name=\"/srv/{s.ip6}/{s.host1}.conf\" inode=9 "
        "dev=fd:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:etc_t:s0 nametype=NORMAL",
        f"node={s.host2} type=PROCTITLE msg=audit({e2}): proctitle=\"curl\"",
        f"type=USER_AVC msg=audit({e3}): pid=1 uid=0 auid={s.uid} ses=7 "
        "subj=system_u:system_r:init_t:s0 msg='avc:  denied  { status } for auid=" + str(s.uid)
        + f" uid=0 gid=0 path=\"/home/{s.user}/unit.service\" cmdline=\"/usr/bin/systemctl status\" "
        "scontext=unconfined_u:unconfined_r:unconfined_t:s0 tcontext=system_u:object_r:systemd_unit_file_t:s0 "
        f"tclass=service permissive=0 exe=\"/usr/lib/systemd/systemd\" sauid=0 hostname={s.host3} "
        f"addr={s.ip4b} terminal=?'",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CommandSecrets:
    """One secret of each well-known family, as a command line would carry them."""

    password: str    # --password VALUE (two argv entries) and --db-password=VALUE
    mysql: str       # mysql -pVALUE
    env: str         # MYSQL_PWD=VALUE and DEPLOY_TOKEN=VALUE
    url: str         # https://deploy:VALUE@git.example.org/
    bearer: str      # Authorization: Bearer VALUE
    aws: str         # AKIA...
    github: str      # ghp_...
    slack: str       # xoxb-...
    pem: str         # the body of a PEM private key

    def values(self) -> list[str]:
        return [self.password, self.mysql, self.env, self.url, self.bearer, self.aws, self.github, self.slack,
                self.pem]


def secrets_log(s: CommandSecrets) -> str:
    """Two denial events whose hex PROCTITLEs (NUL-separated argv), exe and PATH names carry ``s``."""
    e1 = "1700000300.000:701"
    e2 = "1700000301.000:702"
    title1 = ["env", f"MYSQL_PWD={s.env}", f"DEPLOY_TOKEN={s.env}", "mysql", "-u", "app", "--password",
              s.password, f"-p{s.mysql}", f"--db-password={s.password}", "-h", "db"]
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{s.pem}\n-----END RSA PRIVATE KEY-----"
    title2 = ["curl", "-H", f"Authorization: Bearer {s.bearer}", f"https://deploy:{s.url}@git.example.org/r",
              "--token", s.slack, f"AWS_ACCESS_KEY_ID={s.aws}", s.github, pem]
    return "\n".join([
        f"type=AVC msg=audit({e1}): avc:  denied  {{ connectto }} for  pid=900 comm=\"mysql\" "
        "path=\"/run/mysqld/mysqld.sock\" scontext=system_u:system_r:httpd_t:s0 "
        "tcontext=system_u:system_r:mysqld_t:s0 tclass=unix_stream_socket permissive=0",
        f"type=SYSCALL msg=audit({e1}): arch=c000003e syscall=42 success=no exit=-13 a0=3 a1=7ffc a2=6e a3=0 "
        "items=1 ppid=1 pid=900 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 "
        "comm=\"mysql\" exe=\"/usr/bin/mysql\" subj=system_u:system_r:httpd_t:s0 key=(null)",
        f"type=PROCTITLE msg=audit({e1}): proctitle={hexs(chr(0).join(title1))}",
        f"type=AVC msg=audit({e2}): avc:  denied  {{ name_connect }} for  pid=901 comm=\"curl\" dest=443 "
        "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:http_port_t:s0 tclass=tcp_socket "
        "permissive=0",
        f"type=SYSCALL msg=audit({e2}): arch=c000003e syscall=42 success=no exit=-13 a0=3 a1=7ffc a2=10 a3=0 "
        "items=1 ppid=1 pid=901 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 "
        f"comm=\"curl\" exe={hexs(f'/opt/{s.github}/bin/curl x')} subj=system_u:system_r:httpd_t:s0 key=(null)",
        f"type=PATH msg=audit({e2}): item=0 name={hexs(f'/tmp/{s.aws} {s.slack}.json')} inode=9 dev=fd:01 "
        "mode=0100644 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:tmp_t:s0 nametype=NORMAL",
        f"type=PROCTITLE msg=audit({e2}): proctitle={hexs(chr(0).join(title2))}",
    ]) + "\n"


#: The command-line secrets of the redaction tests (one of each kind).
FIXED_SECRETS = CommandSecrets(password="Hunter2!pw", mysql="MyP4ss.word", env="envS3cret99",
                               url="urlPassw0rd", bearer="eyJhbGciOi.JIUzI1NiJ9.sig_x",
                               aws="AKIAIOSFODNN7EXAMPLE", github="ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5",
                               slack="xoxb-123456789012-abcdefGHIJKL", pem="MIIEowIBAAKCAQEAr8s+9kQ/base64body==")
