#!/bin/bash
# Runs inside a minimal Debian (debootstrap) booted by systemd-nspawn, as the check unit: installs the package as
# a homelab user would, drives the template for a user whose ~/.claude it populates, then purges, and writes
# what it saw to /out/results, one key=value per line.
out=/out/results
: > "$out"
say() { echo "$1=$2" >> "$out"; }
unit=claude-metrics-exporter@alice.service
wait_for() { # seconds, command...
  local n=$(($1 * 10)); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
  return 1
}
get() { # path: the body of a GET on 127.0.0.1:8080 (bash's /dev/tcp: the minimal root has no curl)
  exec 3<>/dev/tcp/127.0.0.1/8080 || return 1
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}
files_left() { for f in /usr/bin/claude-metrics-exporter /lib/systemd/system/claude-metrics-exporter@.service \
  /lib/systemd/system/claude-metrics-exporter.service /etc/default/claude-metrics-exporter \
  /usr/share/man/man1/claude-metrics-exporter.1.gz /etc/systemd/system/multi-user.target.wants/$unit; do
  [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done; }

export DEBIAN_FRONTEND=noninteractive
apt-get install -y /check/claude-metrics-exporter.deb > /out/apt-install.log 2>&1; say install_rc $?
# Installing starts and enables nothing.
say service_enabled "$(systemctl is-enabled claude-metrics-exporter.service 2>&1)"
say service_active "$(systemctl is-active claude-metrics-exporter.service 2>&1)"
say man_page "$(test -e /usr/share/man/man1/claude-metrics-exporter.1.gz && echo yes)"
say conffile "$(dpkg-query -W -f='${Conffiles}' claude-metrics-exporter | grep -c /etc/default/claude-metrics-exporter)"

useradd --create-home alice
mkdir -p /home/alice/.claude/projects/-home-alice-repo
echo '{}' > /home/alice/.claude/projects/-home-alice-repo/0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl
touch -d '2 hours ago' /home/alice/.claude/projects/-home-alice-repo/0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl
chown -R alice:alice /home/alice/.claude

systemctl enable --now "$unit" > /out/enable.log 2>&1; say enable_rc $?
say active_state "$(systemctl show -p ActiveState --value "$unit")"
say status_text "$(systemctl show -p StatusText --value "$unit")"
say status_shown "$(systemctl status --no-pager "$unit" | grep -c 'Status: "idle')"
body=$(get /metrics); say scrape_rc $?
say sessions "$(echo "$body" | grep '^claude_sessions_total{' | sed 's/.* //')"
say active "$(echo "$body" | grep '^claude_session_active{' | sed 's/.* //')"
echo '{}' >> /home/alice/.claude/projects/-home-alice-repo/0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl
wait_for 15 sh -c "systemctl show -p StatusText --value $unit | grep -q '^active'" && say became_active yes

systemctl reload "$unit"; say reload_rc $?
say active_after_reload "$(systemctl show -p ActiveState --value "$unit")"
say journal_reload "$(journalctl -u "$unit" --output=cat | grep -c reloading)"

apt-get purge -y claude-metrics-exporter > /out/apt-purge.log 2>&1; say purge_rc $?
systemctl daemon-reload
say unit_after_purge "$(systemctl show -p LoadState --value "$unit")"
say left "$(files_left | tr '\n' ' ')"
say running "$(grep -l '^claude-metrics-e' /proc/[0-9]*/comm 2>/dev/null | wc -l)"
say dpkg_status "$(dpkg-query -W -f='${db:Status-Abbrev}' claude-metrics-exporter 2>&1)"
say home_kept "$(test -e /home/alice/.claude/projects/-home-alice-repo && echo yes)"
say done yes
