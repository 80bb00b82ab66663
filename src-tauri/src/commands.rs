//! Tauri commands: each one calls the core and turns errors into `UiError`.

use std::collections::HashMap;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use switchboard_core::cache::MessageLog;
use switchboard_core::{
    Account, ConnState, Error as CoreError, Filter, LocalPrefs, OutboxItem, SearchResults,
    SessionInfo, SoundChoice, UiError, Upload,
};
use switchboard_protocol::{
    Conversation, ConversationStatus, NotificationSettings, Presence, Report, UpdateConversation,
    User, VisitorProfile, WidgetSettings,
};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use crate::AppState;

#[cfg(test)]
mod bindings;

type R<T> = Result<T, UiError>;

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppInfo {
    version: &'static str,
    accounts: Vec<Account>,
    current: Option<String>,
    prefs: LocalPrefs,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    let s = state.core.settings();
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        accounts: s.accounts,
        current: s.current,
        prefs: s.prefs,
    }
}

/// What the page needs for its first screen, in one call (`startup`): the app's
/// settings, the session restored from the keyring, and the first rows of the
/// dialog list, so the main screen is built once, with its rows.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Startup {
    info: AppInfo,
    /// The saved session, when there is one (none: the sign-in screen).
    session: Option<SessionInfo>,
    /// Why the saved session could not be opened.
    restore_error: Option<UiError>,
    /// Positions `start..start + count` of the `all` list, when signed in.
    list: Option<ConversationList>,
}

/// The page's first call, once it listens to core events. The session was
/// restored while the window's web engine started (`AppState::early_restore`),
/// so the first start of a page waits for no keyring or cache; a page loaded
/// again restores afresh, as the sign-in screen may have changed the account.
#[tauri::command]
pub async fn startup(state: State<'_, AppState>, start: u32, count: u32) -> R<Startup> {
    // the page listens now: core events held back since the app started go out
    state.page_listens();
    let early = state.early_restore.lock().unwrap().take();
    let restored = match early {
        Some(task) => task
            .await
            .unwrap_or_else(|e| Err(CoreError::Invalid(format!("restoring failed: {e}")).into())),
        None => state.core.restore().await.map_err(UiError::from),
    };
    let (session, restore_error) = match restored {
        Ok(s) => (s, None),
        Err(e) => (None, Some(e)),
    };
    let list = match &session {
        Some(_) => Some(window_of(&state, Filter::All, start, count).await?),
        None => None,
    };
    Ok(Startup {
        info: app_info(state),
        session,
        restore_error,
        list,
    })
}

#[tauri::command]
pub async fn sign_in(
    state: State<'_, AppState>,
    server: String,
    email: String,
    password: String,
    allow_http: bool,
) -> R<SessionInfo> {
    Ok(state
        .core
        .sign_in(&server, &email, &password, allow_http)
        .await?)
}

#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> R<()> {
    Ok(state.core.sign_out().await?)
}

#[tauri::command]
pub async fn switch_account(state: State<'_, AppState>, key: String) -> R<Option<SessionInfo>> {
    Ok(state.core.switch_account(&key).await?)
}

