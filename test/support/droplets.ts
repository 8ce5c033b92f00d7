import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';

/** Root of the fixture droplet trees (`fixtures/apps/<name>/`). */
export const FIXTURE_APPS_DIR = fileURLToPath(new URL('../../fixtures/apps/', import.meta.url));

/**
 * The helpers the fixture apps share (`require('./fixture-core.js')(NAME)`). Not part of any
 * fixture tree: buildDroplet copies it next to each app's main script.
 */
export const FIXTURE_CORE_FILE = fileURLToPath(new URL('../../fixtures/shared/fixture-core.js', import.meta.url));

/** Every fixture under fixtures/apps. */
export const FIXTURE_APPS = [
  'serves-http',
  'serves-http-v2',
  'crash-on-start',
  'exits-after-delay',
  'slow-to-listen',
  'never-listens',
  'ignores-sigterm',
  'worker-no-uris',
  'state-file',
  'forks-children',
  'busy-cpu',
  'memory-hog',
  'disk-filler',
  'many-files',
  'sample-app',
] as const;
export type FixtureAppName = (typeof FIXTURE_APPS)[number];

export interface BuiltDroplet {
  /** Absolute path of the .tgz. */
  path: string;
  /** Lowercase hex SHA-1 of the .tgz bytes. */
  sha1: string;
  /** Size of the .tgz in bytes. */
  size: number;
}

export interface SyntheticOptions {
  /** Small text files to generate under data/ (default 3000). */
  files?: number;
  /** Directories to spread them over (default 100). */
  dirs?: number;
  /** Total MiB of incompressible blobs under blobs/ (default 20; 0 for none). */
  blobMb?: number;
  /** How many blob files share blobMb (default 4). */
  blobs?: number;
  /** Seed for the generated content (default 'many-files'): same seed, same bytes. */
  seed?: string;
}

export interface BuildOptions {
  /** File name of the tarball inside outDir (default `<name>.tgz`). */
  fileName?: string;
  /**
   * Files to add (relative path → content) on top of the fixture tree. Handy to make a
   * droplet with a different SHA-1 from the same app (`{ 'VARIANT': 'b' }`).
   */
  extraFiles?: Record<string, string | Buffer>;
  /**
   * Generate bulk content at build time (see buildSyntheticDroplet). `many-files` always
   * gets it, with the defaults unless overridden here.
   */
  synthetic?: SyntheticOptions;
}

/** Every entry gets this mtime, so building the same tree twice gives the same bytes. */
const FIXED_MTIME = new Date('2020-01-01T00:00:00Z');

/** SHA-1 (hex) of a file, streamed. */
export async function sha1File(file: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `.` and every entry below `dir` as `./…` paths, each directory before its contents, names sorted. */
async function sortedEntries(dir: string, rel = '.'): Promise<string[]> {
  const out = [rel];
  const children = await readdir(path.join(dir, rel), { withFileTypes: true });
  children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const child of children) {
    const childRel = `${rel}/${child.name}`;
    if (child.isDirectory()) out.push(...(await sortedEntries(dir, childRel)));
    else out.push(childRel);
  }
  return out;
}

/**
 * Packs the contents of `dir` (as `./…` entries, modes kept) into a gzipped tarball. Entries
 * go in sorted order, so the bytes do not depend on the order the file system lists them in.
 */
export async function packDirectory(dir: string, file: string): Promise<BuiltDroplet> {
  await mkdir(path.dirname(file), { recursive: true });
  const entries = await sortedEntries(dir);
  await tar.c({ gzip: true, cwd: dir, portable: true, mtime: FIXED_MTIME, file, noDirRecurse: true }, entries);
  const [sha1, st] = await Promise.all([sha1File(file), stat(file)]);
  return { path: path.resolve(file), sha1, size: st.size };
}

function fixtureDir(name: string): string {
  if (name === '' || name.includes('/') || name.includes('\\') || name.startsWith('.')) {
    throw new Error(`bad fixture name ${JSON.stringify(name)}`);
  }
  return path.join(FIXTURE_APPS_DIR, name);
}

/**
 * Copies fixture-core.js next to the app's main script: into `app/` for a v2 layout (the
 * tree has an `app/` directory, where the start command runs), else into the root (v1,
 * where `startup` runs the script).
 */
async function addFixtureCore(root: string): Promise<void> {
  const appDir = path.join(root, 'app');
  const isV2 = await stat(appDir).then(
    (st) => st.isDirectory(),
    () => false,
  );
  await cp(FIXTURE_CORE_FILE, path.join(isV2 ? appDir : root, 'fixture-core.js'));
}

