#!/bin/sh
# The e2e job, inside the SELinux-enforcing VM (root, unconfined_t, under a pty).
# Every step writes its output and exit code under $OUT and a line to
# $OUT/timings.tsv ("step<TAB>seconds<TAB>rc"); the checks in tests/e2e/ read
# them on the host. A failing step never stops the job: later steps still run,
# so one run shows as much of the chain as works.
set -u
S=/mnt/e2e
OUT=$S/out
PROBE="python3 $S/audit_probe.py"
DOMAIN=eucalyptus_eucanetd_t
LOG=/var/log/audit/audit.log
W=/root/e2e            # avcfix's working directory: not the 9p share (semanage_t may not read tmp_t)
mkdir -p $W/bin && cd $W
# Every semodule/semanage run (avcfix's included) is timed by a shim (tool-times.tsv).
for tool in semodule semanage; do
    cp $S/timed-tool.sh $W/bin/$tool && chmod 755 $W/bin/$tool
done
PATH=$W/bin:$PATH
export PATH

now() { date +%s.%N; }
# Output to the share goes through a pipe (| cat): semodule and semanage run in
# semanage_t, which may write to its caller's pipe but not to a tmp_t file on 9p.
# run NAME CMD...: run CMD, stdout+stderr -> $OUT/NAME.out, rc -> $OUT/NAME.rc, timing line.
run() {
    _name=$1; shift
    echo "===== $_name: $* [uptime $(cut -d' ' -f1 /proc/uptime)]"
    _t=$(now)
    { "$@" 2>&1; echo $? > "$OUT/$_name.rc"; } | cat > "$OUT/$_name.out"
    _rc=$(cat "$OUT/$_name.rc")
    _dt=$(awk -v a="$_t" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
    printf '%s\t%s\t%s\n' "$_name" "$_dt" "$_rc" >> "$OUT/timings.tsv"
    echo "      rc=$_rc in ${_dt}s"
    return $_rc
}
# json NAME CMD...: like run, but stdout alone -> $OUT/NAME.json, stderr -> $OUT/NAME.err
json() {
    _name=$1; shift
    echo "===== $_name: $* [uptime $(cut -d' ' -f1 /proc/uptime)]"
    _t=$(now)
    { { "$@" 2>&1 1>&3 3>&-; echo $? > "$OUT/$_name.rc"; } | cat > "$OUT/$_name.err"; } 3>&1 | cat > "$OUT/$_name.json"
    _rc=$(cat "$OUT/$_name.rc")
    _dt=$(awk -v a="$_t" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
    printf '%s\t%s\t%s\n' "$_name" "$_dt" "$_rc" >> "$OUT/timings.tsv"
    echo "      rc=$_rc in ${_dt}s"
    return $_rc
}
wait_stopped() {   # until the service is no longer activating/active-then-dying (max 30 s)
    for _i in $(seq 1 60); do
        case "$(systemctl is-active eucanetd)" in failed|inactive) return 0 ;; esac
        sleep 0.5
    done
    return 1
}

# ---------------------------------------------------------------- facts
run env sh -c 'id -Z; getenforce; uname -r; sestatus; grep -E "^(flush|freq|log_format)" /etc/audit/auditd.conf; ls -Z /usr/sbin/eucanetd; avcfix --help | head -20'
getenforce > $OUT/getenforce
# avcfix is its Debian package (the image ran `apt install ./avcfix_*.deb`): every check runs /usr/bin/avcfix.
command -v avcfix > $OUT/avcfix-path.txt
{ dpkg-query -W -f='${Package} ${Version} ${Status}\n' avcfix; dpkg -S /usr/bin/avcfix; } > $OUT/avcfix-deb.txt 2>&1
sestatus > $OUT/sestatus.txt
grep -E '^(flush|freq) ' /etc/audit/auditd.conf > $OUT/auditd-conf.txt
run modules-initial sh -c 'semodule -l | sort'
run dontaudit-initial sh -c 'sesearch --dontaudit | wc -l'

# ---------------------------------------------------------------- check 1: a failed start, then why
M=$(date +%s.%N)
run start-1 systemctl start eucanetd
wait_stopped
sleep 1
systemctl status --no-pager eucanetd > $OUT/start-1-status.txt 2>&1
systemctl is-active eucanetd > $OUT/start-1-active.txt
# How long until the denial is readable in audit.log, with Debian's default auditd.conf?
run audit-latency $PROBE wait $DOMAIN "$M" 60
# (each `why` opens the policy with setools: ~50 s under TCG, so two runs only)
date +%s.%N > $OUT/why-start
run why-all avcfix why $LOG
json why-domain avcfix why --json --domain $DOMAIN $LOG

# ---------------------------------------------------------------- the admin follows avcfix's port advice
# avcfix advises labelling UDP 63822 (unreserved_port_t) with eucalyptus_eucanetd_port_t, a type
# the domain may already bind. The job runs the exact command avcfix printed, as an admin would.
python3 $S/advice.py "$OUT/why-domain.json" "semanage port" > $OUT/port-advice.txt
if [ -s $OUT/port-advice.txt ]; then
    echo "avcfix" > $OUT/port-advice.source
else
    echo "semanage port -a -t eucalyptus_eucanetd_port_t -p udp 63822" > $OUT/port-advice.txt
    echo "fallback" > $OUT/port-advice.source
fi
run port-label sh -c "$(head -n1 $OUT/port-advice.txt)"
run port-list sh -c "semanage port -l | grep -E '^eucalyptus_eucanetd_port_t'"

# ---------------------------------------------------------------- check 2: the enforcing loop
# The stand-in stops at its first denial, and the kernel checks the pid file's creation and the
# state file's reading as several separate permissions: 8 denials, one per restart, so 9
# iterations with --exact. The loop runs with its default permission completion (no --exact):
# the first denial of each open brings the rest of its sequence (docs/completion.md), at most 5
# iterations (test_loop_converges_enforcing). --max-iterations 15 leaves room all the same.
json loop avcfix loop --service eucanetd --yes --json --max-iterations 15
ls -R $W/.avcfix-loop > $OUT/loop-kept.txt 2>&1
systemctl is-active eucanetd > $OUT/loop-active.txt
run modules-after-loop sh -c 'semodule -l | sort'
# A last restart logs no new eucanetd denial.
M=$(date +%s.%N)
run restart-final systemctl restart eucanetd
sleep 5
systemctl is-active eucanetd > $OUT/restart-final-active.txt
$PROBE wait $DOMAIN "$M" 10 > /dev/null   # give auditd the same chance it had at check 1
$PROBE count $DOMAIN "$M" $OUT/restart-final-avc.log > $OUT/restart-final-avc.count
# The rules, as setools sees them in the loaded policy.
run sesearch-after-loop sesearch -A -ds -s $DOMAIN
comm -13 $OUT/modules-initial.out $OUT/modules-after-loop.out | awk '{print $1}' > $OUT/loop-modules.txt

# ---------------------------------------------------------------- check 3: remove the module, permissive loop
# ...and its sources: the permissive run starts from nothing, as on a fresh host.
for m in $(cat $OUT/loop-modules.txt); do run remove-module-$m semodule -r "$m"; rm -f $W/"$m".*; done
run sesearch-after-remove sesearch -A -ds -s $DOMAIN
systemctl stop eucanetd
json loop-permissive avcfix loop --service eucanetd --permissive --yes --json
systemctl is-active eucanetd > $OUT/loop-permissive-active.txt
run permissive-after semanage permissive -l
run dontaudit-after sh -c 'sesearch --dontaudit | wc -l'
run modules-after-permissive sh -c 'semodule -l | sort'
run sesearch-after-permissive sesearch -A -ds -s $DOMAIN

# ---------------------------------------------------------------- check 4: bundle on the real log
MODULE_ARGS=""
[ -f $W/eucanetd_local.te ] && MODULE_ARGS="--module $W/eucanetd_local.te"
run bundle avcfix bundle --domain $DOMAIN $MODULE_ARGS -o $OUT/bundle.tar.gz $LOG
ls -Z /usr/sbin/eucanetd > $OUT/ls-z-eucanetd.txt
cat /sys/fs/selinux/policyvers > $OUT/policyvers.txt
run modules-full semodule -lfull

# ---------------------------------------------------------------- check 5: confine a new service from scratch
# tinyd has no domain: it runs unconfined (bin_t). The loop installs the skeleton module tinyd, relabels
# the binary and its directories, and converges enforcing; tinyd then runs in tinyd_t.
run tinyd-start-unconfined systemctl start tinyd
sleep 1
systemctl is-active tinyd > $OUT/tinyd-before-active.txt
ps -eZ > $OUT/tinyd-before-ps.txt
ls -Z /usr/sbin/tinyd > $OUT/tinyd-before-ls-z.txt
json loop-newdomain avcfix loop --service tinyd --new-domain tinyd --exec /usr/sbin/tinyd --yes --json --max-iterations 15
systemctl is-active tinyd > $OUT/tinyd-after-active.txt
ps -eZ > $OUT/tinyd-after-ps.txt
ls -Z /usr/sbin/tinyd > $OUT/tinyd-after-ls-z.txt
run tinyd-sesearch-transition sesearch -T -s init_t -t tinyd_exec_t -c process
run tinyd-module-files ls -l $W/tinyd.te $W/tinyd.if $W/tinyd.fc

echo "===== done [uptime $(cut -d' ' -f1 /proc/uptime)]"
exit 0
