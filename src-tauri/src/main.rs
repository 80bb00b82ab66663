// Hide the console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

//! The Switchboard desktop shell: a thin Tauri layer over `switchboard-core`.
//! Commands call the core; core events go to the UI as the `core` event and drive the
//! tray (unread count and status).

mod commands;
mod memory;
mod page_events;
mod tray;
mod webkit;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use page_events::PageQueue;
use switchboard_core::{Core, CoreEvent, Paths, SessionInfo, UiError, ViewState};
use tauri::async_runtime::JoinHandle;
use tauri::{DragDropEvent, Emitter, Manager, WebviewEvent, WindowEvent};

/// The saved session opened (none: there is none to open), or why it could not be.
pub type Restored = Result<Option<SessionInfo>, UiError>;

pub struct AppState {
    pub core: Arc<Core>,
    pub view: Mutex<ViewState>,
    /// Whether the tray icon exists (closing to the tray needs one).
    pub tray: std::sync::atomic::AtomicBool,
    /// Paths of files dropped on the window from the desktop: the only paths the page
    /// may attach (`attach_dropped`).
    pub dropped: Mutex<HashSet<PathBuf>>,
    /// The saved session, being restored since the app started: taken by the
    /// page's first `startup`.
    pub early_restore: Mutex<Option<JoinHandle<Restored>>>,
    /// Whether the page listens to core events yet; until it does, they are held.
    page_listening: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    pub fn update_view(&self, f: impl FnOnce(&mut ViewState)) {
        let mut v = self.view.lock().unwrap();
        f(&mut v);
        self.core.set_view(*v);
    }

    pub fn was_dropped(&self, p: &std::path::Path) -> bool {
        self.dropped.lock().unwrap().contains(p)
    }

    /// The page listens to core events: those held back go out (`forward_events`).
    pub fn page_listens(&self) {
        self.page_listening.send_replace(true);
    }

    /// Remembers the paths of a drop from the desktop (the OS delivered them).
    pub fn record_drop(&self, paths: &[PathBuf]) {
        let mut dropped = self.dropped.lock().unwrap();
        if dropped.len() > 1000 {
            dropped.clear();
        }
        dropped.extend(paths.iter().cloned());
    }
}

pub fn show_main(app: &tauri::AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Core events drive the tray at once and go to the page as the `core` event
/// once it listens: those of the session restored while the page loads (a
/// keyring warning, the first connection states) are held until then.
async fn forward_events(
    handle: tauri::AppHandle,
    mut events: tokio::sync::broadcast::Receiver<CoreEvent>,
    mut page_listening: tokio::sync::watch::Receiver<bool>,
) {
    let mut page = PageQueue::default();
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            changed = page_listening.changed(), if !page.listening() => {
                if changed.is_err() {
                    return;
                }
                if *page_listening.borrow_and_update() {
                    for ev in page.open() {
                        let _ = handle.emit("core", &ev);
                    }
                }
                continue;
            }
        };
        let ev = match ev {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(n, "UI lagged behind core events; asking it to reload");
                CoreEvent::Reloaded
            }
            Err(_) => return,
        };
        match &ev {
            CoreEvent::Unread { total } => tray::set_unread(&handle, *total),
            CoreEvent::Me { user } => tray::set_presence(&handle, user.presence),
            CoreEvent::Connection { state } => tray::set_connection(&handle, *state),
            CoreEvent::OpenConversation { .. } => show_main(&handle),
            _ => {}
        }
        if let Some(ev) = page.offer(ev) {
            let _ = handle.emit("core", &ev);
        }
    }
}

