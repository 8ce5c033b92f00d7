/**
 * A "remote" host for egress tests: a network namespace of the test's own, joined to the
 * host by a veth pair on a /30 of 10.253.0.0/16, with TCP listeners on given ports. It has
 * no default route: nothing in it can reach beyond the host. Removed by close().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { systemCommands as cmd } from '../../../src/network/commands.js';

export interface RemoteHost {
  readonly ip: string;
  readonly netns: string;
  close(): Promise<void>;
}

export async function remoteHost(ports: readonly number[]): Promise<RemoteHost> {
  const hex = randomBytes(3).toString('hex');
  const netns = `deat-${hex}`;
  const link = `deat${hex}-h`;
  const third = randomBytes(1)[0] ?? 1;
  const fourth = ((randomBytes(1)[0] ?? 0) & 0xfc) % 252;
  const hostIp = `10.253.${third}.${fourth + 1}`;
  const ip = `10.253.${third}.${fourth + 2}`;
  const servers: ChildProcess[] = [];
  const close = async () => {
    for (const s of servers) s.kill('SIGKILL');
    await cmd.ipBatch(`link delete dev ${link}\n`).catch(() => undefined);
    await cmd.ipBatch(`netns delete ${netns}\n`).catch(() => undefined);
  };
  try {
    await cmd.ipBatch(`netns add ${netns}\nlink add ${link} type veth peer name r0 netns ${netns}\naddr add ${hostIp}/30 dev ${link}\nlink set dev ${link} up\n`);
    await cmd.ipBatch(`link set dev lo up\naddr add ${ip}/30 dev r0\nlink set dev r0 up\n`, netns);
    for (const port of ports) servers.push(await listen(netns, ip, port));
  } catch (err) {
    await close();
    throw err;
  }
  return { ip, netns, close };
}

/** A TCP server in the namespace that answers "hello" and closes; resolves once it listens. */
function listen(netns: string, ip: string, port: number): Promise<ChildProcess> {
  const code = `require('net').createServer((s) => { s.on('error', () => {}); s.end('hello'); }).listen(${port}, '${ip}', () => console.log('listening'))`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(child));
    child.once('exit', (c) => reject(new Error(`listener on ${port} exited ${c}`)));
  });
}
