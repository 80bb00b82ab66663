//! The desktop app's core: no Tauri dependency, tested headless against the real server.
