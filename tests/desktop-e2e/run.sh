#!/usr/bin/env bash
# End-to-end test of the desktop app in a real window: Xvfb + tauri-driver +
# WebKitWebDriver, against the real server, inside tests/desktop-env.sh (private D-Bus,
# unlocked gnome-keyring, ALSA capture). Screenshots go to a temporary folder, or to
# $SWITCHBOARD_SCREENSHOTS (e.g. SWITCHBOARD_SCREENSHOTS=docs/screenshots to refresh the README's).
#
# Usage (from the repository root):  bash tests/desktop-e2e/run.sh [bench]
#   bench: startup time, memory and scrolling with 1,000 cached dialogs (BENCH_DIALOGS)
#   instead of the flows, beside a bare Tauri window (the `bare-window` binary); it
#   builds and runs the release app.
#   SKIP_BUILD=1 uses the binaries already built; SWITCHBOARD_DESKTOP_BIN picks the app
#   binary (e.g. the release one from src-tauri/bundle-deb.sh), SWITCHBOARD_BARE_BIN
#   the bare window's, SWITCHBOARD_SERVER_BIN the server's.
# Needs: Xvfb, WebKitWebDriver (webkit2gtk-driver), tauri-driver, python3-gi (tray host),
#        (cargo install tauri-driver --locked), node >= 20, imagemagick (import).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
# the bench measures what users run: release builds with the bundled page (what
# `tauri build` makes: the custom-protocol feature) and the bare window (feature bench)
profile=debug features=()
[[ "${1:-}" == bench ]] && profile=release features=(--features tauri/custom-protocol,bench)

if [[ "${SWITCHBOARD_DESKTOP_ENV_INNER:-}" != "1" ]]; then
  for tool in Xvfb WebKitWebDriver node; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 2; }
  done
  command -v tauri-driver >/dev/null || [[ -x "$HOME/.cargo/bin/tauri-driver" ]] || {
    echo "run.sh: tauri-driver is missing: cargo install tauri-driver --locked" >&2; exit 2; }
  if [[ "${SKIP_BUILD:-}" != "1" ]]; then
    (cd ui && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run build)
    cargo build -p switchboard-server
    cargo build --profile "$profile" -p switchboard-desktop "${features[@]}"
  fi
  exec bash tests/desktop-env.sh bash "$0" "$@"
fi

export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
work="$(mktemp -d /tmp/switchboard-e2e.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # servers the test itself restarted
  if [[ -f "$work/extra-pids" ]]; then
    while read -r p; do kill "$p" 2>/dev/null || true; done <"$work/extra-pids"
  fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# a display
display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY="$display"
for _ in $(seq 1 50); do [[ -e "/tmp/.X11-unix/X${display#:}" ]] && break; sleep 0.1; done

# the server, with an admin (the bench seeds its dialogs from one address, faster than
# the per-address limits allow)
[[ "${1:-}" == bench ]] && export SWITCHBOARD_ADDRESS_LIMIT_FACTOR=10000
server_bin="${SWITCHBOARD_SERVER_BIN:-$CARGO_TARGET_DIR/debug/switchboard-server}"
"$server_bin" --data-dir "$work/server" --smtp-in off admin create \
  --email admin@example.com --password "correct horse battery" --name "Anna Admin" >/dev/null
"$server_bin" --http 127.0.0.1:0 --data-dir "$work/server" --smtp-in off \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
pids+=($server_pid)
for _ in $(seq 1 100); do grep -q "listening on" "$work/server.out" 2>/dev/null && break; sleep 0.1; done
server_url="$(sed -n 's/^switchboard-server listening on //p' "$work/server.out" | head -1)"
[[ -n "$server_url" ]] || { cat "$work/server.log" >&2; echo "server did not start" >&2; exit 1; }

# the app's own profile (settings, cache) in a scratch dir; the token goes to the keyring
export SWITCHBOARD_DESKTOP_HOME="$work/app"
# no GPU under Xvfb: WebKit's compositing would run on a software GL (BENCH_COMPOSITING=on
# to measure it anyway)
[[ "${BENCH_COMPOSITING:-off}" == on ]] || export WEBKIT_DISABLE_COMPOSITING_MODE=1
# a tray host: records the tray items that register, so the test can read them
/usr/bin/python3 tests/desktop-e2e/sni_watcher.py "$work/sni-items" >"$work/sni.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [[ -e "$work/sni-items" ]] && break; sleep 0.1; done

# the OS's "open with the default app": a stand-in xdg-open first in PATH that records
# what the app hands it (the real one could start a PDF viewer or a browser here)
mkdir -p "$work/bin"
cat >"$work/bin/xdg-open" <<'SH'
#!/bin/sh
[ $# -gt 0 ] && printf '%s\n' "$@" >>"$SWITCHBOARD_OPENED"
exit 0
SH
chmod +x "$work/bin/xdg-open"
export SWITCHBOARD_OPENED="$work/opened"
export PATH="$work/bin:$PATH"

port=$((4444 + RANDOM % 500))
tauri-driver --port "$port" --native-port $((port + 1000)) >"$work/driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -s "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break; sleep 0.1; done

status=0
SERVER_URL="$server_url" WEBDRIVER_URL="http://127.0.0.1:$port" \
  SERVER_BIN="$server_bin" SERVER_DATA="$work/server" SERVER_PID="$server_pid" \
  EXTRA_PIDS="$work/extra-pids" SNI_ITEMS="$work/sni-items" \
  APP_BIN="${SWITCHBOARD_DESKTOP_BIN:-$CARGO_TARGET_DIR/$profile/switchboard-desktop}" \
  BARE_BIN="${SWITCHBOARD_BARE_BIN:-$CARGO_TARGET_DIR/$profile/bare-window}" \
  SCREENSHOTS="${SWITCHBOARD_SCREENSHOTS:-$work/screenshots}" AVATAR="$root/icons/128x128.png" \
  node "tests/desktop-e2e/$([[ "${1:-}" == bench ]] && echo bench || echo e2e).mjs" || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- tauri-driver log" >&2; tail -30 "$work/driver.log" >&2
  echo "--- server log" >&2; tail -30 "$work/server.log" >&2
fi
exit $status
