#!/bin/sh
# avcfix e2e runner, inside the VM (avcfix-e2e.service, unconfined_t).
# Mounts the 9p share "e2e", runs its job.sh under a pty, copies the audit logs
# and the journal back, writes out/done (the job's exit code) and powers off.
#
# The share is mounted with context=tmp_t: 9p files are unlabeled_t otherwise,
# and creating files there would be denied. The job runs under `script` (a pty)
# because semodule, setfiles and load_policy switch into domains that may write
# to a pty but not to a tmp_t file: their messages would be lost.
S=/mnt/e2e
say() { echo "avcfix-e2e: $*" > /dev/ttyS0; }
say "start, uptime $(cut -d' ' -f1 /proc/uptime), $(cat /proc/self/attr/current), enforce=$(cat /sys/fs/selinux/enforce 2>/dev/null)"
modprobe 9pnet_virtio 2>/dev/null; modprobe 9p 2>/dev/null
mkdir -p $S
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,context=system_u:object_r:tmp_t:s0 e2e $S; then
    say "9p mount failed"; systemctl poweroff; exit 1
fi
mkdir -p $S/out
cut -d' ' -f1 /proc/uptime > $S/out/runner-start
rc=127
if [ -f $S/job.sh ]; then
    say "job.sh started"
    { script -qefc "sh $S/job.sh" /dev/null < /dev/null 2>&1; echo $? > $S/out/job.rc; } | tr -d '\r' > $S/out/job.log
    rc=$(cat $S/out/job.rc)
    say "job.sh exited $rc at uptime $(cut -d' ' -f1 /proc/uptime)"
fi
mkdir -p $S/out/audit
cp /var/log/audit/audit.log* $S/out/audit/ 2>/dev/null
journalctl -b --no-pager -o short-precise > $S/out/journal.txt 2>&1
echo "$rc" > $S/out/done
sync
if [ ! -e $S/keep-running ]; then
    umount $S
    systemctl poweroff
fi
