/**
 * Validates a droplet (.tgz) before anything is extracted from it.
 *
 * The whole archive is read once with node-tar's streaming parser in strict mode and
 * refused if any entry could land, or make a later write land, outside the instance
 * directory. GNU tar, which does the extraction (unpack.ts), has its own protections;
 * this scan is the policy we control, and it also refuses what GNU tar would merely
 * warn about (absolute names, devices, unknown types) and what the two parsers could
 * read differently (GNU sparse headers, global pax paths, pax values with newlines).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Parser, type ReadEntry } from 'tar';
import { AgentError, ErrorCodes } from '../errors.js';

export interface ScanResult {
  /** Number of file-system entries (pax and long-name headers not counted). */
  entries: number;
  /** Bytes of regular file content once unpacked. */
  bytes: number;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
/** Like the kernel's MAXSYMLINKS: resolution deeper than this is refused as a loop. */
const MAX_LINK_HOPS = 40;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function unsafe(entry: string, why: string): AgentError {
  return new AgentError(ErrorCodes.DROPLET_UNSAFE, `droplet refused: entry ${JSON.stringify(entry)} ${why}`);
}

function corrupt(why: string, cause?: unknown): AgentError {
  return new AgentError(ErrorCodes.DROPLET_CORRUPT, `droplet is not a valid gzipped tar archive: ${why}`, { cause });
}

/**
 * The entry's path relative to the root, as segments (`[]` is the root itself).
 * `./` prefixes, doubled and trailing slashes disappear; `..` and absolute paths throw.
 */
export function entrySegments(raw: string): string[] {
  if (raw === '') throw unsafe(raw, 'has an empty name');
  if (CONTROL_CHARS.test(raw)) throw unsafe(raw, 'has a control character in its name');
  if (raw.startsWith('/')) throw unsafe(raw, 'has an absolute path');
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw unsafe(raw, 'has a ".." path segment');
  return segments;
}

/**
 * What the archive builds, in order. A path becomes a directory implicitly when a later
 * entry lives under it; GNU tar creates such parents.
 */
class Tree {
  readonly symlinks = new Map<string, string>();
  readonly files = new Set<string>();
  readonly seen = new Set<string>();

  /** Rules shared by every entry: nothing passes through or replaces a symlink. */
  checkPlacement(raw: string, segments: readonly string[]): void {
    for (let i = 1; i < segments.length; i++) {
      const ancestor = segments.slice(0, i).join('/');
      if (this.symlinks.has(ancestor)) throw unsafe(raw, `passes through symlink "${ancestor}"`);
    }
    if (this.symlinks.has(segments.join('/'))) throw unsafe(raw, 'replaces an earlier symlink');
  }

  record(segments: readonly string[]): void {
    for (let i = 1; i <= segments.length; i++) this.seen.add(segments.slice(0, i).join('/'));
  }
}

function checkSymlink(tree: Tree, raw: string, segments: readonly string[], target: string | undefined): void {
  const key = segments.join('/');
  if (segments.length === 0) throw unsafe(raw, 'is a symlink at the root of the droplet');
  if (!target) throw unsafe(raw, 'is a symlink without a target');
  if (CONTROL_CHARS.test(target)) throw unsafe(raw, 'is a symlink whose target has a control character');
  if (target.startsWith('/')) throw unsafe(raw, `is a symlink to an absolute path (${target})`);
  // Replacing what the archive already built (a file or a directory with children)
  // would redirect paths that earlier checks treated as plain directories.
  if (tree.seen.has(key)) throw unsafe(raw, 'is a symlink that replaces an earlier entry');
  if (lexicallyEscapes(segments.slice(0, -1), target)) throw unsafe(raw, `is a symlink pointing outside the droplet (${target})`);
  tree.symlinks.set(key, target);
}

function checkHardlink(tree: Tree, raw: string, segments: readonly string[], target: string | undefined): void {
  if (segments.length === 0) throw unsafe(raw, 'is a hardlink at the root of the droplet');
  if (!target) throw unsafe(raw, 'is a hardlink without a target');
  if (target.startsWith('/')) throw unsafe(raw, `is a hardlink to an absolute path (${target})`);
  let targetKey: string;
  try {
    targetKey = entrySegments(target).join('/');
  } catch {
    throw unsafe(raw, `is a hardlink whose target escapes the droplet (${target})`);
  }
  if (!tree.files.has(targetKey)) throw unsafe(raw, `is a hardlink to "${target}", which names no earlier regular file`);
  tree.files.add(segments.join('/'));
}

function lexicallyEscapes(dir: readonly string[], target: string): boolean {
  let depth = dir.length;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

/**
 * Resolves a symlink through every symlink of the finished archive, as the kernel would
 * once it is unpacked, and reports whether it ever leaves the root. Each link alone may
 * look harmless (`a/x -> ..`, `a/e -> x/../y`) while the chain climbs out.
 */
function resolvesOutside(tree: Tree, linkPath: string, target: string): string | null {
  const stack = linkPath.split('/').slice(0, -1);
  const queue = target.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return 'resolves outside the droplet';
      stack.pop();
      continue;
    }
    stack.push(part);
    const next = tree.symlinks.get(stack.join('/'));
    if (next === undefined) continue;
    if ((hops += 1) > MAX_LINK_HOPS) return 'is part of a symlink loop';
    if (next.startsWith('/')) return 'resolves to an absolute path';
    stack.pop();
    queue.unshift(...next.split('/'));
  }
  return null;
}

