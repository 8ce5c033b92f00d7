/** HTTP helpers for the directory server's tests (loopback only). */
import http from 'node:http';

export interface Fetched {
  readonly status: number;
  readonly body: string;
  readonly headers: Headers;
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

export interface Streamed {
  body(): string;
  status(): number;
  ended(): boolean;
  /** Hangs up (the client going away). */
  close(): void;
}

/** A GET whose body so far can be read while it still streams (a `?tail`). */
export function stream(url: string): Streamed {
  let body = '';
  let ended = false;
  let status = 0;
  const req = http.get(url, (res) => {
    status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    res.on('data', (c: string) => (body += c));
    res.on('end', () => (ended = true));
    res.on('error', () => (ended = true));
  });
  req.on('error', () => (ended = true));
  return { body: () => body, status: () => status, ended: () => ended, close: () => req.destroy() };
}
