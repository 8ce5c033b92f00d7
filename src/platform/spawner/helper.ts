/**
 * The agent's side of libexec/spawner/dea-spawner: one long-lived helper that mounts
 * instance views with mount(2) and forks supervisors from a process of a few hundred
 * KiB, instead of forking the agent (3-5 ms each here; see docs/performance.md).
 *
 * If the helper dies, what it was doing fails (a start in flight ends CRASHED with the
 * reason), the processes it spawned are reported unwatched (their owners poll them, as
 * after an agent restart) and the next request starts a new helper. Where no helper can
 * run (not built), every request is done the old way, by forking the agent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants as osc } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { directMount, directSpawn, directUmount, type ChildExit, type Spawned } from './direct.js';
import { listeningInodes } from '../listeners.js';
import { encodeFrame, FrameReader, parseReply, spawnFields, type Reply, type SpawnRequest } from './frames.js';

/** How long close() waits for the helper to end by itself. */
const CLOSE_WAIT_MS = 2_000;

export class HelperGoneError extends Error {
  readonly code = 'SPAWN_HELPER_GONE';
  constructor() {
    super('the spawn helper died while doing this');
  }
}

export class HelperOpError extends Error {
  constructor(
    readonly what: string,
    readonly errno: number,
    detail: string,
  ) {
    super(`${what} failed: ${errnoName(errno)} (${detail})`);
  }
}

/** A reply, and for a spawn's pid the exit to come (watched from the moment the pid is read). */
interface Answer {
  readonly reply: Reply;
  readonly exit: Promise<ChildExit | null> | null;
}

interface Pending {
  readonly resolve: (a: Answer) => void;
  readonly reject: (e: Error) => void;
}

export function spawnHelperPath(libexecDir: string): string {
  return join(libexecDir, 'spawner', 'dea-spawner');
}

export class SpawnHelper {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** pid → who waits for its exit */
  private readonly watched = new Map<number, (exit: ChildExit | null) => void>();
  private closing = false;
  private starts = 0;

  constructor(
    private readonly bin: string,
    private readonly logger: Logger,
    /**
     * A reply later than this means a wedged helper (each request takes a millisecond or
     * so): it is killed, what waits on it fails, and the next request starts another.
     */
    private readonly replyWithinMs = 30_000,
  ) {}

  /** Helpers started so far (1 + restarts after deaths). */
  get generation(): number {
    return this.starts;
  }

  /** The running helper's pid, if one runs. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async mount(source: string, fstype: string, target: string, data: string): Promise<void> {
    const a = await this.request(['mount', source, fstype, target, data]);
    if (a === null) return directMount(source, fstype, target, data);
    if (a.reply.kind !== 'ok') throw failure(a.reply, `mount of ${fstype} at ${target}`);
  }

  /** True once `target` is unmounted; false if it could not be (not mounted, busy). */
  async umount(target: string, lazy: boolean): Promise<boolean> {
    const a = await this.request(['umount', target, lazy ? '1' : '0']);
    if (a === null) return directUmount(target, lazy);
    return a.reply.kind === 'ok';
  }

  /**
   * Inodes of the TCP sockets listening on `port` (IPv4 and IPv6), from socket
   * diagnostics; from /proc when the helper cannot answer (a read-only question: asking
   * again elsewhere is safe, and a start must not fail for want of the faster way).
   */
  async listeningInodes(port: number): Promise<Set<string>> {
    const a = await this.request(['listeners', String(port)]).catch(() => null);
    return a?.reply.kind === 'inodes' ? new Set(a.reply.inodes) : listeningInodes(port);
  }

  async spawn(req: SpawnRequest): Promise<Spawned> {
    const a = await this.request(spawnFields(req));
    if (a === null) return directSpawn(req);
    if (a.reply.kind !== 'pid' || a.exit === null) throw failure(a.reply, `spawn of ${req.file}`);
    return { pid: a.reply.pid, exit: a.exit };
  }