#[tauri::command]
pub async fn session_info(state: State<'_, AppState>) -> R<Option<SessionInfo>> {
    Ok(state.core.session_info().await)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConversationList {
    /// The dialogs at positions `start..start + items.length` of the list.
    items: Vec<Conversation>,
    start: u32,
    /// Dialogs in the whole list.
    total: u32,
    counts: HashMap<&'static str, i64>,
    unread_total: i64,
    connection: ConnState,
}

/// A window of a filter's dialog list, the latest first: the UI asks for the
/// rows around what it shows, so a list of thousands costs a screenful.
#[tauri::command]
pub async fn list_conversations(
    state: State<'_, AppState>,
    filter: Filter,
    start: u32,
    count: u32,
) -> R<ConversationList> {
    window_of(&state, filter, start, count).await
}

async fn window_of(
    state: &AppState,
    filter: Filter,
    start: u32,
    count: u32,
) -> R<ConversationList> {
    let s = state.core.session().await?;
    crate::memory::trim_soon();
    let window = s.conversations_window(filter, start as usize, count as usize);
    Ok(ConversationList {
        items: window.items,
        start: window.start as u32,
        total: window.total as u32,
        counts: s.unread_counts(),
        unread_total: s.unread_total(),
        connection: s.connection(),
    })
}

#[tauri::command]
pub async fn load_closed(state: State<'_, AppState>, more: bool) -> R<bool> {
    Ok(state.core.session().await?.load_closed(more).await?)
}

#[tauri::command]
pub async fn get_conversation(state: State<'_, AppState>, id: i64) -> R<Option<Conversation>> {
    let s = state.core.session().await?;
    if let Some(c) = s.conversation(id) {
        return Ok(Some(c));
    }
    Ok(s.api().conversation(id).await.ok())
}

#[tauri::command]
pub async fn cached_messages(state: State<'_, AppState>, id: i64) -> R<MessageLog> {
    Ok(state.core.session().await?.cached_messages(id))
}

#[tauri::command]
pub async fn get_messages(state: State<'_, AppState>, id: i64) -> R<MessageLog> {
    Ok(state.core.session().await?.messages(id).await?)
}

#[tauri::command]
pub async fn older_messages(state: State<'_, AppState>, id: i64) -> R<MessageLog> {
    Ok(state.core.session().await?.older_messages(id).await?)
}

/// Queues a message with the files attached in the composer (their local ids, in
/// order); with files the text may be empty.
#[tauri::command]
pub async fn send_message(
    state: State<'_, AppState>,
    conversation_id: i64,
    body: String,
    files: Vec<String>,
) -> R<OutboxItem> {
    Ok(state
        .core
        .session()
        .await?
        .send_message(conversation_id, &body, &files)?)
}

fn ui_error(code: &str, message: impl ToString) -> UiError {
    UiError {
        code: code.into(),
        status: None,
        message: message.to_string(),
    }
}

/// The native file picker (several files); the chosen ones are attached and start
/// uploading. An empty list when the user cancels.
#[tauri::command]
pub async fn attach_files(app: AppHandle, state: State<'_, AppState>) -> R<Vec<Upload>> {
    let session = state.core.session().await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut picker = app.dialog().file();
    if let Some(w) = app.get_webview_window("main") {
        picker = picker.set_parent(&w);
    }
    picker.pick_files(move |files| {
        let _ = tx.send(files);
    });
    let Some(files) = rx.await.ok().flatten() else {
        return Ok(vec![]);
    };
    let paths: Vec<PathBuf> = files
        .into_iter()
        .filter_map(|f| f.into_path().ok())
        .collect();
    Ok(session.attach_paths(&paths).await?)
}

/// Attaches files dropped on the window from the desktop. Only paths of a real drop
/// are taken (the shell records them as the OS delivers the drop), so the page
/// cannot ask for any file on disk.
#[tauri::command]
pub async fn attach_dropped(state: State<'_, AppState>, paths: Vec<String>) -> R<Vec<Upload>> {
    let session = state.core.session().await?;
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    // the page hears of the drop as the shell records it: give the record a moment
    for _ in 0..20 {
        if paths.iter().all(|p| state.was_dropped(p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let Some(p) = paths.iter().find(|p| !state.was_dropped(p)) {
        return Err(ui_error(
            "invalid",
            format!("{} was not dropped on the window", p.display()),
        ));
    }
    Ok(session.attach_paths(&paths).await?)
}

/// Attaches bytes the page holds: a pasted image, or a file dragged from another
/// app. The raw body is the file's name in UTF-8, one NUL byte, then the file.
#[tauri::command]
pub async fn attach_bytes(
    state: State<'_, AppState>,
    request: tauri::ipc::Request<'_>,
) -> R<Upload> {
    let tauri::ipc::InvokeBody::Raw(body) = request.body() else {
        return Err(ui_error("invalid", "expected the file as raw bytes"));
    };
    let nul = body
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| ui_error("invalid", "no file name before the bytes"))?;
    let name = String::from_utf8_lossy(&body[..nul]).to_string();
    Ok(state
        .core
        .session()
        .await?
        .attach_bytes(&name, &body[nul + 1..])
        .await?)
}

/// Removes a file from the composer (stops its upload, deletes its copy).
#[tauri::command]
pub async fn remove_upload(state: State<'_, AppState>, local_id: String) -> R<()> {
    Ok(state.core.session().await?.remove_upload(&local_id)?)
}

/// Uploads again a file that failed.
#[tauri::command]
pub async fn retry_upload(state: State<'_, AppState>, local_id: String) -> R<()> {
    Ok(state.core.session().await?.retry_upload(&local_id)?)
}

/// The state of files being uploaded (e.g. those of queued messages after a restart).
#[tauri::command]
pub async fn uploads(state: State<'_, AppState>, local_ids: Vec<String>) -> R<Vec<Upload>> {
    Ok(state.core.session().await?.uploads(&local_ids))
}

/// The native save dialog, then the attachment downloaded to the chosen path.
/// Returns that path, or null when the user cancelled.
#[tauri::command]
pub async fn save_attachment(
    app: AppHandle,
    state: State<'_, AppState>,
    conversation_id: i64,
    attachment_id: i64,
    name: String,
) -> R<Option<String>> {
    let session = state.core.session().await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app
        .dialog()
        .file()
        .set_file_name(switchboard_core::files::safe_file_name(&name));
    if let Some(w) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&w);
    }
    if let Some(d) = app.path().download_dir().ok().filter(|d| d.is_dir()) {
        dialog = dialog.set_directory(d);
    }
    dialog.save_file(move |path| {
        let _ = tx.send(path);
    });
    let Some(path) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let path = path
        .into_path()
        .map_err(|e| ui_error("invalid", e.to_string()))?;
    session
        .save_attachment(conversation_id, attachment_id, &path)
        .await?;
    Ok(Some(path.display().to_string()))
}

/// The native save dialog, then `text` written to the chosen path (Reports → Download
/// CSV). Returns that path, or null when the user cancelled.
#[tauri::command]
pub async fn save_text(app: AppHandle, name: String, text: String) -> R<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app
        .dialog()
        .file()
        .set_file_name(switchboard_core::files::safe_file_name(&name));
    if let Some(w) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&w);
    }
    if let Some(d) = app.path().download_dir().ok().filter(|d| d.is_dir()) {
        dialog = dialog.set_directory(d);
    }
    dialog.save_file(move |path| {
        let _ = tx.send(path);
    });
    let Some(path) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let path = path
        .into_path()
        .map_err(|e| ui_error("invalid", e.to_string()))?;
    tokio::fs::write(&path, text.as_bytes())
        .await
        .map_err(|e| ui_error("write_failed", e))?;
    Ok(Some(path.display().to_string()))
}

