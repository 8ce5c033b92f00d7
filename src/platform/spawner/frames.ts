/**
 * The spawn helper's wire format (libexec/spawner/dea-spawner.c), both directions: a
 * 4-byte little-endian body length, then NUL-terminated fields. Pure: no I/O.
 */

/** Bodies past this are refused by the helper; the agent never builds one. */
export const MAX_BODY = 1 << 20;

/** One frame of `fields`. A field holding a NUL cannot be framed (nor exec'd): refused. */
export function encodeFrame(fields: readonly string[]): Buffer {
  for (const f of fields) if (f.includes('\0')) throw new Error('a field holds a NUL byte');
  const body = Buffer.from(fields.map((f) => `${f}\0`).join(''), 'utf8');
  if (body.length > MAX_BODY) throw new Error(`request of ${body.length} bytes is over the helper's ${MAX_BODY}`);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames' fields; keeps what is incomplete for the next push. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** The complete frames now available, each as its fields. */
  push(chunk: Buffer): string[][] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: string[][] = [];
    let at = 0;
    while (this.pending.length - at >= 4) {
      const len = this.pending.readUInt32LE(at);
      if (this.pending.length - at - 4 < len) break;
      frames.push(fieldsOf(this.pending.subarray(at + 4, at + 4 + len)));
      at += 4 + len;
    }
    this.pending = this.pending.subarray(at);
    return frames;
  }
}

function fieldsOf(body: Buffer): string[] {
  const text = body.toString('utf8');
  const fields = text.split('\0');
  fields.pop(); // after the last terminator
  return fields;
}

/** What the helper answers, parsed. */
export type Reply =
  | { readonly kind: 'ok'; readonly id: number }
  | { readonly kind: 'pid'; readonly id: number; readonly pid: number }
  | { readonly kind: 'err'; readonly id: number; readonly errno: number; readonly what: string }
  | { readonly kind: 'inodes'; readonly id: number; readonly inodes: readonly string[] }
  | { readonly kind: 'exit'; readonly pid: number; readonly code: number | null; readonly signal: number | null }
  | { readonly kind: 'unknown'; readonly fields: readonly string[] };

export function parseReply(f: readonly string[]): Reply {
  const id = Number(f[0]);
  const num = (i: number) => Number(f[i]);
  switch (f[1]) {
    case 'ok':
      if (f.length === 2 && id > 0) return { kind: 'ok', id };
      break;
    case 'pid':
      if (f.length === 3 && id > 0 && num(2) > 0) return { kind: 'pid', id, pid: num(2) };
      break;
    case 'err':
      if (f.length === 4 && id > 0) return { kind: 'err', id, errno: num(2), what: f[3]! };
      break;
    case 'inodes':
      if (id > 0 && f.slice(2).every((x) => /^\d+$/.test(x))) return { kind: 'inodes', id, inodes: f.slice(2) };
      break;
    case 'exit':
      if (f.length === 5 && id === 0 && num(2) > 0) {
        const code = num(3);
        const signal = num(4);
        return { kind: 'exit', pid: num(2), code: code < 0 ? null : code, signal: signal > 0 ? signal : null };
      }
      break;
  }
  return { kind: 'unknown', fields: f };
}

export interface SpawnRequest {
  /** Absolute path of the program: no PATH search. */
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Opened for appending (0640, O_NOFOLLOW) as the child's stdout and stderr. */
  readonly stdoutPath: string;
  readonly stderrPath: string;
}

/** The fields of a spawn request after its id. */
export function spawnFields(req: SpawnRequest): string[] {
  const argv = [req.file, ...req.args];
  const env = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
  return ['spawn', req.cwd, req.stdoutPath, req.stderrPath, String(argv.length), ...argv, String(env.length), ...env];
}
