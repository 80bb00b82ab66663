// Greetings: "on pages like /pricing*, after 20 s (or when the visitor is about
// to leave), show a message from a colleague". This decides when one is due;
// the server decides whether it may show (each showing is counted against the
// rule's cap per visitor), the widget shows it.

import type { PublicGreeting } from './types';

/** `pattern` against a page's path and query: `*` is any run of characters,
 *  everything else is literal, and the whole address must match. */
export function matches(pattern: string, page: string): boolean {
  const re = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${re}$`).test(page);
}

/** This page's address as greetings see it: `/pricing?plan=pro` (no hash). */
export function currentPage(): string {
  return window.location.pathname + window.location.search;
}

export interface GreeterHandlers {
  /** Whether a greeting may show now (no conversation yet, …). */
  allowed(): boolean;
  /** Ask the server; true when it may show. */
  ask(g: PublicGreeting): Promise<boolean>;
  show(g: PublicGreeting): void;
}

export class Greeter {
  private rules: PublicGreeting[] = [];
  private page: string | null = null;
  /** When the visitor came to this page (delays count from here). */
  private pageAt = 0;
  /** Greetings asked for or shown on this page view (each at most once). */
  private tried = new Set<number>();
  /** One greeting per page view: one is being asked for, or was shown. */
  private busy = false;
  /** Counts page views, so an answer that comes after leaving is dropped. */
  private views = 0;
  private timers: number[] = [];
  private on = false;

  constructor(private readonly handlers: GreeterHandlers) {
    // Exit intent: the pointer leaves the document through its top edge
    // (towards the tabs and the address bar).
    document.addEventListener('mouseout', (e) => {
      if (!e.relatedTarget && e.clientY <= 0) this.due((g) => g.on_exit_intent);
    });
  }

  /** The rules in force (from the session or a live settings change). */
  setRules(rules: PublicGreeting[]): void {
    this.rules = rules;
    this.arm();
  }

  /** Starts looking (once the widget knows whether there is a conversation). */
  start(): void {
    this.on = true;
    this.navigated();
  }

  /** The page's address may have changed: a new page view starts when its
   *  path or query did (a hash alone is the same page). */
  navigated(): void {
    const page = currentPage();
    if (page === this.page) return;
    this.page = page;
    this.pageAt = Date.now();
    this.tried.clear();
    this.busy = false;
    this.views++;
    this.arm();
  }

  private arm(): void {
    for (const t of this.timers) window.clearTimeout(t);
    this.timers = [];
    if (!this.on || this.page === null) return;
    for (const g of this.rules) {
      if (g.on_exit_intent || this.tried.has(g.id) || !matches(g.url_pattern, this.page)) continue;
      const left = g.delay_seconds * 1000 - (Date.now() - this.pageAt);
      this.timers.push(window.setTimeout(this.overdue, Math.max(0, left)));
    }
  }

  /** Rules whose delay on this page has passed. */
  private readonly overdue = (): void =>
    // (a timer may fire a few milliseconds early by the clock)
    this.due((r) => !r.on_exit_intent && Date.now() - this.pageAt >= r.delay_seconds * 1000 - 20);

  /** The first rule `which` picks that matches this page and has not been tried here. */
  private due(which: (g: PublicGreeting) => boolean): void {
    const page = this.page;
    if (!this.on || page === null || this.busy || !this.handlers.allowed()) return;
    const g = this.rules.find((r) => which(r) && !this.tried.has(r.id) && matches(r.url_pattern, page));
    if (!g) return;
    this.tried.add(g.id);
    this.busy = true;
    const view = this.views;
    const current = () => this.views === view;
    this.handlers.ask(g).then(
      (yes) => {
        // Still on that page view, still no conversation.
        if (yes && current() && this.handlers.allowed()) this.handlers.show(g);
        // Refused (its cap, turned off): another rule due here may still show.
        else if (current()) this.free();
      },
      () => {
        if (current()) this.free();
      },
    );
  }

  private free(): void {
    this.busy = false;
    this.overdue();
  }
}