/// Opens an attachment with the OS's default app (fetched once into the app's data).
/// Programs, scripts and web pages are refused (`risky_file`): save those instead.
#[tauri::command]
pub async fn open_attachment(
    app: AppHandle,
    state: State<'_, AppState>,
    conversation_id: i64,
    attachment_id: i64,
) -> R<()> {
    let path = state
        .core
        .session()
        .await?
        .attachment_copy(conversation_id, attachment_id)
        .await?;
    app.opener()
        .open_path(path.display().to_string(), None::<&str>)
        .map_err(|e| ui_error("open_failed", e))
}

/// Search across the whole history; `before`: the `next` of the previous page.
#[tauri::command]
pub async fn search(
    state: State<'_, AppState>,
    q: String,
    before: Option<String>,
) -> R<SearchResults> {
    Ok(state
        .core
        .session()
        .await?
        .search(&q, before.as_deref())
        .await?)
}

/// The Reports screen: the figures of the days `from`..=`to` (`YYYY-MM-DD`) in the
/// IANA time zone `tz`; missed = no answer within `missed_after` minutes.
#[tauri::command]
pub async fn reports(
    state: State<'_, AppState>,
    from: String,
    to: String,
    tz: String,
    missed_after: Option<i64>,
) -> R<Report> {
    Ok(state
        .core
        .session()
        .await?
        .reports(&from, &to, &tz, missed_after)
        .await?)
}

