// REST calls to the server's widget endpoints.

import { isObject } from './types';

/** The server answered with an error (`{"error": {"code", "message"}}`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }

  /** Worth trying again later with the same request. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

/** The request did not reach the server or its answer did not come back. */
export class NetworkError extends Error {}

/** An upload under way: its answer, and a way to stop it. */
export interface Upload<T> {
  promise: Promise<T>;
  abort(): void;
}

/** The parsed answer of a request, or the ApiError it stands for. */
function answer<T>(status: number, statusText: string, text: string, retryAfter: string | null): T {
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (status < 200 || status > 299) {
    const err = isObject(data) && isObject(data.error) ? data.error : {};
    const code = typeof err.code === 'string' ? err.code : `http_${status}`;
    const message = typeof err.message === 'string' && err.message ? err.message : statusText || code;
    const ra = Number(retryAfter);
    throw new ApiError(status, code, message, ra > 0 ? ra * 1000 : null);
  }
  return data as T;
}

export class Api {
  token: string | null = null;

  constructor(readonly base: string) {}

  url(path: string): string {
    return this.base + path.replace(/^\//, '');
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.token) headers['X-Visitor-Token'] = this.token;
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
        mode: 'cors',
      });
      text = await res.text();
    } catch (e) {
      throw new NetworkError(e instanceof Error ? e.message : String(e));
    }
    return answer<T>(res.status, res.statusText, text, res.headers.get('Retry-After'));
  }

  /** POSTs a file's raw bytes with XMLHttpRequest (fetch cannot report upload
   *  progress); `progress` gets the share sent so far, 0 to 1. */
  upload<T>(path: string, file: Blob, progress: (share: number) => void): Upload<T> {
    const xhr = new XMLHttpRequest();
    const promise = new Promise<T>((resolve, reject) => {
      xhr.open('POST', this.url(path));
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      if (this.token) xhr.setRequestHeader('X-Visitor-Token', this.token);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && e.total > 0) progress(e.loaded / e.total);
      };
      xhr.onload = () => {
        try {
          resolve(answer<T>(xhr.status, xhr.statusText, xhr.responseText, xhr.getResponseHeader('Retry-After')));
        } catch (e) {
          reject(e);
        }
      };
      xhr.onerror = xhr.ontimeout = () => reject(new NetworkError('upload failed'));
      xhr.onabort = () => reject(new NetworkError('upload aborted'));
      xhr.send(file);
    });
    return { promise, abort: () => xhr.abort() };
  }
}
