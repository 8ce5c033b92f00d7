/** A whole file, or one range of it, from an opened handle (protocol §11.5). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseRange } from './range.js';

const TEXT = new Set(['.log', '.txt', '.json', '.yml', '.yaml', '.md', '.csv']);

function contentType(path: string): string {
  return TEXT.has(extname(path).toLowerCase()) || /\.log\.\d+$/.test(path) ? 'text/plain; charset=utf-8' : 'application/octet-stream';
}

/** Sends the file and closes the handle, whatever happens. */
export async function sendFile(req: IncomingMessage, res: ServerResponse, handle: FileHandle, path: string, size: number): Promise<void> {
  const range = parseRange(req.headers.range, size);
  const common = { 'Accept-Ranges': 'bytes', 'Content-Type': contentType(path), 'X-Content-Type-Options': 'nosniff' };
  if (range.kind === 'unsatisfiable') {
    await handle.close();
    res.writeHead(416, { ...common, 'Content-Range': `bytes */${size}` });
    res.end();
    return;
  }
  const { start, end } = range.kind === 'partial' ? range : { start: 0, end: size - 1 };
  const headers = { ...common, 'Content-Length': String(Math.max(0, end - start + 1)) };
  if (range.kind === 'partial') res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}` });
  else res.writeHead(200, headers);
  if (req.method === 'HEAD' || size === 0) {
    await handle.close();
    res.end();
    return;
  }
  // The handle closes itself when the stream ends or is destroyed (a client gone mid-way).
  await pipeline(handle.createReadStream({ start, end }), res).catch(() => undefined);
}
