#!/usr/bin/env bash
# Builds the release app and its .deb with the Tauri bundler (offline; AppImage is not
# used because it downloads a tool). Output: $CARGO_TARGET_DIR/release/bundle/deb/*.deb
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
(cd ui && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run build)
# the CLI treats the folder holding tauri.conf.json (the root) as the app
ui/node_modules/.bin/tauri build --bundles deb "$@"
ls -la "${CARGO_TARGET_DIR:-$root/target}"/release/bundle/deb/*.deb
