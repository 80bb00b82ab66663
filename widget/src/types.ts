// The JSON shapes of API.md that the widget reads: generated from the Rust
// protocol crate (widget/src/generated/, scripts/gen-types.sh), plus the runtime
// guards the widget checks untrusted input with.

import type {
  Attachment,
  Message,
  PublicGreeting,
  PublicOperator,
  PublicWidget,
  StreamFrame,
  WidgetHistory,
  WidgetSession,
} from './generated/types';

export type {
  Attachment,
  Author,
  AuthorKind,
  Channel,
  ClientFrame,
  ErrorBody,
  Message,
  NewMessage,
  PageView,
  PublicGreeting,
  PublicOperator,
  PublicWidget,
  StreamFrame,
  WidgetContact,
  WidgetSessionRequest,
} from './generated/types';

/** `POST /api/v1/widget/session` answer. */
export type Session = WidgetSession;

/** `GET /api/v1/widget/messages` answer. */
export type MessageList = WidgetHistory;

/** A stream frame as the parser builds it: an event's `seq` may be left out. */
export type ServerFrame =
  | Exclude<StreamFrame, { type: 'event' }>
  | (Omit<Extract<StreamFrame, { type: 'event' }>, 'seq'> & { seq?: number });

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when `v` looks like a message; the widget ignores anything else. */
export function isMessage(v: unknown): v is Message {
  return (
    isObject(v) &&
    typeof v.id === 'number' &&
    typeof v.body === 'string' &&
    isObject(v.author) &&
    typeof v.author.kind === 'string'
  );
}

/** True when `v` looks like an attachment the widget can show (a name and a URL). */
export function isAttachment(v: unknown): v is Attachment {
  return isObject(v) && typeof v.id === 'number' && typeof v.name === 'string' && typeof v.url === 'string';
}

/** A message's attachments that look right; none when an older server sent no list. */
export function attachmentsOf(m: Message): Attachment[] {
  return Array.isArray(m.attachments) ? m.attachments.filter(isAttachment) : [];
}

function isOperator(v: unknown): v is PublicOperator {
  return isObject(v) && typeof v.name === 'string';
}

function isGreeting(v: unknown): v is PublicGreeting {
  return (
    isObject(v) &&
    typeof v.id === 'number' &&
    typeof v.url_pattern === 'string' &&
    typeof v.delay_seconds === 'number' &&
    typeof v.message === 'string' &&
    isOperator(v.from)
  );
}

/** The widget's settings from the server (a session or a `widget` frame), the
 *  parts that look wrong left out; null when it is not settings at all. */
export function widgetSettings(v: unknown): PublicWidget | null {
  if (!isObject(v) || typeof v.color !== 'string') return null;
  const text = (x: unknown) => (typeof x === 'string' ? x : '');
  return {
    color: v.color,
    title: text(v.title),
    welcome: text(v.welcome),
    away_text: text(v.away_text),
    position: v.position === 'left' ? 'left' : 'right',
    language: v.language === 'ru' || v.language === 'en' ? v.language : 'auto',
    email_prompt: v.email_prompt !== false,
    operators: Array.isArray(v.operators) ? v.operators.filter(isOperator) : [],
    greetings: Array.isArray(v.greetings) ? v.greetings.filter(isGreeting) : [],
  };
}
