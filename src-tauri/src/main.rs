// Hide the console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the Switchboard desktop app");
}