/// Who the visitor is, for the panel beside the dialog: browser, OS, language, time
/// zone, referrer, the pages they saw and their earlier conversations.
#[tauri::command]
pub async fn visitor_profile(state: State<'_, AppState>, visitor_id: i64) -> R<VisitorProfile> {
    Ok(state
        .core
        .session()
        .await?
        .visitor_profile(visitor_id)
        .await?)
}

/// The widget's settings (Widget screen; any member may read them).
#[tauri::command]
pub async fn widget_settings(state: State<'_, AppState>) -> R<WidgetSettings> {
    Ok(state.core.session().await?.widget_settings().await?)
}

/// Saves the widget's settings (admins and marketers); returns them as stored. A
/// refused value fails with the server's 422 code and message.
#[tauri::command]
pub async fn save_widget_settings(
    state: State<'_, AppState>,
    settings: WidgetSettings,
) -> R<WidgetSettings> {
    Ok(state
        .core
        .session()
        .await?
        .save_widget_settings(&settings)
        .await?)
}

/// Opens a web page in the OS's browser (a page the visitor saw). Only `http(s)://`
/// addresses: a visitor's widget reports them, so nothing else is handed to the OS.
#[tauri::command]
pub fn open_url(app: AppHandle, url: String) -> R<()> {
    let parsed = tauri::Url::parse(url.trim()).map_err(|e| ui_error("invalid", e))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ui_error("invalid", "only http:// and https:// pages open"));
    }
    app.opener()
        .open_url(parsed.as_str(), None::<&str>)
        .map_err(|e| ui_error("open_failed", e))
}

/// A dialog's messages back to `message_id` at least (opening a search hit).
#[tauri::command]
pub async fn messages_until(state: State<'_, AppState>, id: i64, message_id: i64) -> R<MessageLog> {
    Ok(state
        .core
        .session()
        .await?
        .messages_until(id, message_id)
        .await?)
}

#[tauri::command]
pub async fn outbox(state: State<'_, AppState>) -> R<Vec<OutboxItem>> {
    Ok(state.core.session().await?.outbox())
}

#[tauri::command]
pub async fn retry_outbox(state: State<'_, AppState>, client_id: String, discard: bool) -> R<()> {
    Ok(state
        .core
        .session()
        .await?
        .retry_outbox(&client_id, discard)?)
}

#[tauri::command]
pub async fn assign_conversation(
    state: State<'_, AppState>,
    id: i64,
    assignee_id: Option<i64>,
) -> R<Conversation> {
    let update = UpdateConversation {
        status: None,
        assignee_id: Some(assignee_id),
    };
    Ok(state
        .core
        .session()
        .await?
        .update_conversation(id, update)
        .await?)
}

#[tauri::command]
pub async fn set_conversation_status(
    state: State<'_, AppState>,
    id: i64,
    status: ConversationStatus,
) -> R<Conversation> {
    let update = UpdateConversation {
        status: Some(status),
        assignee_id: None,
    };
    Ok(state
        .core
        .session()
        .await?
        .update_conversation(id, update)
        .await?)
}

#[tauri::command]
pub async fn mark_read(state: State<'_, AppState>, id: i64) -> R<()> {
    Ok(state.core.session().await?.mark_read(id).await?)
}

#[tauri::command]
pub async fn send_typing(state: State<'_, AppState>, id: i64) -> R<()> {
    state.core.session().await?.send_typing(id);
    Ok(())
}

#[tauri::command]
pub fn set_view(state: State<'_, AppState>, conversation_id: Option<i64>) {
    state.update_view(|v| v.conversation = conversation_id);
}

#[tauri::command]
pub async fn me(state: State<'_, AppState>) -> R<User> {
    let s = state.core.session().await?;
    match s.refresh_me().await {
        Ok(u) => Ok(u),
        Err(e) if e.is_network() => Ok(s.user()),
        Err(e) => Err(e.into()),
    }
}

#[tauri::command]
pub async fn update_me(
    state: State<'_, AppState>,
    name: Option<String>,
    locale: Option<String>,
) -> R<User> {
    Ok(state.core.session().await?.update_me(name, locale).await?)
}

