#!/usr/bin/env bash
# Retakes the README's widget screenshots, docs/screenshots/widget.png (1280×800)
# and widget-mobile.png (390×844), with the product as a visitor meets it: the
# real server on a free loopback port with a fresh data dir, a small team with
# names and faces, and one conversation about tea on the /demo shop, all made
# through the real HTTP API and the widget in Debian's headless Chromium
# (scripts/screenshots-widget.mjs). Nothing of the run is kept but the PNGs.
#
#   bash scripts/screenshots.sh             # into docs/screenshots/
#   SCREENSHOTS_OUT=/tmp/shots bash scripts/screenshots.sh
#
# Needs the server binary (built here if missing), /usr/bin/chromium and
# tests/widget's npm packages (installed here if missing). The desktop app's
# screenshots (docs/screenshots/0*.png) come from tests/desktop-e2e/run.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
TARGET="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}"
SERVER="$TARGET/debug/switchboard-server"

if [ ! -x "$SERVER" ]; then
  echo "building switchboard-server…" >&2
  CARGO_TARGET_DIR="$TARGET" cargo build -p switchboard-server --bin switchboard-server
fi
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || { echo "no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium} (apt-get install chromium)" >&2; exit 1; }
[ -d tests/widget/node_modules/playwright-core ] || npm ci --prefix tests/widget --silent

DATA="$(mktemp -d)"
SERVER_PID=
cleanup() {
  [ -z "$SERVER_PID" ] || { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; } || true
  rm -rf "$DATA"
}
trap cleanup EXIT

# Two accounts; the Node script names them, gives them faces and makes the
# second an operator. Passwords are throwaway: the data dir is deleted at exit.
ADMIN_EMAIL=maya@northwind-tea.example
ADMIN_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
COLLEAGUE_EMAIL=sam@northwind-tea.example
COLLEAGUE_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
"$SERVER" --data-dir "$DATA" admin create --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" >/dev/null
"$SERVER" --data-dir "$DATA" admin create --email "$COLLEAGUE_EMAIL" --password "$COLLEAGUE_PASSWORD" >/dev/null

# Port 0: the system picks a free one and the server prints it.
"$SERVER" --data-dir "$DATA" --http 127.0.0.1:0 --smtp-in off >"$DATA/stdout" 2>"$DATA/stderr" &
SERVER_PID=$!
URL=
for _ in $(seq 1 100); do
  URL="$(sed -n 's/^switchboard-server listening on //p' "$DATA/stdout" 2>/dev/null || true)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$URL" ] || { echo "the server did not start:" >&2; cat "$DATA/stderr" >&2; exit 1; }

SWITCHBOARD_URL="$URL" \
  SWITCHBOARD_ADMIN_EMAIL="$ADMIN_EMAIL" SWITCHBOARD_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  SWITCHBOARD_COLLEAGUE_EMAIL="$COLLEAGUE_EMAIL" SWITCHBOARD_COLLEAGUE_PASSWORD="$COLLEAGUE_PASSWORD" \
  node scripts/screenshots-widget.mjs ||
  { echo "--- server log" >&2; tail -50 "$DATA/stderr" >&2; exit 1; }
