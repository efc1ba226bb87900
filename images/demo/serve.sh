#!/bin/sh
# Serves the demo page and /health. On SIGTERM it keeps serving for DRAIN_SECONDS: the edge drops a task
# Swarm is stopping at its next poll of the Swarm API (5 s), and requests in flight until then still land.
set -eu
port="${DEMO_PORT:-8080}"
drain="${DRAIN_SECONDS:-12}"
release="${DEMO_RELEASE:-1}"
root="$(mktemp -d)"
task="$(hostname)"
cat >"$root/index.html" <<HTML
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mbio-cloud demo</title></head>
<body><h1>mbio-cloud demo service</h1><p>release <b>$release</b>, served by task <b>$task</b></p></body></html>
HTML
printf 'ok release=%s task=%s\n' "$release" "$task" >"$root/health"
busybox httpd -f -p "$port" -h "$root" &
pid=$!
echo "demo: release $release serving on :$port (task $task)"
stopping() {
  echo "demo: SIGTERM, draining for ${drain}s"
  sleep "$drain"
  kill "$pid" 2>/dev/null || true
}
trap stopping TERM INT
wait "$pid" || true
wait "$pid" 2>/dev/null || true
echo "demo: stopped"
