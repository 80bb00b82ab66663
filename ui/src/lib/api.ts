// Typed wrappers over the Tauri commands of src-tauri/src/commands.rs.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  AppInfo,
  Conversation,
  ConversationList,
  CoreEvent,
  Filter,
  LocalPrefs,
  MailDns,
  DnsCheck,
  MessageLog,
  OutboxItem,
  Presence,
  SessionInfo,
  SoundChoice,
  User,
} from './types';

export const api = {
  appInfo: () => invoke<AppInfo>('app_info'),
  restore: () => invoke<SessionInfo | null>('restore'),
  signIn: (server: string, email: string, password: string, allowHttp: boolean) =>
    invoke<SessionInfo>('sign_in', { server, email, password, allowHttp }),
  signOut: () => invoke<void>('sign_out'),
  switchAccount: (key: string) => invoke<SessionInfo | null>('switch_account', { key }),
  sessionInfo: () => invoke<SessionInfo | null>('session_info'),
  listConversations: (filter: Filter) => invoke<ConversationList>('list_conversations', { filter }),
  loadClosed: (more: boolean) => invoke<boolean>('load_closed', { more }),
  getConversation: (id: number) => invoke<Conversation | null>('get_conversation', { id }),
  cachedMessages: (id: number) => invoke<MessageLog>('cached_messages', { id }),
  getMessages: (id: number) => invoke<MessageLog>('get_messages', { id }),
  olderMessages: (id: number) => invoke<MessageLog>('older_messages', { id }),
  sendMessage: (conversationId: number, body: string) =>
    invoke<OutboxItem>('send_message', { conversationId, body }),
  outbox: () => invoke<OutboxItem[]>('outbox'),
  retryOutbox: (clientId: string, discard: boolean) =>
    invoke<void>('retry_outbox', { clientId, discard }),
  assign: (id: number, assigneeId: number | null) =>
    invoke<Conversation>('assign_conversation', { id, assigneeId }),
  setStatus: (id: number, status: 'open' | 'closed') =>
    invoke<Conversation>('set_conversation_status', { id, status }),
  markRead: (id: number) => invoke<void>('mark_read', { id }),
  sendTyping: (id: number) => invoke<void>('send_typing', { id }),
  setView: (conversationId: number | null) => invoke<void>('set_view', { conversationId }),
  me: () => invoke<User>('me'),
  updateMe: (name: string | null, locale: string | null) =>
    invoke<User>('update_me', { name, locale }),
  changePassword: (current: string, next: string) =>
    invoke<User>('change_password', { current, new: next }),
  uploadAvatar: (bytes: Uint8Array) => invoke<User>('upload_avatar', bytes),
  deleteAvatar: () => invoke<User>('delete_avatar'),
  setNotifications: (sound: boolean, email: boolean) =>
    invoke<User>('set_notifications', { sound, email }),
  setPresence: (presence: Presence) => invoke<User>('set_presence', { presence }),
  team: () => invoke<User[]>('team'),
  invite: (email: string, role: string) => invoke<User>('invite', { email, role }),
  mailDns: () => invoke<MailDns>('mail_dns'),
  mailDnsCheck: () => invoke<DnsCheck>('mail_dns_check'),
  resendInvitation: (userId: number) => invoke<void>('resend_invitation', { userId }),
  changeRole: (userId: number, role: string) => invoke<User>('change_role', { userId, role }),
  removeMember: (userId: number) => invoke<void>('remove_member', { userId }),
  getPrefs: () => invoke<LocalPrefs>('get_prefs'),
  setPrefs: (prefs: LocalPrefs) => invoke<LocalPrefs>('set_prefs', { prefs }),
  playTestSound: (sound: SoundChoice, volume: number) =>
    invoke<void>('play_test_sound', { sound, volume }),
  reconnectNow: () => invoke<void>('reconnect_now'),
  quit: () => invoke<void>('quit'),
};

export function onCoreEvent(f: (e: CoreEvent) => void): Promise<UnlistenFn> {
  return listen<CoreEvent>('core', (ev) => f(ev.payload));
}
