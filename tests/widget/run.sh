#!/usr/bin/env bash
# Starts the real server (debug build) on a free port with a fresh data dir and
# an admin, then runs the widget's end-to-end test in headless Chromium against it.
set -euo pipefail
cd "$(dirname "$0")"
TARGET="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}"
SERVER="$TARGET/debug/switchboard-server"
DATA="$(mktemp -d)"
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$DATA"' EXIT

"$SERVER" --data-dir "$DATA" admin create --email widget-admin@example.com --password widget-admin-pw --name "Wanda Widget" >/dev/null
"$SERVER" --data-dir "$DATA" --http 127.0.0.1:0 --smtp-in off > "$DATA/stdout" 2> "$DATA/stderr" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$DATA/stdout" 2>/dev/null && break
  sleep 0.1
done
URL="$(sed -n 's/^switchboard-server listening on //p' "$DATA/stdout")"
[ -n "$URL" ] || { echo "the server did not start:"; cat "$DATA/stderr"; exit 1; }

SWITCHBOARD_URL="$URL" SWITCHBOARD_ADMIN_EMAIL=widget-admin@example.com SWITCHBOARD_ADMIN_PASSWORD=widget-admin-pw \
  npm test --silent || { echo "--- server log"; tail -50 "$DATA/stderr"; exit 1; }
