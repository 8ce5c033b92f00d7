/**
 * `instance.bandwidth.policy: shared` through the real agent: a node rate of 2 MB/s,
 * memory capacity 1024 MB; instances of 256 and 768 MB are guaranteed 1:3 of it. One
 * alone takes 4 MB in about 2 s (it borrows the whole rate); started together, 2 MB into
 * the small one and 6 MB into the big one end together, at about 4 s (a split by
 * guarantee; an even split would end the small one at 2 s). Traffic: loopback → the
 * agent's containers. The agent's shared trees are gone after its clean stop.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { buildDroplet } from '../../support/droplets.js';
import { NET_APP, netAppStart } from './net-app.js';
import { closeNetworkSuite } from './leftovers.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
const CGROUP_ROOT = `dea-ns-${randomBytes(4).toString('hex')}`;
const RATE = 2_000_000;
let s: AgentSuite;
const ports = new Map<string, number>();

beforeAll(async () => {
  s = await agentSuite({
    backend: { kind: 'container', container: { cgroup_root: CGROUP_ROOT } },
    resources: { memory_mb: 1024, bandwidth: RATE },
    instance: { stop_grace_secs: 2, bandwidth: { policy: 'shared' } },
  });
  const built = await buildDroplet('serves-http-v2', s.dropletDir, { fileName: 'net-app.tgz', extraFiles: { 'app/net.js': NET_APP } });
  const reg = s.bus.record('router.register');
  await reg.ready();
  for (const [app, mem] of [['ns-small', 256], ['ns-big', 768]] as const) {
    s.bus.publish(`dea.${s.agent.id}.start`, netAppStart(app, { sha1: built.sha1, url: s.files.url(built.path) }, { limits: { mem, disk: 256, fds: 1024 } }));
  }
  for (const app of ['ns-small', 'ns-big']) ports.set(app, (await reg.waitFor((m) => m.data.app === app, 60_000)).data.port as number);
  reg.stop();
}, 90_000);

afterAll(async () => {
  await closeNetworkSuite(s?.agent.baseDir, async () => s?.close(), [CGROUP_ROOT]);
  // The agent's two shared ifbs went with its clean stop.
  expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toMatch(/dea[0-9a-f]{8}-s[du]\b/);
}, 60_000);

/** Seconds to POST `bytes` into the app `app` (through its mapped port). */
async function upload(app: string, bytes: number): Promise<number> {
  const started = performance.now();
  const r = (await (await fetch(`http://127.0.0.1:${ports.get(app)}/upload`, { method: 'POST', body: Buffer.alloc(bytes, 1) })).json()) as any;
  expect(r.bytes).toBe(bytes);
  return (performance.now() - started) / 1000;
}

describe('shared bandwidth', () => {
  it('lets one busy instance alone borrow the whole node rate', async () => {
    const seconds = await upload('ns-small', 4_000_000);
    expect(seconds).toBeGreaterThan(2 * 0.8);
    expect(seconds).toBeLessThan(2 * 1.25);
  }, 30_000);

  it('splits the rate by guarantee between two busy ones', async () => {
    const [small, big] = await Promise.all([upload('ns-small', 2_000_000), upload('ns-big', 6_000_000)]);
    expect(small).toBeGreaterThan(4 * 0.8);
    expect(small).toBeLessThan(4 * 1.2);
    expect(big).toBeGreaterThan(4 * 0.8);
    expect(big).toBeLessThan(4 * 1.2);
  }, 30_000);
});
