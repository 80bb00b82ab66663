// The files attached in the composer before the message goes: each one starts
// uploading at once and shows as a chip (a preview or a file icon, name, size, a
// progress bar, × to remove). A failed upload says why and, when trying again can
// help, offers Retry; a file the server refuses for good (too large, cannot be
// sent) does not. The message carries the ids of the uploaded ones.

import { ApiError, type Upload } from './api';
import { el, humanSize, icon, ICON_CLOSE, ICON_FILE, isInlineImage, safeUrl } from './dom';
import type { Strings } from './i18n';
import type { Attachment } from './types';

/** Files one message may carry (API.md). */
export const MAX_FILES = 10;

export type Uploader = (file: File, progress: (share: number) => void) => Upload<Attachment>;

interface Item {
  /** What to upload; null for a file given back from a refused message. */
  file: File | null;
  /** The server's answer once uploaded. */
  done: Attachment | null;
  /** The upload under way. */
  up: Upload<Attachment> | null;
  failed: boolean;
  /** An object URL of the image, for the preview. */
  preview: string | null;
  chip: HTMLElement;
  note: HTMLElement;
  bar: HTMLElement;
  retry: HTMLButtonElement;
}

export class Tray {
  private items: Item[] = [];

  constructor(
    private readonly box: HTMLElement,
    /** The widget's language (settings may change it). */
    public t: Strings,
    public locale: string,
    private readonly base: string,
    private readonly upload: Uploader,
    /** Something changed: a file added, uploaded, failed or removed. */
    private readonly changed: () => void,
  ) {}

  /** Adds files and starts their uploads; false when some were left out
   *  (more than MAX_FILES in all). */
  add(files: File[]): boolean {
    const room = MAX_FILES - this.items.length;
    for (const f of files.slice(0, Math.max(0, room))) this.start(this.chip(f, null));
    this.update();
    return files.length <= room;
  }

  /** Files of a message the server refused, back in the composer. */
  restore(files: Attachment[]): void {
    for (const a of files.slice(0, MAX_FILES - this.items.length)) this.chip(null, a);
    this.update();
  }

  /** Some upload is still under way. */
  uploading(): boolean {
    return this.items.some((i) => i.up);
  }

  /** Some upload failed (and the file was neither retried nor removed). */
  failed(): boolean {
    return this.items.some((i) => i.failed);
  }

  /** Files that will go with the message: uploaded or on their way. */
  count(): number {
    return this.items.filter((i) => !i.failed).length;
  }

  /** The uploaded files, in the order they were attached. */
  ready(): Attachment[] {
    return this.items.flatMap((i) => (i.done ? [i.done] : []));
  }

  /** Empties the tray (the message took the files). */
  clear(): void {
    for (const i of [...this.items]) this.remove(i);
    this.box.hidden = true;
  }

  private update(): void {
    this.box.hidden = !this.items.length;
    this.changed();
  }

  private chip(file: File | null, done: Attachment | null): Item {
    const t = this.t;
    const name = file ? file.name || 'image' : (done as Attachment).name;
    const type = file ? file.type : (done as Attachment).content_type;
    const chip = el('div', 'sb-chip');
    chip.setAttribute('role', 'listitem');
    chip.dataset.state = 'done';
    const thumb = el('span', 'sb-chip-thumb');
    const preview = file && isInlineImage(type) ? URL.createObjectURL(file) : null;
    const src = preview || safeUrl(done?.thumbnail_url, this.base);
    if (src) {
      const img = el('img');
      img.alt = '';
      img.src = src;
      thumb.appendChild(img);
    } else {
      thumb.appendChild(icon(ICON_FILE));
    }
    const body = el('span', 'sb-chip-body');
    const label = el('span', 'sb-chip-name', name);
    label.title = name;
    const note = el('span', 'sb-chip-note', this.size(file ? file.size : (done as Attachment).size));
    note.setAttribute('aria-live', 'polite');
    const bar = el('span', 'sb-bar');
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-label', t.uploading(name));
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.hidden = true;
    bar.appendChild(el('span'));
    body.append(label, note, bar);
    const retry = el('button', 'sb-chip-retry', t.retry);
    retry.type = 'button';
    retry.hidden = true;
    const x = el('button', 'sb-chip-x');
    x.type = 'button';
    x.setAttribute('aria-label', t.remove(name));
    x.title = t.remove(name);
    x.appendChild(icon(ICON_CLOSE));
    chip.append(thumb, body, retry, x);
    this.box.appendChild(chip);

    const item: Item = { file, done, up: null, failed: false, preview, chip, note, bar, retry };
    retry.addEventListener('click', () => {
      this.start(item);
      this.update();
    });
    x.addEventListener('click', () => {
      this.remove(item);
      this.update();
    });
    this.items.push(item);
    return item;
  }

  private size(bytes: number): string {
    return humanSize(bytes, this.locale, this.t.sizeUnits);
  }

  private progress(item: Item, share: number): void {
    const pct = Math.round(Math.min(1, Math.max(0, share)) * 100);
    (item.bar.firstChild as HTMLElement).style.width = `${pct}%`;
    item.bar.setAttribute('aria-valuenow', String(pct));
  }

  private start(item: Item): void {
    const file = item.file;
    if (!file) return;
    item.failed = false;
    item.chip.dataset.state = 'uploading';
    item.chip.removeAttribute('title');
    item.note.textContent = this.size(file.size);
    item.retry.hidden = true;
    item.bar.hidden = false;
    this.progress(item, 0);
    const up = this.upload(file, (share) => this.progress(item, share));
    item.up = up;
    up.promise.then(
      (a) => {
        if (item.up !== up) return; // removed meanwhile
        item.up = null;
        item.done = a;
        item.chip.dataset.state = 'done';
        item.bar.hidden = true;
        this.update();
      },
      (e: unknown) => {
        if (item.up !== up) return;
        item.up = null;
        item.failed = true;
        item.chip.dataset.state = 'failed';
        item.bar.hidden = true;
        const [text, again] = this.why(e);
        item.note.textContent = text;
        if (e instanceof Error) item.chip.title = e.message;
        item.retry.hidden = !again;
        this.update();
      },
    );
  }

  /** What to say about a failed upload, and whether trying again may help. */
  private why(e: unknown): [string, boolean] {
    const t = this.t;
    if (e instanceof ApiError) {
      if (e.status === 413) return [t.fileTooLarge, false];
      // 422 (an empty file, a bad name) and the like: the same file fails again.
      if (!e.transient && e.status !== 401) return [`${t.fileRejected}: ${e.message}`, false];
      return [`${t.uploadFailed}: ${e.message}`, true];
    }
    return [t.uploadFailed, true];
  }

  private remove(item: Item): void {
    const up = item.up;
    item.up = null; // so its answer is ignored
    up?.abort();
    if (item.preview) URL.revokeObjectURL(item.preview);
    item.chip.remove();
    this.items = this.items.filter((i) => i !== item);
  }
}
