#!/bin/busybox sh
# A fake Claude Code for the pod test (busybox only): it writes a transcript and its own session-registry file
# with its real pid and procStart, as Claude Code does, goes busy, goes idle when the test (the "user") says
# so through /control/idle, and exits when told through /control/exit.
set -e
bb=/bin/busybox
home=/home/agent/.claude
$bb mkdir -p $home/sessions $home/projects/-repo
pid=$$
start=$($bb awk '{print $22}' /proc/$pid/stat)
status() {
    now=$(($($bb date +%s) * 1000))
    echo "{\"pid\":$pid,\"sessionId\":\"s-pod\",\"cwd\":\"/repo\",\"status\":\"$1\",\"statusUpdatedAt\":$now,\"procStart\":\"$start\"}" \
        >$home/sessions/.$pid.tmp
    $bb mv $home/sessions/.$pid.tmp $home/sessions/$pid.json
}
echo '{"type":"user"}' >>$home/projects/-repo/0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl
status busy
while [ ! -e /control/idle ]; do $bb sleep 0.2; done
status idle
while [ ! -e /control/exit ]; do $bb sleep 0.2; done
$bb rm -f $home/sessions/$pid.json
