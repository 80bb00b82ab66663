fn main() {
    // The package root is the workspace root, where tauri.conf.json lives, so the
    // defaults find it (see ENGINEERING.md and the root Cargo.toml).
    tauri_build::build()
}
