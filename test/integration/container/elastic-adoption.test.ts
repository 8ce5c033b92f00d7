/**
 * Switching memory policy takes an agent restart, not a redeploy: an instance started
 * under elastic memory, adopted by an agent restarted under hard limits, gets the hard
 * limits (quota = limit, no soft limit), and the pool is undone.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { detectCgroupHost } from '../../../src/backends/container/index.js';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { sweepCgroupRoot } from './harness.js';

const ROOT = `dea-policy-${randomBytes(4).toString('hex')}`;
const MIB = 1024 * 1024;
const UNLIMITED = 2 ** 62;
let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({ backend: { kind: 'process' } });
});
afterAll(async () => {
  await s?.close();
  await sweepCgroupRoot(ROOT);
});

const config = (policy: string) => ({
  backend: { kind: 'container', container: { cgroup_root: ROOT, memory_policy: policy, network: { enabled: false } } },
  resources: { memory_mb: 512 },
  instance: { elastic: { max_factor: 2 } },
});

it('an instance adopted under another memory policy gets that policy\'s limits', async () => {
  const memory = detectCgroupHost().v1.get('memory');
  expect(memory, 'needs the cgroup v1 memory controller').toBeDefined();
  const read = (...p: string[]) => Number(readFileSync(join(memory!, ROOT, ...p), 'utf8').trim());
  const first = await s.startAgent({ config: config('elastic') });
  const regs = s.bus.record('router.register');
  await regs.ready();
  await s.startOn(first, 'serves-http', 'policy-app', { limits: { mem: 64, disk: 256, fds: 1024 } });
  await regs.waitFor((m) => m.data.app === 'policy-app' && m.data.dea === first.id, 60_000);
  const [found] = await s.find({ droplet: 'policy-app' }, first);
  const id = found.instance as string;
  expect(read(id, 'memory.limit_in_bytes')).toBe(128 * MIB);
  expect(read(id, 'memory.soft_limit_in_bytes')).toBe(64 * MIB);
  expect(read('memory.limit_in_bytes')).toBe(512 * MIB);

  first.child.kill('SIGKILL');
  await first.exited;
  const next = await s.startAgent({ baseDir: first.baseDir, config: config('hard') });
  await regs.waitFor((m) => m.data.app === 'policy-app' && m.data.dea === next.id, 60_000);
  expect(read(id, 'memory.limit_in_bytes')).toBe(64 * MIB);
  expect(read(id, 'memory.soft_limit_in_bytes')).toBeGreaterThan(UNLIMITED);
  expect(read('memory.limit_in_bytes')).toBeGreaterThan(UNLIMITED);
  expect(readFileSync(join(memory!, ROOT, 'memory.oom_control'), 'utf8')).toMatch(/oom_kill_disable 0/);
  regs.stop();
  expect(await next.stop()).toBe(0);
}, 120_000);
