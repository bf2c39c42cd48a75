#!/usr/bin/env bash
# Generates a sample ~/.claude tree in a temporary directory, starts the exporter on it, plays an agent
# that works for a few seconds and then stops, and prints what Prometheus would see, once a second.
# The port: DEMO_PORT, else METRICS_PORT, else a free one the exporter picks (METRICS_PORT=0) and logs.
set -euo pipefail
binary=${1:-"$(cd "$(dirname "$0")/.." && pwd)/.build/debug/claude-metrics-exporter"}
port=${DEMO_PORT:-${METRICS_PORT:-0}}
if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -gt 65535 ]; then
  echo "DEMO_PORT/METRICS_PORT=$port: expected a TCP port from 1 to 65535 (or unset: the demo picks a free one)" >&2
  exit 2
fi
if [ ! -x "$binary" ]; then
  echo "$binary not found: run make demo (it builds the exporter first)" >&2
  exit 2
fi
tree=$(mktemp -d -t claude-demo.XXXXXX)
log="$tree/exporter.log"
exporter=""
shower=""
# Stops the exporter, lets the log display finish (tail --pid ends with it), removes the tree.
stop_exporter() {
  if [ -n "$exporter" ]; then kill "$exporter" 2>/dev/null || true; wait "$exporter" 2>/dev/null || true; fi
  if [ -n "$shower" ]; then wait "$shower" 2>/dev/null || true; fi
  exporter=""
  shower=""
}
cleanup() {
  stop_exporter
  rm -rf "$tree"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

project="$tree/.claude/projects/-home-agent-demo-repo"
mkdir -p "$project" "$tree/.happy/logs"
for i in 1 2 3; do
  f="$project/$(printf '%08x-0000-4000-8000-%012x' "$i" "$i").jsonl"
  echo '{"type":"user"}' >"$f"
  touch -d '2 hours ago' "$f"
done
echo '{"display":"hello"}' >"$tree/.claude/history.jsonl"
touch -d '2 hours ago' "$tree/.claude/history.jsonl"
mkdir -p "$tree/.claude/debug" "$tree/.claude/todos"

echo "sample tree: $tree (3 sessions, last touched 2 hours ago)"
: >"$log"
# Its log goes to a file, where the port it got is read, and is shown indented (tail ends when the exporter
# does). Every setting the demo depends on is set here, whatever the caller's environment says.
CLAUDE_DIR="$tree/.claude" HAPPY_DIR="$tree/.happy" IDLE_TIMEOUT_MINUTES=0.1 METRICS_PORT=$port \
  LISTEN_ADDRESS=127.0.0.1 POD_NAME=demo-agent-0 REPOSITORY_NAME=demo-repo LOG_LEVEL=info LOG_FORMAT=text \
  ACTIVITY_SOURCES=transcripts,history,status,happy_state UPDATE_INTERVAL_SECONDS=30 DRAIN_QUIET_SECONDS=30 \
  "$binary" 2>>"$log" &
exporter=$!
tail -n +1 -s 0.1 -f --pid="$exporter" "$log" | sed -u 's/^/  log: /' >&2 &
shower=$!

# The port the exporter listens on is in its "listening" log line (it chose a free one when asked for 0).
bound=""
for _ in $(seq 1 200); do
  if ! kill -0 "$exporter" 2>/dev/null; then
    stop_exporter
    if grep -q "already in use" "$log"; then
      echo "The exporter did not start: port $port is taken. Run DEMO_PORT=<free port> make demo," >&2
      echo "or leave DEMO_PORT and METRICS_PORT unset and the demo picks a free port." >&2
    else
      echo "The exporter did not start; its log is above." >&2
    fi
    exit 1
  fi
  bound=$(sed -n 's/.* listening .*port=\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
  if [ -n "$bound" ] && curl -fsS "http://127.0.0.1:$bound/health" >/dev/null 2>&1; then break; fi
  sleep 0.05
done
if [ -z "$bound" ]; then
  echo "The exporter did not say which port it listens on within 10 s; its log is above." >&2
  exit 1
fi
port=$bound
echo "exporter:    http://127.0.0.1:$port/metrics  (IDLE_TIMEOUT_MINUTES=0.1, i.e. 6 s; status page http://127.0.0.1:$port/)"

show() {
  local metrics active sessions minutes
  metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
  active=$(awk '/^claude_session_active\{/ {print $2}' <<<"$metrics")
  sessions=$(awk '/^claude_sessions_total\{/ {print $2}' <<<"$metrics")
  minutes=$(awk '/^claude_minutes_since_last_activity\{/ {printf "%.2f", $2}' <<<"$metrics")
  printf '%-34s claude_session_active=%s  claude_sessions_total=%s  minutes_since=%s\n' "$1" "$active" "$sessions" "$minutes"
}

show "idle agent, old files:"
new="$project/$(printf '%08x-0000-4000-8000-%012x' 4 4).jsonl"
for i in 1 2 3 4 5; do
  echo "{\"type\":\"assistant\",\"step\":$i}" >>"$new"
  echo "$(date -u +%FT%TZ) [DEBUG] happy heartbeat" >>"$tree/.happy/logs/demo.log"
  sleep 0.3
  show "agent writes its transcript ($i/5):"
  sleep 0.7
done
for i in $(seq 1 9); do
  echo "$(date -u +%FT%TZ) [DEBUG] happy heartbeat" >>"$tree/.happy/logs/demo.log"
  sleep 1
  show "agent quiet ${i} s (Happy still logs):"
done
stop_exporter
echo
echo "The agent went idle 6 s after its last transcript write; Happy's heartbeat did not keep it active."
echo "The demo's exporter and its sample tree are removed now. To watch your own agent: make run"
echo "(your ~/.claude and ~/.happy, port 8080), then open http://127.0.0.1:8080/ or curl .../metrics."
