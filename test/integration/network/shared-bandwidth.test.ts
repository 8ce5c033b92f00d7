/**
 * Shared bandwidth's scripts (src/network/htb-script.ts) on this kernel, below the agent:
 * two "instances" (namespaces of this test's own, each a veth and an address), a node
 * rate of 2 MB/s, guarantees 1:3 by memory. One busy alone gets near the whole node rate;
 * two busy at once split it by guarantee. Traffic only from this host into the test's
 * namespaces. Everything made is removed, also on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemCommands } from '../../../src/network/commands.js';
import { guaranteedRate, joinScript, leaveScript, sharedRootScript } from '../../../src/network/htb-script.js';

const tag = randomBytes(2).toString('hex');
const d = { down: `htb${tag}-dn`, up: `htb${tag}-up` };
const NODE_RATE = 2_000_000;
const inst = [
  { ns: `htb${tag}-a`, hostIf: `htb${tag}-a0`, peer: `htb${tag}-a1`, host: '10.198.7.1', ip: '10.198.7.2', memMb: 256, classNo: 2 },
  { ns: `htb${tag}-b`, hostIf: `htb${tag}-b0`, peer: `htb${tag}-b1`, host: '10.198.7.5', ip: '10.198.7.6', memMb: 768, classNo: 3 },
];
const sinks: ChildProcess[] = [];
const ip = (script: string) => systemCommands.ipBatch(script);

beforeAll(async () => {
  await ip(`link add ${d.down} type ifb\nlink add ${d.up} type ifb\nlink set ${d.down} up\nlink set ${d.up} up\n`);
  await systemCommands.tcBatch(sharedRootScript(d, NODE_RATE));
  for (const i of inst) {
    await ip(`netns add ${i.ns}\nlink add ${i.hostIf} type veth peer name ${i.peer}\nlink set ${i.peer} netns ${i.ns}\naddr add ${i.host}/30 dev ${i.hostIf}\nlink set ${i.hostIf} up\n`);
    await systemCommands.ipBatch(`addr add ${i.ip}/30 dev ${i.peer}\nlink set ${i.peer} up\nlink set lo up\n`, i.ns);
    await systemCommands.tcBatch(joinScript(d, { classNo: i.classNo, hostIf: i.hostIf, ip: i.ip, rate: guaranteedRate(i.memMb, 1024, NODE_RATE) }, NODE_RATE));
    // A sink that counts what it receives and answers the count to "?".
    const sink = spawn('ip', ['netns', 'exec', i.ns, process.execPath, '-e', SINK, i.ip], { stdio: ['ignore', 'pipe', 'inherit'] });
    sinks.push(sink);
    await new Promise<void>((resolve) => sink.stdout!.once('data', () => resolve()));
    const k = inst.indexOf(i);
    sink.stdout!.on('data', (b: Buffer) => {
      const last = /n (\d+)\n[^]*$/.exec(b.toString());
      if (last) received[k] = Number(last[1]);
    });
  }
}, 30_000);

afterAll(async () => {
  for (const s of sinks) s.kill('SIGKILL');
  for (const i of inst) {
    await systemCommands.tcBatch(leaveScript(d, i.classNo)).catch(() => undefined);
    await ip(`link delete dev ${i.hostIf}\n`).catch(() => undefined);
    await ip(`netns delete ${i.ns}\n`).catch(() => undefined);
  }
  await ip(`link delete dev ${d.down}\n`).catch(() => undefined);
  await ip(`link delete dev ${d.up}\n`).catch(() => undefined);
});

const SINK = `
const ip = process.argv[1];
let n = 0;
require('net').createServer((s) => { s.on('data', (b) => (n += b.length)); s.on('end', () => s.end(String(n))); })
  .listen(9, ip, () => console.log('ready'));
setInterval(() => console.log('n', n), 100);`;

/** What each sink has received so far, as it last said (every 100 ms). */
const received = [0, 0];

/** Sends to `ip` as fast as the path allows for `ms`; resolves with the bytes the sink got. */
function blast(ipAddr: string, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(9, ipAddr);
    const chunk = Buffer.alloc(64 * 1024, 7);
    let reply = '';
    const pump = () => {
      while (Date.now() < until && s.write(chunk));
      if (Date.now() < until) s.once('drain', pump);
      else s.end();
    };
    const until = Date.now() + ms;
    s.on('connect', pump);
    s.on('data', (b) => (reply += b.toString()));
    s.on('end', () => resolve(Number(reply)));
    s.on('error', reject);
  });
}

describe('shared bandwidth on this kernel', () => {
  it('lets one busy instance alone use near the whole node rate', async () => {
    const bytes = await blast(inst[0]!.ip, 3000);
    const rate = bytes / 3;
    expect(rate).toBeGreaterThan(NODE_RATE * 0.75);
    expect(rate).toBeLessThan(NODE_RATE * 1.25);
  }, 20_000);

  it('splits the node rate between two busy ones by guarantee (1:3)', async () => {
    // The steady state only: from 2 s into the transfer to 7 s (TCP's start and the
    // queues' first burst left out).
    const done = Promise.all([blast(inst[0]!.ip, 8000), blast(inst[1]!.ip, 8000)]);
    await new Promise((r) => setTimeout(r, 2000));
    const from = [...received];
    await new Promise((r) => setTimeout(r, 5000));
    const [a, b] = [received[0]! - from[0]!, received[1]! - from[1]!];
    await done;
    const share = a / (a + b);
    expect(share).toBeGreaterThan(0.25 * 0.85);
    expect(share).toBeLessThan(0.25 * 1.15);
    expect((a + b) / 5).toBeGreaterThan(NODE_RATE * 0.85);
    expect((a + b) / 5).toBeLessThan(NODE_RATE * 1.15);
  }, 20_000);
});
