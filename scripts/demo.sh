#!/usr/bin/env bash
# Generates a sample ~/.claude tree in a temporary directory, starts the exporter on it, plays an agent
# that works for a few seconds and then stops, and prints what Prometheus would see, once a second.
set -euo pipefail
binary=${1:-.build/debug/claude-metrics-exporter}
port=${DEMO_PORT:-9464}
tree=$(mktemp -d -t claude-demo.XXXXXX)
exporter=""
cleanup() {
  [ -n "$exporter" ] && kill "$exporter" 2>/dev/null && wait "$exporter" 2>/dev/null
  rm -rf "$tree"
}
trap cleanup EXIT INT TERM

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
echo "exporter:    http://127.0.0.1:$port/metrics  (IDLE_TIMEOUT_MINUTES=0.1, i.e. 6 s)"
CLAUDE_DIR="$tree/.claude" HAPPY_DIR="$tree/.happy" IDLE_TIMEOUT_MINUTES=0.1 METRICS_PORT=$port \
  LISTEN_ADDRESS=127.0.0.1 POD_NAME=demo-agent-0 REPOSITORY_NAME=demo-repo "$binary" 2> >(sed -u 's/^/  log: /' >&2) &
exporter=$!

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.05
done

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
echo
echo "The agent went idle 6 s after its last transcript write; Happy's heartbeat did not keep it active."
echo "Full metrics: curl http://127.0.0.1:$port/metrics (while it runs). Stopping."
