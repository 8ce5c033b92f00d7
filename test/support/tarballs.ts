/**
 * Builds droplet tarballs, valid and hostile, at test time.
 *
 * Headers are written by hand (POSIX ustar, plus pax records when a name is long or a
 * fixture wants one) because archivers, node-tar's Pack included, sanitise exactly the
 * entries these fixtures must contain: `../x`, `/abs`, device nodes, links pointing out.
 */
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export type EntrySpec =
  | { type: 'file'; path: string; content?: string | Buffer; mode?: number; uid?: number }
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'hardlink'; path: string; target: string }
  | { type: 'char' | 'block'; path: string; major: number; minor: number }
  | { type: 'fifo'; path: string }
  /** Any typeflag, for types no archiver would write on purpose. */
  | { type: 'raw'; path: string; typeflag: string; content?: string | Buffer }
  /** A pax extended header ('x', or 'g' when global) applying to the next entry. */
  | { type: 'pax'; records: ReadonlyArray<readonly [string, string]>; global?: boolean };

const BLOCK = 512;
const TYPEFLAGS = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

interface RawHeader {
  name: string;
  typeflag: string;
  size?: number;
  mode?: number;
  uid?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

function writeString(buf: Buffer, off: number, len: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > len) throw new Error(`tarballs: "${value}" does not fit in ${len} bytes`);
  bytes.copy(buf, off);
}

function writeOctal(buf: Buffer, off: number, len: number, value: number): void {
  writeString(buf, off, len, value.toString(8).padStart(len - 1, '0') + '\0');
}

function header(h: RawHeader): Buffer {
  const buf = Buffer.alloc(BLOCK);
  writeString(buf, 0, 100, h.name);
  writeOctal(buf, 100, 8, h.mode ?? 0o644);
  writeOctal(buf, 108, 8, h.uid ?? 1000);
  writeOctal(buf, 116, 8, h.uid ?? 1000);
  writeOctal(buf, 124, 12, h.size ?? 0);
  writeOctal(buf, 136, 12, 1_700_000_000);
  buf.write(h.typeflag, 156, 1, 'latin1');
  writeString(buf, 157, 100, h.linkname ?? '');
  writeString(buf, 257, 6, 'ustar\0');
  writeString(buf, 263, 2, '00');
  writeString(buf, 265, 32, 'vcap');
  writeString(buf, 297, 32, 'vcap');
  writeOctal(buf, 329, 8, h.devmajor ?? 0);
  writeOctal(buf, 337, 8, h.devminor ?? 0);
  // The checksum is computed with its own field read as eight spaces.
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of buf) sum += byte;
  writeString(buf, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return buf;
}

function padded(body: Buffer): Buffer {
  const rest = body.length % BLOCK;
  return rest === 0 ? body : Buffer.concat([body, Buffer.alloc(BLOCK - rest)]);
}

/** One pax record: "<len> key=value\n", where len counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len += 1;
  return `${len}${body}`;
}

function paxBlocks(records: ReadonlyArray<readonly [string, string]>, global = false): Buffer {
  const body = Buffer.from(records.map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
  const h = header({ name: global ? 'pax_global_header' : 'PaxHeader/entry', typeflag: global ? 'g' : 'x', size: body.length });
  return Buffer.concat([h, padded(body)]);
}

/** Names too long for the 100-byte ustar fields travel in a pax header. */
function longNames(name: string, linkname: string | undefined): { blocks: Buffer[]; name: string; linkname?: string } {
  const records: Array<[string, string]> = [];
  if (Buffer.byteLength(name) > 100) records.push(['path', name]);
  if (linkname !== undefined && Buffer.byteLength(linkname) > 100) records.push(['linkpath', linkname]);
  const blocks = records.length > 0 ? [paxBlocks(records)] : [];
  return {
    blocks,
    name: Buffer.byteLength(name) > 100 ? name.slice(0, 99) : name,
    ...(linkname === undefined ? {} : { linkname: Buffer.byteLength(linkname) > 100 ? linkname.slice(0, 99) : linkname }),
  };
}

