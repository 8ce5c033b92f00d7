/**
 * Where a requested path lands inside an instance's directory (protocol §11.5), or why it
 * may not be served. The directory belongs to the app, which may have put symlinks,
 * FIFOs or odd names anywhere in it: the decision is taken on real paths (every link
 * resolved), compared by prefix with the real root, never on the text as given.
 */
import { lstat, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';

export type Resolution =
  | { readonly kind: 'ok'; readonly root: string; readonly target: string }
  | { readonly kind: 'forbidden'; readonly why: string }
  | { readonly kind: 'missing' }
  /** The instance's directory itself is not there (a crash record still being moved, say). */
  | { readonly kind: 'no-root' };

type Segments = { readonly ok: true; readonly segments: string[] } | { readonly ok: false; readonly why: string };

/** Undoing percent-encoding this many times catches `%252e%252e` and the like. */
const DECODE_ROUNDS = 3;

/** Every reading of a segment a careless layer might make of it: as given, then decoded. */
function readings(segment: string): string[] {
  const out = [segment];
  let s = segment;
  for (let i = 0; i < DECODE_ROUNDS; i++) {
    let next: string;
    try {
      next = decodeURIComponent(s);
    } catch {
      break;
    }
    if (next === s) break;
    out.push(next);
    s = next;
  }
  return out;
}

/**
 * Pure: the requested path as segments below the root. An absolute path counts from the
 * instance's root (as dea_ng joined it), never from the host's. Refused: NUL bytes, `..`,
 * and any segment that would decode to `..` or to something holding a `/` or NUL.
 */
export function requestedSegments(requested: string): Segments {
  if (requested.includes('\0')) return { ok: false, why: 'nul byte' };
  const segments: string[] = [];
  for (const segment of requested.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return { ok: false, why: 'dot-dot' };
    const hidden = readings(segment).slice(1);
    if (hidden.some((r) => r === '..' || r === '.' || r.includes('/') || r.includes('\0'))) return { ok: false, why: 'encoded traversal' };
    segments.push(segment);
  }
  return { ok: true, segments };
}

/** Whether `path` is `root` or below it; both must be real (resolved) paths. */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * The real path of `requested` inside `root`, resolved one segment at a time: each step
 * must stay inside, so a link out is refused even where what lies beyond it is missing
 * (404 there would tell a client which host paths exist). A dangling or looping link is
 * refused too: where it points is none of the client's business.
 */
export async function resolveInside(root: string, requested: string): Promise<Resolution> {
  const parsed = requestedSegments(requested);
  if (!parsed.ok) return { kind: 'forbidden', why: parsed.why };
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    return { kind: 'no-root' };
  }
  let current = realRoot;
  for (const segment of parsed.segments) {
    const next = join(current, segment);
    let real: string;
    try {
      real = await realpath(next);
    } catch (err) {
      if (code(err) === 'ELOOP') return { kind: 'forbidden', why: 'symlink loop' };
      if (await lstat(next).then((st) => st.isSymbolicLink(), () => false)) return { kind: 'forbidden', why: 'dangling symlink' };
      return { kind: 'missing' };
    }
    if (!isInside(realRoot, real)) return { kind: 'forbidden', why: 'leaves the instance directory' };
    current = real;
  }
  return { kind: 'ok', root: realRoot, target: current };
}
