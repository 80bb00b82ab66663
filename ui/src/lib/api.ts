// The UI's calls into the core: each one a typed function generated from
// src-tauri/src/commands.rs (./generated/commands.ts, scripts/gen-types.sh).
import type { UnlistenFn } from '@tauri-apps/api/event';
import { attachBody } from './format';
import * as commands from './generated/commands';
import type { ConversationStatus, CoreEvent, Filter, LocalPrefs, Presence, SoundChoice, WidgetSettings } from './types';

export const api = {
  appInfo: () => commands.appInfo(),
  startup: (start: number, count: number) => commands.startup({ start, count }),
  signIn: (server: string, email: string, password: string, allowHttp: boolean) =>
    commands.signIn({ server, email, password, allowHttp }),
  signOut: () => commands.signOut(),
  switchAccount: (key: string) => commands.switchAccount({ key }),
  sessionInfo: () => commands.sessionInfo(),
  listConversations: (filter: Filter, start: number, count: number) =>
    commands.listConversations({ filter, start, count }),
  loadClosed: (more: boolean) => commands.loadClosed({ more }),
  getConversation: (id: number) => commands.getConversation({ id }),
  cachedMessages: (id: number) => commands.cachedMessages({ id }),
  getMessages: (id: number) => commands.getMessages({ id }),
  olderMessages: (id: number) => commands.olderMessages({ id }),
  sendMessage: (conversationId: number, body: string, files: string[] = []) =>
    commands.sendMessage({ conversationId, body, files }),
  attachFiles: () => commands.attachFiles(),
  attachDropped: (paths: string[]) => commands.attachDropped({ paths }),
  attachBytes: (name: string, bytes: Uint8Array) => commands.attachBytes(attachBody(name, bytes)),
  removeUpload: (localId: string) => commands.removeUpload({ localId }),
  retryUpload: (localId: string) => commands.retryUpload({ localId }),
  uploads: (localIds: string[]) => commands.uploads({ localIds }),
  saveAttachment: (conversationId: number, attachmentId: number, name: string) =>
    commands.saveAttachment({ conversationId, attachmentId, name }),
  openAttachment: (conversationId: number, attachmentId: number) =>
    commands.openAttachment({ conversationId, attachmentId }),
  saveText: (name: string, text: string) => commands.saveText({ name, text }),
  search: (q: string, before: string | null = null) => commands.search({ q, before }),
  reports: (from: string, to: string, tz: string, missedAfter: number | null) =>
    commands.reports({ from, to, tz, missedAfter }),
  visitorProfile: (visitorId: number) => commands.visitorProfile({ visitorId }),
  openUrl: (url: string) => commands.openUrl({ url }),
  widgetSettings: () => commands.widgetSettings(),
  saveWidgetSettings: (settings: WidgetSettings) => commands.saveWidgetSettings({ settings }),
  messagesUntil: (id: number, messageId: number) => commands.messagesUntil({ id, messageId }),
  outbox: () => commands.outbox(),
  retryOutbox: (clientId: string, discard: boolean) => commands.retryOutbox({ clientId, discard }),
  assign: (id: number, assigneeId: number | null) => commands.assignConversation({ id, assigneeId }),
  setStatus: (id: number, status: ConversationStatus) => commands.setConversationStatus({ id, status }),
  markRead: (id: number) => commands.markRead({ id }),
  sendTyping: (id: number) => commands.sendTyping({ id }),
  setView: (conversationId: number | null) => commands.setView({ conversationId }),
  me: () => commands.me(),
  updateMe: (name: string | null, locale: string | null) => commands.updateMe({ name, locale }),
  changePassword: (current: string, next: string) => commands.changePassword({ current, new: next }),
  uploadAvatar: (bytes: Uint8Array) => commands.uploadAvatar(bytes),
  deleteAvatar: () => commands.deleteAvatar(),
  setNotifications: (sound: boolean, email: boolean) => commands.setNotifications({ sound, email }),
  setPresence: (presence: Presence) => commands.setPresence({ presence }),
  team: () => commands.team(),
  invite: (email: string, role: string) => commands.invite({ email, role }),
  mailDns: () => commands.mailDns(),
  mailDnsCheck: () => commands.mailDnsCheck(),
  resendInvitation: (userId: number) => commands.resendInvitation({ userId }),
  changeRole: (userId: number, role: string) => commands.changeRole({ userId, role }),
  removeMember: (userId: number) => commands.removeMember({ userId }),
  getPrefs: () => commands.getPrefs(),
  setPrefs: (prefs: LocalPrefs) => commands.setPrefs({ prefs }),
  playTestSound: (sound: SoundChoice, volume: number) => commands.playTestSound({ sound, volume }),
  reconnectNow: () => commands.reconnectNow(),
  quit: () => commands.quit(),
};

export function onCoreEvent(f: (e: CoreEvent) => void): Promise<UnlistenFn> {
  return commands.onCoreEvent(f);
}