function entryBlocks(e: EntrySpec): Buffer[] {
  if (e.type === 'pax') return [paxBlocks(e.records, e.global)];
  const body = e.type === 'file' || e.type === 'raw' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
  const link = e.type === 'symlink' || e.type === 'hardlink' ? e.target : undefined;
  const names = longNames(e.path, link);
  const h: RawHeader = {
    name: names.name,
    typeflag: e.type === 'raw' ? e.typeflag : TYPEFLAGS[e.type],
    size: body.length,
    mode: e.type === 'dir' ? (e.mode ?? 0o755) : e.type === 'file' ? (e.mode ?? 0o644) : 0o777,
    ...(e.type === 'file' && e.uid !== undefined ? { uid: e.uid } : {}),
    ...(names.linkname === undefined ? {} : { linkname: names.linkname }),
    ...(e.type === 'char' || e.type === 'block' ? { devmajor: e.major, devminor: e.minor } : {}),
  };
  return [...names.blocks, header(h), ...(body.length > 0 ? [padded(body)] : [])];
}

/** An uncompressed tar stream of the entries, in order, ended by two zero blocks. */
export function tarBuffer(entries: readonly EntrySpec[]): Buffer {
  return Buffer.concat([...entries.flatMap(entryBlocks), Buffer.alloc(2 * BLOCK)]);
}

export function tgzBuffer(entries: readonly EntrySpec[]): Buffer {
  return gzipSync(tarBuffer(entries));
}

export function sha1Of(buf: Buffer): string {
  return createHash('sha1').update(buf).digest('hex');
}

export type DropletFile = string | Buffer | { content: string | Buffer; mode?: number };

/** Entries for an in-memory map of files, with every parent directory before its children. */
export function dropletEntries(files: Readonly<Record<string, DropletFile>>): EntrySpec[] {
  const dirs = new Set<string>();
  const entries: EntrySpec[] = [{ type: 'dir', path: './' }];
  for (const [name, file] of Object.entries(files)) {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) entries.push({ type: 'dir', path: `./${dir}/` });
      dirs.add(dir);
    }
    const spec = typeof file === 'string' || Buffer.isBuffer(file) ? { content: file } : file;
    entries.push({ type: 'file', path: `./${name}`, content: spec.content, ...(spec.mode === undefined ? {} : { mode: spec.mode }) });
  }
  return entries;
}

/** A valid droplet .tgz in the v1 layout unless other files are given. */
export function validDroplet(files?: Readonly<Record<string, DropletFile>>): Buffer {
  return tgzBuffer(dropletEntries(files ?? DEFAULT_DROPLET));
}

export const DEFAULT_DROPLET: Readonly<Record<string, DropletFile>> = {
  startup: { content: '#!/bin/bash\nexec node app/server.js\n', mode: 0o755 },
  'app/server.js': 'console.log("hello")\n',
  'app/package.json': '{"name":"hello"}\n',
  'app/.profile.d/setup.sh': 'export HELLO=1\n',
};

const WORDS = Array.from({ length: 256 }, (_, i) => `w${(i * 2654435761 % 4096).toString(36)}`);

