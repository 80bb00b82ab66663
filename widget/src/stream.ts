// The visitor's websocket: ready / event / reset frames, reconnect with
// exponential backoff and jitter, resume with `since=<last seq>`.

import { isObject, widgetSettings, type PublicWidget, type ServerFrame } from './types';

export interface StreamHandlers {
  /** `resumed`: the connection asked for `since` and events are being replayed. */
  ready(resumed: boolean): void;
  event(name: string, data: unknown): void;
  /** The server no longer has our `since`: reload over REST. */
  reset(): void;
  state(connected: boolean): void;
  /** The widget's settings changed (a `widget` frame). */
  widget(w: PublicWidget): void;
}

const MAX_DELAY_MS = 30_000;
const BASE_DELAY_MS = 500;

export function backoffDelay(attempt: number, base = BASE_DELAY_MS, max = MAX_DELAY_MS): number {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 16));
  // "Equal jitter": half fixed, half random, so reconnects of many visitors spread out.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function parseFrame(raw: unknown): ServerFrame | null {
  if (typeof raw !== 'string') return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(v)) return null;
  switch (v.type) {
    case 'ready':
      return { type: 'ready', seq: typeof v.seq === 'number' ? v.seq : 0 };
    case 'reset':
      return { type: 'reset' };
    case 'widget': {
      const widget = widgetSettings(v.widget);
      return widget ? { type: 'widget', widget } : null;
    }
    case 'event':
      if (typeof v.event !== 'string') return null;
      return {
        type: 'event',
        seq: typeof v.seq === 'number' ? v.seq : undefined,
        event: v.event,
        data: v.data,
      };
    default:
      return null;
  }
}

export class Stream {
  private ws: WebSocket | null = null;
  /** Seq of the last event applied; null before the first `ready`. */
  private seq: number | null = null;
  private attempt = 0;
  private timer: number | undefined;
  private running = false;
  private live = false;

  constructor(
    private readonly urlFor: (since: number | null) => string,
    private readonly on: StreamHandlers,
  ) {}

  get connected(): boolean {
    return this.live;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    window.addEventListener('online', this.kick);
    this.connect();
  }

  stop(): void {
    this.running = false;
    window.removeEventListener('online', this.kick);
    window.clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.setLive(false);
  }

  /** Forget the position: the next connection starts fresh (history reloads over REST). */
  forget(): void {
    this.seq = null;
  }

  /** Reconnect now instead of waiting out the backoff (network came back). */
  readonly kick = (): void => {
    if (!this.running || this.ws) return;
    window.clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  };

  send(frame: unknown): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.live) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private setLive(v: boolean): void {
    if (this.live === v) return;
    this.live = v;
    this.on.state(v);
  }

  private connect(): void {
    if (!this.running) return;
    const since = this.seq;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.urlFor(since));
    } catch {
      this.schedule();
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      const frame = parseFrame(ev.data);
      if (!frame) return;
      if (frame.type === 'ready') {
        this.attempt = 0;
        // A fresh connection starts at the latest seq (history comes over REST);
        // a resumed one keeps its position: the replay that follows moves it.
        if (this.seq === null) this.seq = frame.seq;
        this.setLive(true);
        this.on.ready(since !== null);
      } else if (frame.type === 'reset') {
        this.seq = null;
        this.on.reset();
      } else if (frame.type === 'widget') {
        // Outside the event sequence: it moves no cursor.
        this.on.widget(frame.widget);
      } else {
        if (frame.seq !== undefined) {
          if (this.seq !== null && frame.seq <= this.seq) return; // already applied
          this.seq = frame.seq;
        }
        this.on.event(frame.event, frame.data);
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setLive(false);
      this.schedule();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private schedule(): void {
    if (!this.running) return;
    window.clearTimeout(this.timer);
    const delay = backoffDelay(this.attempt++);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }
}
