// Tiny DOM helpers. Text goes in only through textContent / createTextNode:
// nothing the server or the visitor wrote is ever parsed as HTML.

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An inline icon from constant path data (24×24 viewBox). */
export function icon(paths: string[], filled = false): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('fill', filled ? 'currentColor' : 'none');
  if (!filled) {
    svg.setAttribute('stroke', 'currentColor');
    svg.setAttribute('stroke-width', '2');
    svg.setAttribute('stroke-linecap', 'round');
    svg.setAttribute('stroke-linejoin', 'round');
  }
  for (const d of paths) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    svg.appendChild(p);
  }
  return svg;
}

export const ICON_CHAT = [
  'M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z',
];
export const ICON_CLOSE = ['M6 6l12 12', 'M18 6L6 18'];
export const ICON_DOWN = ['M6 9l6 6 6-6'];
export const ICON_CLIP = [
  'M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5',
];
export const ICON_FILE = ['M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z', 'M14 2v6h6'];
export const ICON_SEND = ['M3.4 20.4l17.5-7.5a1 1 0 0 0 0-1.8L3.4 3.6a1 1 0 0 0-1.4 1.2L4.5 12l-2.5 7.2a1 1 0 0 0 1.4 1.2zM4.5 12H13'];

/** Only http(s) URLs, made absolute against the server's base. */
export function safeUrl(url: string | null | undefined, base: string): string | null {
  if (!url) return null;
  try {
    const u = new URL(url, base);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

export function initials(name: string | null | undefined): string {
  const parts = (name || '').trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '?';
  const first = Array.from(parts[0])[0] || '';
  const second = parts.length > 1 ? Array.from(parts[parts.length - 1])[0] || '' : '';
  return (first + second).toUpperCase();
}

/** A round avatar: the image when there is one (initials if it fails to load). */
export function avatar(name: string | null, url: string | null, base: string): HTMLElement {
  const box = el('span', 'sb-avatar');
  const src = safeUrl(url, base);
  const fallback = () => {
    box.textContent = initials(name);
  };
  if (src) {
    const img = el('img');
    img.alt = name || '';
    img.decoding = 'async';
    img.referrerPolicy = 'no-referrer';
    img.addEventListener('error', fallback, { once: true });
    img.src = src;
    box.appendChild(img);
  } else {
    fallback();
  }
  if (name) box.title = name;
  return box;
}

/** "840 B", "12 KB", "1.4 MB" in the visitor's language (`units`: B, KB, MB, GB). */
export function humanSize(bytes: number, locale: string, units: readonly string[]): string {
  let n = Math.max(0, bytes);
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  const num = new Intl.NumberFormat(locale, { maximumFractionDigits: i && n < 10 ? 1 : 0 }).format(n);
  return `${num}\u00a0${units[i]}`;
}

/** Images the server shows inline (everything else is a download). */
export function isInlineImage(type: string): boolean {
  return /^image\/(png|jpeg|gif|webp)$/i.test(type);
}