#[tauri::command]
pub async fn change_password(state: State<'_, AppState>, current: String, new: String) -> R<User> {
    Ok(state
        .core
        .session()
        .await?
        .change_password(&current, &new)
        .await?)
}

/// The image bytes come as the raw IPC body (no JSON array of a million numbers).
#[tauri::command]
pub async fn upload_avatar(
    state: State<'_, AppState>,
    request: tauri::ipc::Request<'_>,
) -> R<User> {
    let bytes = match request.body() {
        tauri::ipc::InvokeBody::Raw(b) => b.clone(),
        tauri::ipc::InvokeBody::Json(v) => {
            serde_json::from_value::<Vec<u8>>(v.clone()).map_err(|e| UiError {
                code: "invalid".into(),
                status: None,
                message: e.to_string(),
            })?
        }
    };
    Ok(state.core.session().await?.upload_avatar(bytes).await?)
}

#[tauri::command]
pub async fn delete_avatar(state: State<'_, AppState>) -> R<User> {
    Ok(state.core.session().await?.delete_avatar().await?)
}

#[tauri::command]
pub async fn set_notifications(state: State<'_, AppState>, sound: bool, email: bool) -> R<User> {
    Ok(state
        .core
        .session()
        .await?
        .set_notifications(NotificationSettings { sound, email })
        .await?)
}

#[tauri::command]
pub async fn set_presence(state: State<'_, AppState>, presence: Presence) -> R<User> {
    Ok(state.core.session().await?.set_presence(presence).await?)
}

#[tauri::command]
pub async fn team(state: State<'_, AppState>) -> R<Vec<User>> {
    Ok(state.core.session().await?.team().await?)
}

#[tauri::command]
pub async fn invite(state: State<'_, AppState>, email: String, role: String) -> R<User> {
    Ok(state.core.session().await?.invite(&email, &role).await?)
}

#[tauri::command]
pub async fn mail_dns(state: State<'_, AppState>) -> R<switchboard_protocol::MailDns> {
    Ok(state.core.session().await?.mail_dns().await?)
}

#[tauri::command]
pub async fn mail_dns_check(state: State<'_, AppState>) -> R<switchboard_protocol::DnsCheck> {
    Ok(state.core.session().await?.mail_dns_check().await?)
}

#[tauri::command]
pub async fn resend_invitation(state: State<'_, AppState>, user_id: i64) -> R<()> {
    Ok(state
        .core
        .session()
        .await?
        .resend_invitation(user_id)
        .await?)
}

#[tauri::command]
pub async fn change_role(state: State<'_, AppState>, user_id: i64, role: String) -> R<User> {
    Ok(state
        .core
        .session()
        .await?
        .change_role(user_id, &role)
        .await?)
}

#[tauri::command]
pub async fn remove_member(state: State<'_, AppState>, user_id: i64) -> R<()> {
    Ok(state.core.session().await?.remove_member(user_id).await?)
}

#[tauri::command]
pub fn get_prefs(state: State<'_, AppState>) -> LocalPrefs {
    state.core.settings().prefs
}

#[tauri::command]
pub fn set_prefs(app: AppHandle, state: State<'_, AppState>, prefs: LocalPrefs) -> R<LocalPrefs> {
    let before = state.core.settings().prefs;
    let saved = state.core.set_prefs(prefs)?;
    if saved.start_at_login != before.start_at_login {
        let al = app.autolaunch();
        let r = if saved.start_at_login {
            al.enable()
        } else {
            al.disable()
        };
        if let Err(e) = r {
            return Err(UiError {
                code: "autostart".into(),
                status: None,
                message: e.to_string(),
            });
        }
    }
    Ok(saved)
}

#[tauri::command]
pub async fn play_test_sound(state: State<'_, AppState>, sound: SoundChoice, volume: f32) -> R<()> {
    Ok(state.core.play_test_sound(sound, volume).await?)
}

#[tauri::command]
pub async fn reconnect_now(state: State<'_, AppState>) -> R<()> {
    state.core.session().await?.reconnect_now();
    Ok(())
}

#[tauri::command]
pub fn quit(app: AppHandle) {
    app.exit(0);
}
