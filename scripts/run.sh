#!/usr/bin/env bash
# Runs the whole product on one machine: the server on its embedded defaults
# (SQLite and the dev mailbox under ./switchboard-data), the demo shop with the
# widget, and the desktop app. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}"

cargo build --release -p switchboard-server -p switchboard-desktop
SERVER="$CARGO_TARGET_DIR/release/switchboard-server"
DATA_DIR="${SWITCHBOARD_DATA_DIR:-./switchboard-data}"
mkdir -p "$DATA_DIR"

# A first admin on the first run; the password is kept beside the data.
CREDENTIALS="$DATA_DIR/demo-admin.txt"
if [ ! -f "$CREDENTIALS" ]; then
  PASSWORD="$(head -c 12 /dev/urandom | base64 | tr -d '+/=' | head -c 16)"
  "$SERVER" --data-dir "$DATA_DIR" admin create --email admin@switchboard.localhost --password "$PASSWORD" --name Admin
  printf 'email: admin@switchboard.localhost\npassword: %s\n' "$PASSWORD" > "$CREDENTIALS"
  chmod 600 "$CREDENTIALS"
fi

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$SERVER" --data-dir "$DATA_DIR" &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:8080/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

if [ -z "${DISPLAY:-}" ]; then
  # No screen (a server or a container): the app gets a virtual one.
  export DISPLAY=:77
  Xvfb "$DISPLAY" -screen 0 1280x800x24 >/dev/null 2>&1 &
  pids+=($!)
  echo "No DISPLAY: the desktop app runs on the virtual display $DISPLAY (screenshot: DISPLAY=$DISPLAY import -window root shot.png)"
  sleep 1
fi
"$CARGO_TARGET_DIR/release/switchboard-desktop" &
pids+=($!)

cat <<MSG

Switchboard is running.
  Demo shop with the chat widget:  http://127.0.0.1:8080/demo
  Personal cabinet:                http://127.0.0.1:8080/cabinet
  Emails sent (dev mailbox):       http://127.0.0.1:8080/dev/mailbox
  API description:                 http://127.0.0.1:8080/api/openapi.json
  Desktop app server address:      http://127.0.0.1:8080
  Sign in with:                    $(tr '\n' ' ' < "$CREDENTIALS")
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
