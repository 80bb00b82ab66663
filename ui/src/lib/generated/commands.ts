// Generated from src-tauri/src/commands.rs and main.rs (Rust) by
// scripts/gen-types.sh: do not edit.
// One function per #[tauri::command]; a failed command rejects with a UiError.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { AppInfo, Conversation, ConversationList, ConversationStatus, CoreEvent, DnsCheck, Filter, LocalPrefs, MailDns, MessageLog, OutboxItem, Presence, Report, SearchResults, SessionInfo, SoundChoice, Startup, Upload, User, VisitorProfile, WidgetSettings } from './types';

/** `app_info` */
export function appInfo(): Promise<AppInfo> {
  return invoke('app_info');
}

/**
 * The page's first call, once it listens to core events. The session was
 * restored while the window's web engine started (`AppState::early_restore`),
 * so the first start of a page waits for no keyring or cache; a page loaded
 * again restores afresh, as the sign-in screen may have changed the account.
 *
 * `startup`
 */
export function startup(args: { start: number; count: number }): Promise<Startup> {
  return invoke('startup', args);
}

/** `sign_in` */
export function signIn(args: { server: string; email: string; password: string; allowHttp: boolean }): Promise<SessionInfo> {
  return invoke('sign_in', args);
}

/** `sign_out` */
export function signOut(): Promise<void> {
  return invoke('sign_out');
}

/** `switch_account` */
export function switchAccount(args: { key: string }): Promise<SessionInfo | null> {
  return invoke('switch_account', args);
}

/** `session_info` */
export function sessionInfo(): Promise<SessionInfo | null> {
  return invoke('session_info');
}

/**
 * A window of a filter's dialog list, the latest first: the UI asks for the
 * rows around what it shows, so a list of thousands costs a screenful.
 *
 * `list_conversations`
 */
export function listConversations(args: { filter: Filter; start: number; count: number }): Promise<ConversationList> {
  return invoke('list_conversations', args);
}

/** `load_closed` */
export function loadClosed(args: { more: boolean }): Promise<boolean> {
  return invoke('load_closed', args);
}

/** `get_conversation` */
export function getConversation(args: { id: number }): Promise<Conversation | null> {
  return invoke('get_conversation', args);
}

/** `cached_messages` */
export function cachedMessages(args: { id: number }): Promise<MessageLog> {
  return invoke('cached_messages', args);
}

/** `get_messages` */
export function getMessages(args: { id: number }): Promise<MessageLog> {
  return invoke('get_messages', args);
}

/** `older_messages` */
export function olderMessages(args: { id: number }): Promise<MessageLog> {
  return invoke('older_messages', args);
}

/**
 * Queues a message with the files attached in the composer (their local ids, in
 * order); with files the text may be empty.
 *
 * `send_message`
 */
export function sendMessage(args: { conversationId: number; body: string; files: Array<string> }): Promise<OutboxItem> {
  return invoke('send_message', args);
}

/**
 * The native file picker (several files); the chosen ones are attached and start
 * uploading. An empty list when the user cancels.
 *
 * `attach_files`
 */
export function attachFiles(): Promise<Array<Upload>> {
  return invoke('attach_files');
}

/**
 * Attaches files dropped on the window from the desktop. Only paths of a real drop
 * are taken (the shell records them as the OS delivers the drop), so the page
 * cannot ask for any file on disk.
 *
 * `attach_dropped`
 */
export function attachDropped(args: { paths: Array<string> }): Promise<Array<Upload>> {
  return invoke('attach_dropped', args);
}

/**
 * Attaches bytes the page holds: a pasted image, or a file dragged from another
 * app. The raw body is the file's name in UTF-8, one NUL byte, then the file.
 *
 * `attach_bytes`
 */
export function attachBytes(body: Uint8Array): Promise<Upload> {
  return invoke('attach_bytes', body);
}

/**
 * Removes a file from the composer (stops its upload, deletes its copy).
 *
 * `remove_upload`
 */
export function removeUpload(args: { localId: string }): Promise<void> {
  return invoke('remove_upload', args);
}

/**
 * Uploads again a file that failed.
 *
 * `retry_upload`
 */
export function retryUpload(args: { localId: string }): Promise<void> {
  return invoke('retry_upload', args);
}

/**
 * The state of files being uploaded (e.g. those of queued messages after a restart).
 *
 * `uploads`
 */
export function uploads(args: { localIds: Array<string> }): Promise<Array<Upload>> {
  return invoke('uploads', args);
}

/**
 * The native save dialog, then the attachment downloaded to the chosen path.
 * Returns that path, or null when the user cancelled.
 *
 * `save_attachment`
 */
export function saveAttachment(args: { conversationId: number; attachmentId: number; name: string }): Promise<string | null> {
  return invoke('save_attachment', args);
}

/**
 * The native save dialog, then `text` written to the chosen path (Reports → Download
 * CSV). Returns that path, or null when the user cancelled.
 *
 * `save_text`
 */
export function saveText(args: { name: string; text: string }): Promise<string | null> {
  return invoke('save_text', args);
}

/**
 * Opens an attachment with the OS's default app (fetched once into the app's data).
 * Programs, scripts and web pages are refused (`risky_file`): save those instead.
 *
 * `open_attachment`
 */
export function openAttachment(args: { conversationId: number; attachmentId: number }): Promise<void> {
  return invoke('open_attachment', args);
}

/**
 * Search across the whole history; `before`: the `next` of the previous page.
 *
 * `search`
 */