fn main() {
    memory::limit_arenas();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,switchboard_core=info,switchboard_desktop=info".into())
        // tungstenite traces the whole upgrade request, Authorization header included
        // (reaching us when log records are bridged): never that, whatever RUST_LOG says
        .add_directive("tungstenite::handshake::client=debug".parse().unwrap());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting");
    let paths = match std::env::var_os("SWITCHBOARD_DESKTOP_HOME") {
        // tests and several side-by-side profiles
        Some(dir) => Paths::under(std::path::PathBuf::from(dir)),
        None => Paths::from_os().expect("no home directory to keep settings in"),
    };
    let core = Arc::new(Core::new(paths));

    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_main(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .manage(AppState {
            core: core.clone(),
            view: Mutex::new(ViewState::default()),
            tray: std::sync::atomic::AtomicBool::new(false),
            dropped: Mutex::new(HashSet::new()),
            early_restore: Mutex::new(None),
            page_listening: tokio::sync::watch::Sender::new(false),
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            // The window's web engine takes longer to start than the keyring and
            // the cache to open: the session is restored meanwhile, not after the
            // page asks (docs/desktop.md, "Startup").
            let restoring = core.clone();
            let early = tauri::async_runtime::spawn(async move {
                restoring.restore().await.map_err(UiError::from)
            });
            *app.state::<AppState>().early_restore.lock().unwrap() = Some(early);
            if let Some(w) = app.get_webview_window("main") {
                webkit::tune(&w);
            }
            // no tray host (or no appindicator library): the app still works, the
            // window just can't hide into a tray
            match tray::create(&handle) {
                Ok(()) => app
                    .state::<AppState>()
                    .tray
                    .store(true, std::sync::atomic::Ordering::SeqCst),
                Err(e) => tracing::warn!(error = %e, "no tray icon"),
            }
            if std::env::args().any(|a| a == "--hidden") {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.hide();
                }
            }
            // core events → UI and tray
            let listening = app.state::<AppState>().page_listening.subscribe();
            tauri::async_runtime::spawn(forward_events(handle, core.subscribe(), listening));
            Ok(())
        })
        // a webview that is its window's whole content reports drops as window events
        .on_webview_event(|webview, event| {
            if let WebviewEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                webview.state::<AppState>().record_drop(paths);
            }
        })
        .on_window_event(|window, event| match event {
            WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) => {
                window.state::<AppState>().record_drop(paths);
            }
            WindowEvent::CloseRequested { api, .. } => {
                let state = window.state::<AppState>();
                let has_tray = state.tray.load(std::sync::atomic::Ordering::SeqCst);
                if has_tray && state.core.settings().prefs.close_to_tray {
                    api.prevent_close();
                    let _ = window.hide();
                    state.update_view(|v| v.focused = false);
                }
            }
            WindowEvent::Focused(f) => {
                let state = window.state::<AppState>();
                let visible = window.is_visible().unwrap_or(true);
                state.update_view(|v| v.focused = *f && visible);
            }
            _ => {}
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::startup,
            commands::sign_in,
            commands::sign_out,
            commands::switch_account,
            commands::session_info,
            commands::list_conversations,
            commands::load_closed,
            commands::get_conversation,
            commands::cached_messages,
            commands::get_messages,
            commands::older_messages,
            commands::send_message,
            commands::attach_files,
            commands::attach_dropped,
            commands::attach_bytes,
            commands::remove_upload,
            commands::retry_upload,
            commands::uploads,
            commands::save_attachment,
            commands::open_attachment,
            commands::save_text,
            commands::search,
            commands::reports,
            commands::visitor_profile,
            commands::open_url,
            commands::widget_settings,
            commands::save_widget_settings,
            commands::messages_until,
            commands::outbox,
            commands::retry_outbox,
            commands::assign_conversation,
            commands::set_conversation_status,
            commands::mark_read,
            commands::send_typing,
            commands::set_view,
            commands::me,
            commands::update_me,
            commands::change_password,
            commands::upload_avatar,
            commands::delete_avatar,
            commands::set_notifications,
            commands::set_presence,
            commands::team,
            commands::invite,
            commands::mail_dns,
            commands::mail_dns_check,
            commands::resend_invitation,
            commands::change_role,
            commands::remove_member,
            commands::get_prefs,
            commands::set_prefs,
            commands::play_test_sound,
            commands::reconnect_now,
            commands::quit,
        ])
        .build(tauri::generate_context!())
        .expect("error while building the Switchboard desktop app")
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                let core = app.state::<AppState>().core.clone();
                tauri::async_runtime::block_on(async move { core.stop().await });
            }
        });
}