/** GNU tar applies a global pax `path` to every later member; node-tar ignores it. */
function checkGlobalHeader(entry: ReadEntry): void {
  const g = entry.globalExtended;
  if (g && (g.path !== undefined || g.linkpath !== undefined || g.size !== undefined)) {
    throw unsafe(entry.path, 'follows a global pax header that sets path, linkpath or size');
  }
}

function checkEntry(tree: Tree, entry: ReadEntry): void {
  checkGlobalHeader(entry);
  const raw = entry.path;
  const segments = entrySegments(raw);
  tree.checkPlacement(raw, segments);
  const key = segments.join('/');
  switch (entry.type) {
    case 'Directory':
      break;
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      if (segments.length === 0) throw unsafe(raw, 'is a file at the root of the droplet');
      tree.files.add(key);
      break;
    case 'SymbolicLink':
      checkSymlink(tree, raw, segments, entry.linkpath);
      break;
    case 'Link':
      checkHardlink(tree, raw, segments, entry.linkpath);
      break;
    default:
      throw unsafe(raw, `has type ${entry.type}; only files, directories and links are allowed`);
  }
  tree.record(segments);
}

/**
 * Pax headers are parsed naively by node-tar (line by line) but by record length by GNU
 * tar, so a value holding a newline can make the two see different names. GNU sparse
 * records rename the member in GNU tar only. Both are refused.
 */
function checkPaxBody(body: string): void {
  const text = body.replace(/\0+$/, '');
  if (!text.includes('\n')) return; // a GNU long name or link name, checked with its entry
  let pos = 0;
  const bytes = Buffer.from(text, 'utf8');
  while (pos < bytes.length) {
    const space = bytes.indexOf(0x20, pos);
    const digits = space < 0 ? '' : bytes.subarray(pos, space).toString('latin1');
    const len = /^[0-9]{1,9}$/.test(digits) ? Number(digits) : 0;
    const record = len > 0 && space < pos + len ? bytes.subarray(space + 1, pos + len - 1).toString('utf8') : '';
    const eq = record.indexOf('=');
    if (eq <= 0 || pos + len > bytes.length || bytes[pos + len - 1] !== 0x0a) {
      throw unsafe('(extended header)', 'is a malformed pax extended header');
    }
    const key = record.slice(0, eq);
    if (key.startsWith('GNU.sparse')) throw unsafe('(extended header)', `uses GNU sparse files (${key}), which are not supported`);
    if (record.includes('\n')) throw unsafe('(extended header)', `has a newline in the value of "${key}"`);
    pos += len;
  }
}

function ignoredWhy(entry: ReadEntry): string {
  return entry.meta ? `is an oversized ${entry.type} header` : 'has an unsupported entry type';
}

async function assertGzip(tgzPath: string): Promise<void> {
  const fh = await open(tgzPath, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    if (bytesRead < 2 || buffer[0] !== 0x1f || buffer[1] !== 0x8b) throw corrupt('not gzip-compressed');
  } finally {
    await fh.close();
  }
}

/** Checks every entry and header the parser reports; the first problem goes to `fail`. */
function attachChecks(parser: Parser, tree: Tree, result: ScanResult, fail: (err: unknown) => void): void {
  const guarded = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      fail(err);
    }
  };
  parser.on('entry', (entry: ReadEntry) => {
    entry.resume(); // the content is not needed; let the parser move on
    guarded(() => {
      checkEntry(tree, entry);
      result.entries += 1;
      if (FILE_TYPES.has(entry.type)) result.bytes += entry.size;
    });
  });
  // node-tar skips types it does not know, but GNU tar extracts them as plain files.
  parser.on('ignoredEntry', (entry: ReadEntry) => fail(unsafe(entry.path, ignoredWhy(entry))));
  parser.on('meta', (body: string) => guarded(() => checkPaxBody(body)));
}

/**
 * Reads the whole droplet and refuses it (DROPLET_UNSAFE) if any entry is unsafe to
 * extract, or (DROPLET_CORRUPT) if it is not a complete, well-formed gzipped tar.
 */
export async function scanDroplet(tgzPath: string): Promise<ScanResult> {
  await assertGzip(tgzPath);
  const tree = new Tree();
  const result: ScanResult = { entries: 0, bytes: 0 };
  await new Promise<void>((resolve, reject) => {
    // The parser inflates and parses each chunk synchronously; small chunks keep every
    // slice of event-loop time short even when the content compresses very well.
    const input = createReadStream(tgzPath, { highWaterMark: 16 * 1024 });
    const parser = new Parser({ strict: true, brotli: false, zstd: false });
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      input.destroy();
      parser.abort(new Error('scan stopped')); // stops the inflater; the error it emits lands here and is ignored
      reject(err instanceof AgentError ? err : corrupt(err instanceof Error ? err.message : String(err), err));
    };
    attachChecks(parser, tree, result, fail);
    parser.on('error', fail);
    input.on('error', fail);
    parser.on('end', () => {
      const loose = findEscapingSymlink(tree);
      if (loose) fail(loose);
      else if (!failed) resolve();
    });
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
  return result;
}

function findEscapingSymlink(tree: Tree): AgentError | null {
  for (const [link, target] of tree.symlinks) {
    const why = resolvesOutside(tree, link, target);
    if (why) return unsafe(link, `is a symlink to "${target}" that ${why}`);
  }
  return null;
}
