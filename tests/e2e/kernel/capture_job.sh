#!/bin/sh
# The kernel-record capture job, inside the SELinux-enforcing e2e VM (root, unconfined_t, under a pty).
# Run by tests/e2e/capture_kernel.py (make capture-kernel), not by make test / make e2e.
# Installs the avcfix_probe module, builds the probe's tree under /srv/probe, records every
# object's inode (stat.tsv), runs one probe step per process (steps.tsv: step, pid, rc, errno);
# the host cuts each step's audit event out of the audit.log that runner.sh copies back.
set -u
S=/mnt/e2e
OUT=$S/out
P=/srv/probe
PROBE=/usr/local/bin/avcfix-probe
LOG=/var/log/audit/audit.log
say() { echo "===== $* [uptime $(cut -d' ' -f1 /proc/uptime)]"; }

say facts
{ uname -r; uname -v; getenforce; echo "policyvers $(cat /sys/fs/selinux/policyvers)"; id -Z
  dpkg-query -W linux-image-amd64 selinux-policy-default auditd; } 2>&1 | cat > $OUT/facts.txt
# auditd writes every record at once (Debian's default freq = 50 delays them)
sed -i 's/^freq = .*/freq = 1/' /etc/audit/auditd.conf
kill -HUP "$(cat /run/auditd.pid)"

say semodule
cp $S/avcfix_probe.pp /root/avcfix_probe.pp
{ semodule -i /root/avcfix_probe.pp 2>&1; echo "semodule rc=$?"; } | cat > $OUT/semodule.txt
semodule -l | grep avcfix_probe >> $OUT/semodule.txt
cp $S/avcfix-probe $PROBE && chmod 755 $PROBE && chcon -t avcfix_probe_exec_t $PROBE
cp $PROBE $PROBE-perm && chcon -t avcfix_probe_perm_exec_t $PROBE-perm

say tree
mkdir -p $P/ro/emptydir $P/rw/subdir $P/nosearch/inner $P/mnt $P/sock $P/noadd $P/norm/emptydir
for f in ro/secret ro/secret_stat ro/leak ro/noopen ro/victim ro/a ro/c ro/ioctl ro/rofile ro/trunc \
         rw/nounlink rw/x rw/norename rw/hard rw/chmod nosearch/inner/file norm/victim norm/a norm/c \
         nosearch/inner/secret norm/r3; do
    echo "avcfix probe $f" > $P/$f
done
cp $PROBE $P/ro/noexec; cp $PROBE $P/ro/notrans
ln -s secret $P/ro/link
# unix stream servers (unconfined_t) for the connect steps
python3 -c '
import socket, sys, time
keep = []
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path); s.listen(5); keep.append(s)
time.sleep(900)
' $P/sock/denied.sock $P/sock/conn.sock &
SERVER=$!
for i in $(seq 1 100); do [ -S $P/sock/conn.sock ] && break; sleep 0.2; done

t() { _type=$1; shift; for _p in "$@"; do chcon -h -t "avcfix_probe_$_type" "$P/$_p"; done; }
t ro_dir_t . ro ro/emptydir rw/subdir nosearch/inner mnt sock norm/emptydir
t noadd_dir_t noadd
t noremove_dir_t norm
t rw_dir_t rw
t nosearch_dir_t nosearch
t secret_t ro/secret ro/secret_stat ro/leak ro/link nosearch/inner/secret
t noopen_t ro/noopen
t file_t ro/victim ro/a ro/c rw/x rw/chmod norm/victim norm/a norm/c
t ro_file_t ro/rofile ro/trunc rw/nounlink rw/norename rw/hard nosearch/inner/file norm/r3
t ioctl_t ro/ioctl
t noexec_t ro/noexec
t notrans_t ro/notrans
t sock_t sock/denied.sock
t sock_ok_t sock/conn.sock
ls -laZR $P > $OUT/tree.txt 2>&1
find $P $PROBE $PROBE-perm -exec stat --printf='%n\t%i\t%F\t%D\t%C\n' {} + > $OUT/stat.tsv

STEPS=$(grep -o '"[a-z-]*")) [{r]' $S/probe.c | cut -d'"' -f2 | grep -vx leaked-fd | grep -v '^p-')
# steps PASS: every probe step once (steps-PASS.tsv: step, pid, rc, errno)
steps() {
    say "steps $1"
    auditctl -l 2>&1 | cat > $OUT/auditctl-$1.txt
    for st in $STEPS; do
        $PROBE $st < /dev/null 2>&1 | cat >> $OUT/steps-$1.tsv
    done
    # A descriptor leaked across the domain transition: the shell (unconfined_t) opens a file the
    # probe domain may not read, without close-on-exec, then execs the probe (same pid).
    sh -c "exec 7< $P/ro/leak; exec $PROBE leaked-fd" < /dev/null 2>&1 | cat >> $OUT/steps-$1.tsv
    cat $OUT/steps-$1.tsv
}
# Pass "norules": Debian's default audit.rules (no rule). The kernel's syscall audit context
# stays a dummy, so it collects no names: AVC + SYSCALL (+ PROCTITLE) only, items=0.
steps norules
# Pass "rules": one syscall rule, for a call the probe never makes, is enough for the kernel
# to collect names and write CWD and PATH records with every AVC.
auditctl -a always,exit -F arch=b64 -S kexec_load -k avcfix-capture 2>&1 | cat > $OUT/auditctl-add.txt
steps rules
# Pass "permissive" (rule still loaded): the same domain's rules, permissive, a few calls whose
# one event then logs several denials on several objects. These calls succeed and change the
# tree, so they run last, each on objects no other permissive step touches (the AVC cache
# logs a permissive denial once).
say "steps permissive"
for st in $(grep -o '"p-[a-z-]*")) [{r]' $S/probe.c | cut -d'"' -f2); do
    $PROBE-perm $st < /dev/null 2>&1 | cat >> $OUT/steps-permissive.tsv
done
cat $OUT/steps-permissive.tsv
find $P -exec stat --printf='%n\t%i\t%F\t%D\t%C\n' {} + > $OUT/stat-after.tsv
kill $SERVER

say wait-audit
last=$(tail -n1 $OUT/steps-permissive.tsv | cut -f2)
for i in $(seq 1 60); do grep -q " pid=$last " $LOG && break; sleep 0.5; done
sleep 2
ls -laZR $P > $OUT/tree-after.txt 2>&1
say done
exit 0
