import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signalOnExit } from '../../support/exit-signal.js';

/** One datagram as systemd would see it: the text and who sent it. */
export interface Received {
  text: string;
  /** The sender's pid (SCM_CREDENTIALS) and its parent at the moment it arrived. */
  pid: number;
  ppid: number;
  /** CLOCK_MONOTONIC in ms when it arrived (comparable with process.hrtime). */
  atMs: number;
}

export interface NotifyReceiver {
  /** The NOTIFY_SOCKET value to give the agent. */
  readonly socket: string;
  received(): Received[];
  waitFor(pred: (r: Received) => boolean, what: string, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

/**
 * Stands in for systemd's notify socket: Node cannot bind a unix datagram socket, so a
 * python3 process does, and prints every datagram as a JSON line with the sender's
 * credentials (SO_PASSCRED, as systemd reads them) and its parent from /proc.
 */
const RECEIVER = String.raw`
import json, os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
name = sys.argv[1]
s.bind("\0" + name[1:] if name.startswith("@") else name)
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(12))
    at = time.monotonic_ns() / 1e6
    pid = next((struct.unpack("iII", d)[0] for lvl, t, d in anc if t == socket.SCM_CREDENTIALS), 0)
    try:
        ppid = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
    except Exception:
        ppid = 0
    print(json.dumps({"text": data.decode(), "pid": pid, "ppid": ppid, "atMs": at}), flush=True)
`;

/** `abstract`: an `@name` socket (systemd's own is a path, but sd_notify(3) allows both). */
export async function startNotifyReceiver(opts: { abstract?: boolean } = {}): Promise<NotifyReceiver> {
  const dir = mkdtempSync(join(tmpdir(), 'dea-notify-'));
  const socket = opts.abstract === true ? `@${dir.slice(dir.lastIndexOf('/') + 1)}` : join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', RECEIVER, socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  signalOnExit(child, 'SIGKILL');
  const got: Received[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let buf = '';
  let bound!: () => void;
  const isBound = new Promise<void>((r) => (bound = r));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, nl)) as Received & { bound?: boolean };
      buf = buf.slice(nl + 1);
      if (line.bound) bound();
      else got.push(line);
      for (const w of waiters) w();
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const failed = exited.then(() => {
    throw new Error(`notify receiver exited: ${stderr}`);
  });
  try {
    await Promise.race([isBound, failed]);
  } catch (err) {
    await close();
    throw err;
  }
  failed.catch(() => undefined);
  const waitFor = (pred: (r: Received) => boolean, what: string, timeoutMs = 15_000) =>
    new Promise<Received>((resolve, reject) => {
      const check = () => {
        const hit = got.find(pred);
        if (!hit) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${what} not received in ${timeoutMs} ms; got ${JSON.stringify(got.map((r) => r.text))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { socket, received: () => [...got], waitFor, close };
}

/** CLOCK_MONOTONIC in ms, the receiver's clock. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