export function search(args: { q: string; before: string | null }): Promise<SearchResults> {
  return invoke('search', args);
}

/**
 * The Reports screen: the figures of the days `from`..=`to` (`YYYY-MM-DD`) in the
 * IANA time zone `tz`; missed = no answer within `missed_after` minutes.
 *
 * `reports`
 */
export function reports(args: { from: string; to: string; tz: string; missedAfter: number | null }): Promise<Report> {
  return invoke('reports', args);
}

/**
 * Who the visitor is, for the panel beside the dialog: browser, OS, language, time
 * zone, referrer, the pages they saw and their earlier conversations.
 *
 * `visitor_profile`
 */
export function visitorProfile(args: { visitorId: number }): Promise<VisitorProfile> {
  return invoke('visitor_profile', args);
}

/**
 * The widget's settings (Widget screen; any member may read them).
 *
 * `widget_settings`
 */
export function widgetSettings(): Promise<WidgetSettings> {
  return invoke('widget_settings');
}

/**
 * Saves the widget's settings (admins and marketers); returns them as stored. A
 * refused value fails with the server's 422 code and message.
 *
 * `save_widget_settings`
 */
export function saveWidgetSettings(args: { settings: WidgetSettings }): Promise<WidgetSettings> {
  return invoke('save_widget_settings', args);
}

/**
 * Opens a web page in the OS's browser (a page the visitor saw). Only `http(s)://`
 * addresses: a visitor's widget reports them, so nothing else is handed to the OS.
 *
 * `open_url`
 */
export function openUrl(args: { url: string }): Promise<void> {
  return invoke('open_url', args);
}

/**
 * A dialog's messages back to `message_id` at least (opening a search hit).
 *
 * `messages_until`
 */
export function messagesUntil(args: { id: number; messageId: number }): Promise<MessageLog> {
  return invoke('messages_until', args);
}

/** `outbox` */
export function outbox(): Promise<Array<OutboxItem>> {
  return invoke('outbox');
}

/** `retry_outbox` */
export function retryOutbox(args: { clientId: string; discard: boolean }): Promise<void> {
  return invoke('retry_outbox', args);
}

/** `assign_conversation` */
export function assignConversation(args: { id: number; assigneeId: number | null }): Promise<Conversation> {
  return invoke('assign_conversation', args);
}

/** `set_conversation_status` */
export function setConversationStatus(args: { id: number; status: ConversationStatus }): Promise<Conversation> {
  return invoke('set_conversation_status', args);
}

/** `mark_read` */
export function markRead(args: { id: number }): Promise<void> {
  return invoke('mark_read', args);
}

/** `send_typing` */
export function sendTyping(args: { id: number }): Promise<void> {
  return invoke('send_typing', args);
}

/** `set_view` */
export function setView(args: { conversationId: number | null }): Promise<void> {
  return invoke('set_view', args);
}

/** `me` */
export function me(): Promise<User> {
  return invoke('me');
}

/** `update_me` */
export function updateMe(args: { name: string | null; locale: string | null }): Promise<User> {
  return invoke('update_me', args);
}

/** `change_password` */
export function changePassword(args: { current: string; new: string }): Promise<User> {
  return invoke('change_password', args);
}

/**
 * The image bytes come as the raw IPC body (no JSON array of a million numbers).
 *
 * `upload_avatar`
 */
export function uploadAvatar(body: Uint8Array): Promise<User> {
  return invoke('upload_avatar', body);
}

/** `delete_avatar` */
export function deleteAvatar(): Promise<User> {
  return invoke('delete_avatar');
}

/** `set_notifications` */
export function setNotifications(args: { sound: boolean; email: boolean }): Promise<User> {
  return invoke('set_notifications', args);
}

/** `set_presence` */
export function setPresence(args: { presence: Presence }): Promise<User> {
  return invoke('set_presence', args);
}

/** `team` */
export function team(): Promise<Array<User>> {
  return invoke('team');
}

/** `invite` */
export function invite(args: { email: string; role: string }): Promise<User> {
  return invoke('invite', args);
}

/** `mail_dns` */
export function mailDns(): Promise<MailDns> {
  return invoke('mail_dns');
}

/** `mail_dns_check` */
export function mailDnsCheck(): Promise<DnsCheck> {
  return invoke('mail_dns_check');
}

/** `resend_invitation` */
export function resendInvitation(args: { userId: number }): Promise<void> {
  return invoke('resend_invitation', args);
}

/** `change_role` */
export function changeRole(args: { userId: number; role: string }): Promise<User> {
  return invoke('change_role', args);
}

/** `remove_member` */
export function removeMember(args: { userId: number }): Promise<void> {
  return invoke('remove_member', args);
}

/** `get_prefs` */
export function getPrefs(): Promise<LocalPrefs> {
  return invoke('get_prefs');
}

/** `set_prefs` */
export function setPrefs(args: { prefs: LocalPrefs }): Promise<LocalPrefs> {
  return invoke('set_prefs', args);
}

/** `play_test_sound` */
export function playTestSound(args: { sound: SoundChoice; volume: number }): Promise<void> {
  return invoke('play_test_sound', args);
}

/** `reconnect_now` */
export function reconnectNow(): Promise<void> {
  return invoke('reconnect_now');
}

/** `quit` */
export function quit(): Promise<void> {
  return invoke('quit');
}

/** The `core` event. */
export function onCoreEvent(handler: (payload: CoreEvent) => void): Promise<UnlistenFn> {
  return listen<CoreEvent>('core', (e) => handler(e.payload));
}