  /** Ends the helper (its children live on, unwatched). */
  async close(): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (child === null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_WAIT_MS);
    await gone;
    clearTimeout(timer);
  }

  /** The reply, or null when no helper can run and the caller does it itself. */
  private request(fields: string[]): Promise<Answer | null> {
    const child = this.ensure();
    if (child === null) return Promise.resolve(null);
    const id = this.nextId++;
    const frame = encodeFrame([String(id), ...fields]);
    return new Promise((resolve, reject) => {
      // The helper never keeps the agent alive, but a reply we wait for must.
      if (this.pending.size === 0) refOf(child.stdout)?.ref();
      const watchdog = setTimeout(() => this.wedged(child, fields[0]!), this.replyWithinMs);
      watchdog.unref();
      const settled = () => clearTimeout(watchdog);
      this.pending.set(id, {
        resolve: (a) => (settled(), resolve(a)),
        reject: (e) => (settled(), reject(e)),
      });
      child.stdin!.write(frame);
    });
  }

  private ensure(): ChildProcess | null {
    if (this.child !== null) return this.child;
    if (this.closing || !existsSync(this.bin)) return null;
    // A session of its own, so a Ctrl-C to the agent's terminal leaves it to the agent's
    // shutdown, which still unmounts through it.
    const child = spawn(this.bin, [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.starts++;
    this.child = child;
    const frames = new FrameReader();
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const f of frames.push(chunk)) this.onReply(parseReply(f));
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => this.logger.warn({ event: 'spawner.helper.said', text: text.trim().slice(0, 500) }, 'spawn helper'));
    child.stdin!.on('error', () => undefined); // EPIPE after its death: handled on 'exit'
    child.once('error', (err) => this.gone(child, String(err)));
    child.once('exit', (code, signal) => this.gone(child, `exit ${code ?? signal}`));
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) refOf(s)?.unref();
    return child;
  }

  private onReply(r: Reply): void {
    if (r.kind === 'exit') {
      const waiter = this.watched.get(r.pid);
      this.watched.delete(r.pid);
      waiter?.({ code: r.code, signal: r.signal });
      return;
    }
    if (r.kind === 'unknown') {
      this.logger.warn({ event: 'spawner.reply.unknown', fields: r.fields.slice(0, 4) }, 'spawn helper sent what it should not');
      return;
    }
    const p = this.pending.get(r.id);
    this.pending.delete(r.id);
    if (this.pending.size === 0) refOf(this.child?.stdout ?? null)?.unref();
    // The exit can come in the same chunk as the pid: watch it before anyone awaits.
    const exit = r.kind === 'pid' ? new Promise<ChildExit | null>((resolve) => this.watched.set(r.pid, resolve)) : null;
    p?.resolve({ reply: r, exit });
  }

  private wedged(child: ChildProcess, op: string): void {
    if (this.child !== child) return;
    this.logger.error({ event: 'spawner.helper.wedged', op, after_ms: this.replyWithinMs }, 'spawn helper did not answer: killed');
    child.kill('SIGKILL');
  }

  private gone(child: ChildProcess, how: string): void {
    if (this.child !== child) return;
    this.child = null;
    if (!this.closing) this.logger.error({ event: 'spawner.helper.exited', how, in_flight: this.pending.size, watched: this.watched.size }, 'spawn helper died; the next request starts another');
    for (const p of this.pending.values()) p.reject(new HelperGoneError());
    this.pending.clear();
    for (const w of this.watched.values()) w(null);
    this.watched.clear();
  }
}

/** A child's pipe as the socket it is (ref and unref), if it is one. */
function refOf(stream: unknown): { ref(): void; unref(): void } | null {
  const s = stream as { ref?: () => void; unref?: () => void } | null;
  return s?.ref && s.unref ? (s as { ref(): void; unref(): void }) : null;
}

function failure(r: Reply, what: string): Error {
  if (r.kind === 'err') return new HelperOpError(what, r.errno, r.what);
  return new Error(`${what}: unexpected reply from the spawn helper`);
}

/** 2 → "ENOENT" (the number when unknown). */
function errnoName(errno: number): string {
  const hit = Object.entries(osc.errno).find(([, n]) => n === errno);
  return hit ? hit[0] : `errno ${errno}`;
}
