//! WebKit settings of the window, shared with the benchmark's bare window
//! (`src-tauri/bench/bare_window.rs`) so the two are measured alike.
//!
//! On Linux (WebKitGTK) the page is a local single-page app: nothing is browsed, so
//! the web browser's cache model (a back/forward page cache, a memory cache sized for
//! browsing) is traded for the document viewer's. Measured at start it changes nothing
//! (docs/desktop.md, "Memory and WebKit"); it bounds what pictures and avatars may keep.
//! `SWITCHBOARD_WEBKIT` (a comma list, for the benchmark) changes them one at a time:
//! `cache=browser` puts WebKit's default back, `accel=never` / `accel=always` set the
//! hardware acceleration (compositing) policy, left to WebKit otherwise.

/// Applies the settings to a window's webview. Call once, when the window exists.
pub fn tune<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    {
        let knobs = std::env::var("SWITCHBOARD_WEBKIT").unwrap_or_default();
        let has = |k: &str| knobs.split(',').any(|x| x.trim() == k);
        let cache_browser = has("cache=browser");
        let accel_never = has("accel=never");
        let accel_always = has("accel=always");
        let r = window.with_webview(move |wv| {
            use webkit2gtk::{
                CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
            };
            let view = wv.inner();
            if let Some(ctx) = view.context() {
                if !cache_browser {
                    // no page cache, the smallest memory cache: one app, no browsing
                    ctx.set_cache_model(CacheModel::DocumentViewer);
                }
            }
            if let Some(settings) = WebViewExt::settings(&view) {
                if accel_never {
                    settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                } else if accel_always {
                    settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Always);
                }
            }
            tracing::debug!(knobs = %knobs, "webkit settings applied");
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "webkit settings not applied");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
