#!/bin/sh
# Runs inside a freshly booted systemd (systemd-nspawn), as the check unit: drives the installed
# claude-metrics-exporter.service and writes what it saw to /out/results, one key=value per line.
out=/out/results
: > "$out"
say() { echo "$1=$2" >> "$out"; }
show() { systemctl show -p "$1" --value claude-metrics-exporter.service; }
wait_for() { # seconds, command...
  n=$(($1 * 10)); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
  return 1
}
port=$(cat /check/port)
metrics() { curl -fsS -m 2 "http://127.0.0.1:$port/metrics"; }

systemctl start claude-metrics-exporter.service; say start_rc $?
say active_state "$(show ActiveState)"
say sub_state "$(show SubState)"
say status_text "$(show StatusText)"
body=$(metrics); say curl_rc $?
say sessions "$(echo "$body" | grep '^claude_sessions_total{' | sed 's/.* //')"

echo '{}' >> /var/cme/.claude/projects/-srv-repo/0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl
if wait_for 15 sh -c 'systemctl show -p StatusText --value claude-metrics-exporter.service | grep -q "^active"'; then
  say became_active yes
fi
say status_text_active "$(show StatusText)"
say journal_transition "$(journalctl -u claude-metrics-exporter.service -p info SOURCE=transcripts --output=cat | grep -c 'agent active')"
say journal_fields "$(journalctl -u claude-metrics-exporter.service -o export | grep -c '^SYSLOG_IDENTIFIER=claude-metrics-exporter')"

systemctl reload claude-metrics-exporter.service; say reload_rc $?
say active_after_reload "$(show ActiveState)"
say journal_reload "$(journalctl -u claude-metrics-exporter.service --output=cat | grep -c 'reloading')"

pid=$(show MainPID)
[ "$pid" -gt 1 ] && kill -STOP "$pid"   # never 0: that would stop this script's own process group
if wait_for 30 sh -c "[ \"\$(systemctl show -p MainPID --value claude-metrics-exporter.service)\" != \"$pid\" ] && [ \"\$(systemctl show -p ActiveState --value claude-metrics-exporter.service)\" = active ]"; then
  say watchdog_restarted yes
fi
say restarts "$(show NRestarts)"
say journal_watchdog "$(journalctl -u claude-metrics-exporter.service --output=cat | grep -c -i 'watchdog timeout')"

systemctl stop claude-metrics-exporter.service; say stop_rc $?
say stop_result "$(show Result)"
say stop_status "$(show ExecMainStatus)"
say done yes
