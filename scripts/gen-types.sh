#!/usr/bin/env bash
# Writes the TypeScript generated from the Rust types (issue 14, item 2):
#   widget/src/generated/types.ts     from crates/protocol (the visitor side)
#   ui/src/lib/generated/types.ts     from crates/protocol, crates/core, src-tauri
#   ui/src/lib/generated/commands.ts  from src-tauri/src/commands.rs and main.rs
# Each file is written by a test named export_bindings_*; without
# SWITCHBOARD_UPDATE_GENERATED=1 those tests only check that the files are
# current (so `cargo test --workspace` fails on a stale file).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}"
export SWITCHBOARD_UPDATE_GENERATED=1

cargo test --quiet -p switchboard-protocol --features ts --lib export_bindings
cargo test --quiet -p switchboard-desktop --bin switchboard-desktop export_bindings
