#!/usr/bin/python3
"""Guest-side audit probe for the e2e job (runs inside the VM with Debian's python3).

  audit_probe.py wait DOMAIN SINCE TIMEOUT   seconds until the first AVC of DOMAIN stamped
                                             >= SINCE is readable in audit.log, or "none"
  audit_probe.py count DOMAIN SINCE OUT      AVC records of DOMAIN stamped >= SINCE (copied to OUT)

Independent of avcfix on purpose: it is the yardstick the checks compare avcfix with.
"""
import re
import sys
import time

LOG = "/var/log/audit/audit.log"
STAMP = re.compile(r"msg=audit\((\d+\.\d+):\d+\)")
SCONTEXT = re.compile(r"scontext=(\S+)")


def avcs(domain, since):
    """AVC/USER_AVC lines whose source domain is DOMAIN, stamped at or after SINCE."""
    try:
        with open(LOG, errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        if not line.startswith(("type=AVC", "type=USER_AVC")):
            continue
        stamp, ctx = STAMP.search(line), SCONTEXT.search(line)
        if stamp and ctx and float(stamp.group(1)) >= since and ctx.group(1).split(":")[2:3] == [domain]:
            found.append(line)
    return found


def main(argv):
    cmd, domain, since = argv[1], argv[2], float(argv[3])
    if cmd == "wait":
        timeout, t0 = float(argv[4]), time.time()
        while time.time() - t0 < timeout:
            if avcs(domain, since):
                print(f"{time.time() - since:.2f}")
                return 0
            time.sleep(0.2)
        print("none")
        return 1
    if cmd == "count":
        found = avcs(domain, since)
        with open(argv[4], "w") as fh:
            fh.write("".join(line + "\n" for line in found))
        print(len(found))
        return 0
    return 2


sys.exit(main(sys.argv))
