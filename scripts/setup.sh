#!/usr/bin/env bash
# Installs what Switchboard needs on a fresh Debian/Ubuntu machine (as root) and
# builds the web parts. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}"

APT_PACKAGES=(
  build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
  librsvg2-dev libgtk-3-dev libxdo-dev libasound2-dev libdbus-1-dev xvfb xauth
  webkit2gtk-driver gnome-keyring dbus-x11 imagemagick chromium chromium-driver curl
  python3-gi gir1.2-glib-2.0 postgresql-client strace
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (or install these packages first): ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: Rust is missing; install it with rustup (https://rustup.rs) and run again" >&2
  exit 1
fi
if ! command -v npm >/dev/null; then
  echo "setup: installing Node.js"
  apt-get install -y -qq nodejs npm >/dev/null
fi

# tauri-driver drives the desktop app's real window in the end-to-end test.
if ! command -v tauri-driver >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver"
  cargo install tauri-driver --locked --quiet
fi

# schemathesis fuzzes the API of the real binary in the test script; it goes
# into a virtual environment of its own (Debian's Python refuses global pip).
FUZZ_VENV=/var/tmp/switchboard-venv
if ! command -v st >/dev/null && [ ! -x "$FUZZ_VENV/bin/st" ]; then
  echo "setup: installing schemathesis"
  python3 -m venv "$FUZZ_VENV" 2>/dev/null || {
    apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$FUZZ_VENV"
  }
  "$FUZZ_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis>=4,<5"
fi
# dkimpy (with PyNaCl for ed25519) checks our DKIM signatures in the server tests
# (crates/server/tests/api/dkim.rs), independently of mail-auth.
if ! "$FUZZ_VENV/bin/python3" -c 'import dkim, nacl' 2>/dev/null; then
  echo "setup: installing dkimpy"
  [ -x "$FUZZ_VENV/bin/pip" ] || python3 -m venv "$FUZZ_VENV" 2>/dev/null || {
    apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$FUZZ_VENV"
  }
  "$FUZZ_VENV/bin/pip" install --quiet --disable-pip-version-check "dkimpy>=1.1,<2" "pynacl>=1.5"
fi

# Web parts: the widget (embedded in the server binary) and the operator UI
# (embedded in the desktop app). `npm ci` is skipped when node_modules is current.
npm_install() {
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
for dir in widget ui tests/widget; do
  [ -f "$dir/package.json" ] && npm_install "$dir"
done
(cd widget && npm run --silent build)
if [ -f ui/package.json ]; then
  (cd ui && npm run --silent build)
fi