async function writeExtraFiles(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const target = path.resolve(root, rel);
    if (!target.startsWith(root + path.sep)) throw new Error(`extra file ${rel} would land outside the droplet`);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

/** Deterministic incompressible bytes: AES-128-CTR keystream keyed by the seed. */
function pseudoRandomBytes(seed: string, label: string, size: number): Buffer {
  const key = createHash('sha256').update(`${seed}/${label}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

async function generateSynthetic(root: string, opts: SyntheticOptions): Promise<void> {
  const files = opts.files ?? 3000;
  const dirs = Math.max(1, opts.dirs ?? 100);
  const blobMb = opts.blobMb ?? 20;
  const blobs = Math.max(1, opts.blobs ?? 4);
  const seed = opts.seed ?? 'many-files';

  for (let d = 0; d < Math.min(dirs, Math.max(files, 1)); d++) {
    await mkdir(path.join(root, 'data', `d${String(d).padStart(3, '0')}`), { recursive: true });
  }
  const noise = pseudoRandomBytes(seed, 'small', 4096).toString('base64');
  const pending: Promise<void>[] = [];
  for (let i = 0; i < files; i++) {
    const dir = `d${String(i % dirs).padStart(3, '0')}`;
    const len = 100 + ((i * 7919) % 1900);
    const start = (i * 131) % (noise.length - len);
    const body = `file ${i} of ${files}\n${noise.slice(start, start + len)}\n`;
    pending.push(writeFile(path.join(root, 'data', dir, `f${String(i).padStart(5, '0')}.txt`), body));
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);

  if (blobMb > 0) {
    await mkdir(path.join(root, 'blobs'), { recursive: true });
    const total = Math.round(blobMb * 1024 * 1024);
    const each = Math.floor(total / blobs);
    for (let b = 0; b < blobs; b++) {
      const size = b === blobs - 1 ? total - each * (blobs - 1) : each;
      await writeFile(path.join(root, 'blobs', `blob${b}.bin`), pseudoRandomBytes(seed, `blob${b}`, size));
    }
  }
}

async function buildFromStaging(
  name: string,
  outDir: string,
  file: string,
  fill: (root: string) => Promise<void>,
): Promise<BuiltDroplet> {
  await mkdir(outDir, { recursive: true });
  const staging = await mkdtemp(path.join(outDir, `.stage-${name}-`));
  try {
    await cp(fixtureDir(name), staging, { recursive: true });
    // mkdtemp makes the root 0700; give it the fixture directory's mode, as packed before.
    await chmod(staging, (await stat(fixtureDir(name))).mode & 0o7777);
    await addFixtureCore(staging);
    await fill(staging);
    return await packDirectory(staging, file);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Packs `fixtures/apps/<name>/` plus fixtures/shared/fixture-core.js (next to the main
 * script: root for v1, `app/` for v2) into `<outDir>/<name>.tgz` (gzip, portable headers,
 * modes kept, fixed mtimes, sorted entries) and returns its path, SHA-1 and size.
 * `many-files` gets its bulk content generated here (see buildSyntheticDroplet).
 */
export async function buildDroplet(name: string, outDir: string, opts: BuildOptions = {}): Promise<BuiltDroplet> {
  const file = path.join(outDir, opts.fileName ?? `${name}.tgz`);
  const synthetic = opts.synthetic ?? (name === 'many-files' ? {} : undefined);
  return buildFromStaging(name, outDir, file, async (root) => {
    if (synthetic !== undefined) await generateSynthetic(root, synthetic);
    if (opts.extraFiles !== undefined) await writeExtraFiles(root, opts.extraFiles);
  });
}

/**
 * The `many-files` droplet with generated content: `files` small files spread over `dirs`
 * directories under data/, and `blobMb` MiB of incompressible blobs under blobs/, next to
 * the fixture's startup script and HTTP server. Written to `<outDir>/many-files.tgz`
 * unless `fileName` says otherwise.
 */
export function buildSyntheticDroplet(
  opts: SyntheticOptions & { fileName?: string },
  outDir: string,
): Promise<BuiltDroplet> {
  const { fileName, ...synthetic } = opts;
  return buildDroplet('many-files', outDir, { synthetic, ...(fileName !== undefined ? { fileName } : {}) });
}

export interface DropletServer {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /**
   * URL of a file in the served directory. Accepts a file name (`serves-http.tgz`), a
   * fixture name without extension (`serves-http` → `serves-http.tgz`) or a path (its
   * base name is used, e.g. a BuiltDroplet's `path`).
   */
  url(name: string): string;
  /**
   * Requests seen for a request path (`/x.tgz`), or a name, file path or URL as accepted
   * by url(); 404s count too.
   */
  requests(pathnameOrName: string): number;
  /** All requests seen. */
  totalRequests(): number;
  /** Wait this long before answering each request (to make downloads overlap or time out). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

function fileNameOf(name: string): string {
  let base = name;
  if (/^https?:\/\//.test(name)) base = decodeURIComponent(new URL(name).pathname);
  base = path.posix.basename(base.replaceAll('\\', '/'));
  return base.includes('.') ? base : `${base}.tgz`;
}

/**
 * A tiny file server for `dir` on 127.0.0.1 (random port): GET/HEAD `/<file>` streams the
 * file with Content-Length; anything else or missing → 404. Counts requests per path.
 */
export async function serveDroplets(dir: string): Promise<DropletServer> {
  const root = path.resolve(dir);
  const counts = new Map<string, number>();
  let total = 0;
  let delayMs = 0;

  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
    total++;
    const respond = async (): Promise<void> => {
      const name = decodeURIComponent(pathname.slice(1));
      const notFound = (): void => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
      };
      if ((req.method !== 'GET' && req.method !== 'HEAD') || name === '' || name.includes('/') || name.startsWith('.')) {
        notFound();
        return;
      }
      const file = path.join(root, name);
      let size: number;
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch {
        notFound();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const stream = createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    };
    const go = (): void => {
      respond().catch(() => res.destroy());
    };
    if (delayMs > 0) setTimeout(go, delayMs);
    else go();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;

  return {
    baseUrl,
    url: (name) => `${baseUrl}/${encodeURIComponent(fileNameOf(name))}`,
    requests(pathnameOrName) {
      const isPathname = pathnameOrName.startsWith('/') && !pathnameOrName.includes('/', 1);
      const key = isPathname ? pathnameOrName : `/${fileNameOf(pathnameOrName)}`;
      return counts.get(key) ?? counts.get(`/${encodeURIComponent(key.slice(1))}`) ?? 0;
    },
    totalRequests: () => total,
    setDelay(ms) {
      delayMs = ms;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
