#!/bin/sh
# Timing shim for the e2e job: installed as /root/e2e/bin/semodule and
# /root/e2e/bin/semanage, ahead of /usr/sbin in the PATH that avcfix sees.
# Runs the real tool (which still switches to semanage_t as usual) and logs
# "argv<TAB>seconds<TAB>rc" to the share, for the timing table's install rows.
name=$(basename "$0")
t0=$(date +%s.%N)
/usr/sbin/"$name" "$@"
rc=$?
dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
printf '%s %s\t%s\t%s\n' "$name" "$*" "$dt" "$rc" >> /mnt/e2e/out/tool-times.tsv
exit $rc
