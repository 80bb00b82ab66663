//! The benchmark's baseline: a bare Tauri window — the app's config (window size,
//! CSP, identifier) and its WebKit settings (`webkit.rs`), but an empty page, no
//! plugins, no tray, no core. `tests/desktop-e2e/bench.mjs` starts it in the same run
//! as the app and prints the two side by side.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[path = "../src/webkit.rs"]
mod webkit;

use std::borrow::Cow;

use tauri::utils::assets::{AssetKey, AssetsIter, CspHash};
use tauri::{Assets, Manager, Runtime};

const PAGE: &[u8] = b"<!doctype html><html><head><meta charset=\"utf-8\"><title>Bare</title></head><body></body></html>";

/// Every path is the empty page.
struct EmptyPage;

impl<R: Runtime> Assets<R> for EmptyPage {
    fn get(&self, _key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        Some(Cow::Borrowed(PAGE))
    }

    fn iter(&self) -> Box<AssetsIter<'_>> {
        Box::new(std::iter::once((
            Cow::Borrowed("/index.html"),
            Cow::Borrowed(PAGE),
        )))
    }

    fn csp_hashes(&self, _html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        Box::new(std::iter::empty())
    }
}

fn main() {
    let mut context = tauri::generate_context!();
    context.set_assets(Box::new(EmptyPage));
    tauri::Builder::default()
        .setup(|app| {
            if let Some(w) = app.get_webview_window("main") {
                webkit::tune(&w);
            }
            Ok(())
        })
        .run(context)
        .expect("error while running the bare window");
}
