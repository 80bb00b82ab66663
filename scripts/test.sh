#!/usr/bin/env bash
# Runs every check and test of Switchboard: formatting, lints, the UI type checks,
# the Rust tests (server black-box tests over real SMTP/HTTP/websockets, the
# desktop core against the real server with a real keyring, ALSA capture and
# D-Bus notification server), and the widget in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}"
export CARGO_TERM_COLOR=never

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "type checks (widget, UI)"
(cd widget && npm run --silent typecheck)
[ -f ui/package.json ] && (cd ui && npm run --silent check)

step "UI unit tests"
if [ -f ui/package.json ] && grep -q '"test"' ui/package.json; then (cd ui && npm test --silent); fi

step "Rust tests"
cargo build -p switchboard-server
if [ -f tests/desktop-env.sh ]; then
  bash tests/desktop-env.sh cargo test --workspace
else
  cargo test --workspace
fi

step "generated TypeScript is current (scripts/gen-types.sh)"
bash scripts/check-generated.sh

step "the same server suite against PostgreSQL (store conformance)"
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>/dev/null || true
  sleep 2
fi
# Databases of earlier runs go first; each test makes its own.
psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'sb_test_%'" 2>/dev/null \
  | while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null; done
SWITCHBOARD_TEST_DATABASE=postgres cargo test -p switchboard-server --test api

step "the real binary held to its OpenAPI document (schemathesis --checks all, SQLite and PostgreSQL)"
bash tests/fuzz/schemathesis.sh
DATABASE_URL="postgres://postgres@127.0.0.1:5432/sb_test_fuzz" bash -c '
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS sb_test_fuzz" >/dev/null
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE sb_test_fuzz" >/dev/null
  bash tests/fuzz/schemathesis.sh'

step "widget end to end in headless Chromium"
bash tests/widget/run.sh

step "desktop app end to end in a real window (Xvfb, tauri-driver, WebKitWebDriver)"
cargo build -p switchboard-desktop
SKIP_BUILD=1 bash tests/desktop-e2e/run.sh