/** About 6.4 KB of JS-like text that gzip shrinks about as much as real sources (5-8x). */
function jsSource(i: number): string {
  const pick = randomBytes(640);
  const lines = [`'use strict';`, `// module ${i}`];
  for (let l = 0; l < 80; l++) {
    const w = (k: number): string => WORDS[pick[l * 8 + k] ?? 0] ?? 'x';
    lines.push(`const ${w(0)}_${l} = ${w(1)}(${w(2)}, ${w(3)}) + ${w(4)}.${w(5)}; // ${w(6)} ${w(7)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * About the size of a real Node droplet (performance A5): `files` small JS-like sources
 * in 100 package directories plus `blobs` incompressible 600 KiB files.
 */
export function largeDroplet(files = 3000, blobs = 25): Buffer {
  const map: Record<string, DropletFile> = { startup: { content: '#!/bin/bash\nexec node app/index.js\n', mode: 0o755 } };
  for (let i = 0; i < files; i++) {
    map[`app/node_modules/pkg-${i % 100}/lib/file-${i}.js`] =
      jsSource(i);
  }
  for (let i = 0; i < blobs; i++) map[`app/assets/blob-${i}.bin`] = randomBytes(600 * 1024);
  return validDroplet(map);
}

// ---------------------------------------------------------------------------------------
// Corrupt archives

/** A valid droplet cut in half: the gzip stream ends early. */
export function truncatedGzip(): Buffer {
  const whole = largeDroplet(50, 2);
  return whole.subarray(0, Math.floor(whole.length / 2));
}

export function randomGarbage(size = 64 * 1024): Buffer {
  return randomBytes(size);
}

/** A well-formed gzip stream whose content is not a tar archive. */
export function gzipOfGarbage(): Buffer {
  return gzipSync(randomBytes(32 * 1024));
}

/** A valid tar that was never gzipped: GNU `tar -xz` refuses it, so the scan must too. */
export function uncompressedTar(): Buffer {
  return tarBuffer(dropletEntries(DEFAULT_DROPLET));
}

/** A tar whose one header has a wrong checksum. */
export function badChecksum(): Buffer {
  const tar = tarBuffer(dropletEntries({ 'a.txt': 'a' }));
  tar[512] = 0x41; // a byte of the second header's name, after its checksum was computed
  return gzipSync(tar);
}

export const CORRUPT_FIXTURES = {
  'corrupt-gzip-truncated': truncatedGzip,
  'corrupt-random-bytes': () => randomGarbage(),
  'corrupt-gzip-not-tar': gzipOfGarbage,
  'corrupt-not-gzip': uncompressedTar,
  'corrupt-bad-checksum': badChecksum,
  'corrupt-empty-file': () => Buffer.alloc(0),
} as const satisfies Record<string, () => Buffer>;

// ---------------------------------------------------------------------------------------
// Hostile archives

export interface HostileContext {
  /** The directory the test will extract into. */
  dest: string;
  /** A directory outside `dest` the test created; fixtures aim their writes at it. */
  outside: string;
  /** An existing file outside `dest` that a fixture tries to overwrite or link to. */
  victim: string;
  /** A random token so paths like /tmp/abs-<token>.txt never collide between runs. */
  token: string;
}

export interface HostileFixture {
  entries: EntrySpec[];
  /** Absolute paths that must not exist after any extraction attempt. */
  mustNotExist: string[];
  /** Why the scan must refuse it (a fragment of the error message). */
  reason: RegExp;
}

const startup: EntrySpec = { type: 'file', path: './startup', content: '#!/bin/bash\n', mode: 0o755 };

function relFromDest(ctx: HostileContext, target: string): string {
  return path.relative(ctx.dest, target);
}

/** Every hostile fixture, by the behaviour it attacks. */
export const HOSTILE_FIXTURES: Record<string, (ctx: HostileContext) => HostileFixture> = {
  'tar-slip': (ctx) => ({
    entries: [startup, { type: 'file', path: `../escape-${ctx.token}.txt`, content: 'pwned' }],
    mustNotExist: [path.resolve(ctx.dest, '..', `escape-${ctx.token}.txt`)],
    reason: /\.\./,
  }),
  'tar-slip-deep': (ctx) => ({
    entries: [startup, { type: 'file', path: `app/../../${path.basename(ctx.outside)}/deep-${ctx.token}.txt`, content: 'pwned' }],
    mustNotExist: [path.join(ctx.outside, `deep-${ctx.token}.txt`)],
    reason: /\.\./,
  }),
  'absolute-path': (ctx) => ({
    entries: [startup, { type: 'file', path: `/tmp/abs-${ctx.token}.txt`, content: 'pwned' }],
    mustNotExist: [`/tmp/abs-${ctx.token}.txt`],
    reason: /absolute/,
  }),
  'absolute-path-long-pax': (ctx) => ({
    entries: [startup, { type: 'file', path: `/tmp/${'d'.repeat(120)}-${ctx.token}/abs.txt`, content: 'pwned' }],
    mustNotExist: [`/tmp/${'d'.repeat(120)}-${ctx.token}`],
    reason: /absolute/,
  }),
  'symlink-escape-write': (ctx) => ({
    entries: [startup, { type: 'symlink', path: 'lnk', target: ctx.outside }, { type: 'file', path: 'lnk/pwned.txt', content: 'pwned' }],
    mustNotExist: [path.join(ctx.outside, 'pwned.txt')],
    reason: /symlink/,
  }),
  'symlink-escape-relative': (ctx) => ({
    entries: [
      startup,
      { type: 'symlink', path: 'app/up', target: `../${relFromDest(ctx, ctx.outside)}` },
      { type: 'file', path: 'app/up/pwned.txt', content: 'pwned' },
    ],
    mustNotExist: [path.join(ctx.outside, 'pwned.txt')],
    reason: /outside|symlink/,
  }),
  'symlink-dotdot-outside': () => ({
    entries: [startup, { type: 'symlink', path: 'app/out', target: '../../outside' }],
    mustNotExist: [],
    reason: /outside/,
  }),
  // Each link alone stays inside; together `app/x -> ..` makes `app/esc`'s `x/..` climb out.
  'symlink-chain-escape': (ctx) => ({
    entries: [
      startup,
      { type: 'symlink', path: 'app/esc', target: `x/../${path.basename(ctx.outside)}` },
      { type: 'symlink', path: 'app/x', target: '..' },
    ],
    mustNotExist: [],
    reason: /resolves outside/,
  }),
  'symlink-loop': () => ({
    entries: [startup, { type: 'symlink', path: 'a', target: 'b' }, { type: 'symlink', path: 'b', target: 'a/x' }],
    mustNotExist: [],
    reason: /loop/,
  }),
  'symlink-write-through-inside': () => ({
    entries: [startup, { type: 'dir', path: 'app/' }, { type: 'symlink', path: 'lnk', target: 'app' }, { type: 'file', path: 'lnk/x.txt', content: 'x' }],
    mustNotExist: [],
    reason: /through symlink/,
  }),
  'symlink-replaced': () => ({
    entries: [startup, { type: 'symlink', path: 'lnk', target: 'startup' }, { type: 'file', path: 'lnk', content: 'x' }],
    mustNotExist: [],
    reason: /replaces/,
  }),
  'symlink-replaces-directory': () => ({
    entries: [startup, { type: 'file', path: 'app/a.txt', content: 'a' }, { type: 'symlink', path: 'app', target: '.' }],
    mustNotExist: [],
    reason: /replaces/,
  }),
  'hardlink-outside': () => ({
    entries: [startup, { type: 'hardlink', path: 'hostname', target: '/etc/hostname' }],
    mustNotExist: [],
    reason: /hardlink/,
  }),
  'hardlink-overwrite-victim': (ctx) => ({
    entries: [startup, { type: 'hardlink', path: 'victim', target: ctx.victim }, { type: 'file', path: 'victim', content: 'pwned' }],
    mustNotExist: [],
    reason: /hardlink/,
  }),
  'hardlink-dotdot': (ctx) => ({
    entries: [startup, { type: 'hardlink', path: 'victim', target: relFromDest(ctx, ctx.victim) }],
    mustNotExist: [],
    reason: /hardlink|\.\./,
  }),
  'hardlink-to-nothing': () => ({
    entries: [startup, { type: 'hardlink', path: 'h', target: 'not-in-archive' }],
    mustNotExist: [],
    reason: /no earlier regular file/,
  }),
  'device-node': () => ({
    entries: [startup, { type: 'char', path: 'null2', major: 1, minor: 3 }],
    mustNotExist: [],
    reason: /CharacterDevice/,
  }),
  'block-device': () => ({
    entries: [startup, { type: 'block', path: 'sda', major: 8, minor: 0 }],
    mustNotExist: [],
    reason: /BlockDevice/,
  }),
  fifo: () => ({
    entries: [startup, { type: 'fifo', path: 'pipe' }],
    mustNotExist: [],
    reason: /FIFO/,
  }),
  'unknown-type': () => ({
    entries: [startup, { type: 'raw', path: 'weird', typeflag: 'Z', content: 'x' }],
    mustNotExist: [],
    reason: /unsupported/,
  }),
  'gnu-sparse-pax': () => ({
    entries: [startup, { type: 'pax', records: [['GNU.sparse.name', 'app/sparse'], ['GNU.sparse.major', '1']] }, { type: 'file', path: 'app/s', content: 'x' }],
    mustNotExist: [],
    reason: /sparse/,
  }),
  // node-tar's pax reader splits on newlines; GNU tar does not. Such a value must not pass.
  'pax-newline-value': () => ({
    entries: [startup, { type: 'pax', records: [['comment', `x\n${paxRecord('path', 'app/evil')}`]] }, { type: 'file', path: 'app/ok', content: 'x' }],
    mustNotExist: [],
    reason: /newline|extended header/,
  }),
  // GNU tar renames every later member to a global header's path; node-tar ignores it.
  'pax-global-path': () => ({
    entries: [{ type: 'pax', global: true, records: [['path', 'renamed.txt']] }, startup],
    mustNotExist: [],
    reason: /global pax header/,
  }),
  'root-symlink': (ctx) => ({
    entries: [{ type: 'symlink', path: './', target: ctx.outside }, startup],
    mustNotExist: [path.join(ctx.outside, 'startup')],
    reason: /root|absolute/,
  }),
};
