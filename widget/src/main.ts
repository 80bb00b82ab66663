// Entry point of widget.js: find our own <script>, derive the server's base URL
// from its src, and mount the widget in a shadow root.

import { pickLocale } from './i18n';
import { Widget } from './widget';

declare global {
  interface Window {
    Switchboard?: { open(): void; close(): void; toggle(): void };
    __switchboardLoaded?: boolean;
  }
}

const SRC_RE = /\/widget\.js(?:[?#].*)?$/;

function findScript(): HTMLScriptElement | null {
  // document.currentScript is null for async scripts run after parsing, so
  // fall back to the last <script> whose src ends with /widget.js.
  const cur = document.currentScript;
  if (cur instanceof HTMLScriptElement && SRC_RE.test(cur.src)) return cur;
  const all = document.querySelectorAll<HTMLScriptElement>('script[src]');
  for (let i = all.length - 1; i >= 0; i--) {
    const s = all[i];
    if (s && SRC_RE.test(s.src)) return s;
  }
  return null;
}

const script = findScript();

function baseUrl(): string {
  const explicit = script?.dataset.server;
  const from = explicit || script?.src || window.location.href;
  try {
    // "https://chat.example.com/widget.js?v=2" → "https://chat.example.com/"
    return new URL(explicit ? from.replace(/\/?$/, '/') : '.', from).href;
  } catch {
    return `${window.location.origin}/`;
  }
}

function accent(): string | null {
  const c = script?.dataset.color;
  return c && window.CSS && CSS.supports('color', c) ? c : null;
}

function boot(): void {
  if (window.__switchboardLoaded) return;
  window.__switchboardLoaded = true;
  const host = document.createElement('switchboard-widget');
  document.body.appendChild(host);
  const widget = new Widget(host, {
    base: baseUrl(),
    locale: pickLocale(navigator.languages?.length ? navigator.languages : [navigator.language]),
    accent: accent(),
  });
  window.Switchboard = {
    open: () => widget.open(),
    close: () => widget.close(),
    toggle: () => widget.toggle(),
  };
  // Any element of the page with data-switchboard-open opens the chat.
  document.addEventListener('click', (e) => {
    const target = e.target instanceof Element ? e.target.closest('[data-switchboard-open]') : null;
    if (target) {
      e.preventDefault();
      widget.open();
    }
  });
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', boot, { once: true });
} else {
  boot();
}
