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
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const err = isObject(data) && isObject(data.error) ? data.error : {};
      const code = typeof err.code === 'string' ? err.code : `http_${res.status}`;
      const message =
        typeof err.message === 'string' && err.message ? err.message : res.statusText || code;
      const ra = Number(res.headers.get('Retry-After'));
      throw new ApiError(res.status, code, message, ra > 0 ? ra * 1000 : null);
    }
    return data as T;
  }
}
