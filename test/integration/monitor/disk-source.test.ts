/**
 * Disk figures without walking the overlay view (issue 16): an overlay instance is its
 * writable layer plus the droplet's tree (walked once), a loop-disk instance one statfs.
 * A file the app keeps open and grows counts as it grows, also when the app sees it
 * under another path (a container's /home/vcap).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { treeBytes } from '../../../src/staging/tree-size.js';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { sweepCgroupRoot, waitFor } from '../container/harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
const MIB = 1024 * 1024;
const ROOT = `dea-disk-${randomBytes(4).toString('hex')}`;
let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({ backend: { kind: 'process' } });
});
afterAll(async () => {
  await s?.close();
  await sweepCgroupRoot(ROOT);
  await sweepCgroupRoot(`${ROOT}-loop`);
});

const configs: Array<[string, Record<string, unknown>]> = [
  ['process backend, overlay', { backend: { kind: 'process' } }],
  ['container, overlay (the app sees /home/vcap)', { backend: { kind: 'container', container: { cgroup_root: ROOT, network: { enabled: false } } } }],
  ['container, loop disk (statfs)', { backend: { kind: 'container', container: { cgroup_root: `${ROOT}-loop`, disk_limit: 'loop', network: { enabled: false } } } }],
];

describe.each(configs)('%s', (name, config) => {
  it('counts the droplet once and what the app writes as it writes it', async () => {
    const agent = await s.startAgent({ config: { ...config, monitor: { interval_ms: 250 } } });
    const app = `disk-${name.split(/\W/)[0]}-${randomBytes(2).toString('hex')}`;
    const regs = s.bus.record('router.register');
    await regs.ready();
    // 1 MB every 300 ms, the file held open all along: its directory does not change.
    await s.startOn(agent, 'disk-filler', app, { limits: { mem: 128, disk: 256, fds: 1024 }, env: ['FILL_MAX_MB=60', 'FILL_STEP_MB=1', 'FILL_INTERVAL_MS=300'] });
    const reg = await regs.waitFor((m) => m.data.app === app, 60_000);
    regs.stop();
    const [found] = await s.find({ droplet: app }, agent);
    const tree = await treeBytes(join(agent.baseDir, 'droplets', found.sha1 ?? (await dropletSha1(agent.baseDir)), 'lower', 'tree'));
    const written = async () => ((await (await fetch(`http://127.0.0.1:${reg.data.port}/`)).json()) as any).written_mb as number;
    const disk = async () => ((await s.find({ droplet: app, include_stats: true }, agent))[0].stats.usage.disk as number);
    // While it writes, the figure follows within a few ticks (never older than 30 s).
    await waitFor(async () => expect(await written()).toBeGreaterThanOrEqual(8), 30_000);
    await waitFor(async () => {
      const w = await written();
      const d = await disk();
      expect(d).toBeGreaterThanOrEqual(tree + (w - 3) * MIB);
      expect(d).toBeLessThanOrEqual(tree + (w + 6) * MIB);
    }, 20_000);
    expect(await agent.stop()).toBe(0);
  }, 120_000);
});

/** The one droplet in this base_dir's cache (a find reply does not name it). */
async function dropletSha1(baseDir: string): Promise<string> {
  const { readdirSync } = await import('node:fs');
  const names = readdirSync(join(baseDir, 'droplets')).filter((n) => /^[0-9a-f]{40}$/.test(n));
  expect(names).toHaveLength(1);
  return names[0]!;
}
