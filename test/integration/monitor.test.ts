import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../support/agent-suite.js';
import { eventually } from '../support/eventually.js';

/**
 * This suite checks the process backend's own semantics (host pids, the shared app user,
 * the monitor's quota messages), so it pins that backend; `auto` picks the container
 * backend here, whose counterparts live in test/integration/container/.
 */
const PROCESS_BACKEND = { backend: { kind: 'process' } };

let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({ ...PROCESS_BACKEND, monitor: { interval_ms: 250 } });
});
afterAll(async () => s?.close());

interface Stats {
  usage: { cpu: number; mem: number; disk: number; time: string };
  mem_quota: number;
}

async function running(app: string, fixture: string, over: Record<string, unknown> = {}): Promise<number> {
  const reg = s.bus.record('router.register');
  await reg.ready();
  await s.start(fixture, app, over);
  const r = await reg.waitFor((m) => m.data.app === app, 15_000);
  reg.stop();
  return r.data.port as number;
}

async function stats(app: string): Promise<Stats> {
  const [reply] = await s.bus.request('dea.find.droplet', { droplet: app, include_stats: true }, { expect: 1 });
  return reply.stats as Stats;
}

describe('the monitor', () => {
  it('sees a busy app near one core and an idle one near zero, with real memory and disk', async () => {
    const busyPort = await running('busy', 'busy-cpu');
    await running('idle', 'serves-http');
    // How much CPU a busy loop gets depends on what else this 2-core machine runs, so
    // wait for a sample that shows it (on a quiet machine, the first one does).
    const busy = await eventually(async () => {
      const st = await stats('busy');
      return st.usage.cpu > 0.5 ? st : false;
    }, 20_000, 'busy app near one core');
    expect(busy.usage.cpu).toBeLessThan(1.3);
    // A hog over half a core is reniced, one step per tick.
    const { pid } = (await (await fetch(`http://127.0.0.1:${busyPort}/`)).json()) as { pid: number };
    const nice = () => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[16]);
    await eventually(() => nice() > 0, 15_000, 'busy app reniced');
    expect(busy.usage.mem).toBeGreaterThan(10 * 1024 * 1024);
    expect(busy.usage.mem).toBeLessThan(busy.mem_quota);
    expect(busy.usage.disk).toBeGreaterThan(0);
    expect(busy.usage.time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$/);
    // Once its boot is over, an idle app's samples sit near zero.
    const idle = await eventually(async () => {
      const st = await stats('idle');
      return st.usage.mem > 0 && st.usage.cpu < 0.05 ? st : false;
    }, 20_000, 'idle app near zero');
    expect(idle.usage.mem).toBeGreaterThan(10 * 1024 * 1024);
    // A core's worth of busy loop would only slow the tests after this one.
    s.bus.publish('dea.stop', { droplet: 'busy' });
    await s.agent.waitForLog((l) => l.event === 'instance.stopped' && l.app_id === 'busy', 15_000);
  });

  it('charges an app for the children it forks', async () => {
    const port = await running('parent', 'forks-children');
    const body = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { pid: number; children: number[] };
    const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    // The children are still booting at first (and the monitor re-lists a tree every few
    // ticks), so wait for a sample that counts at least half of what they hold by now;
    // an agent that charged the main process alone never gets there.
    await eventually(async () => {
      const mem = (await stats('parent')).usage.mem;
      const own = rss(body.pid);
      const children = body.children.map(rss).reduce((a, b) => a + b, 0);
      return children > 0 && mem > own + children / 2;
    }, 20_000, 'tree memory with at least half of the children\'s');
  });

  it('stops a memory hog as CRASHED with the limit and usage in exit_description and stderr.log', async () => {
    const exits = s.bus.record('droplet.exited');
    await exits.ready();
    await s.start('memory-hog', 'hog', { limits: { mem: 64, disk: 256, fds: 1024 }, env: ['HOG_MAX_MB=400'] });
    const ex = await exits.waitFor((m) => m.data.droplet === 'hog', 20_000);
    expect(ex.data.reason).toBe('CRASHED');
    expect(ex.data.exit_description).toMatch(/^Memory limit of 64M exceeded\. Usage: [\d.]+M\.$/);
    const stderr = await eventually(() => {
      try {
        return readFileSync(join(s.agent.baseDir, 'crashes', ex.data.instance, 'logs', 'stderr.log'), 'utf8');
      } catch {
        return false;
      }
    });
    expect(stderr).toContain('Memory limit of 64M exceeded.');
  });

  it('stops a disk filler as CRASHED with the disk limit', async () => {
    const exits = s.bus.record('droplet.exited');
    await exits.ready();
    await s.start('disk-filler', 'filler', { limits: { mem: 128, disk: 32, fds: 1024 }, env: ['FILL_MAX_MB=200', 'FILL_STEP_MB=2'] });
    const ex = await exits.waitFor((m) => m.data.droplet === 'filler', 20_000);
    expect(ex.data.exit_description).toMatch(/^Disk usage limit of 32M exceeded\. Usage: [\d.]+M\.$/);
  });

  it('publishes usage and its own cost in varz and /metrics, behind credentials', async () => {
    // An app of its own, so the figures do not depend on what other tests left running.
    await running('metered', 'serves-http');
    const [disc] = await s.bus.request('vcap.component.discover', {}, { expect: 1 });
    const base = `http://${disc.host}`;
    const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/varz`)).status).toBe(401);
    // The monitor measures a new instance on its next tick.
    const varz = await eventually(async () => {
      const v = (await (await fetch(`${base}/varz`, { headers: auth })).json()) as Record<string, any>;
      const metered = Object.values((v.instance_registry?.metered ?? {}) as Record<string, { used_memory_in_bytes: number }>)[0];
      return (metered?.used_memory_in_bytes ?? 0) > 0 ? v : false;
    }, 15_000, 'varz showing the memory of metered');
    expect(varz.monitor.instances).toBeGreaterThan(0);
    expect(varz.monitor.cpuMs).toBeGreaterThanOrEqual(0);
    const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    expect(text).toMatch(/dea_instance_memory_bytes\{app="metered",app_name="web",instance="[0-9a-f]{32}",index="0"\} [1-9]\d*/);
    expect(text).toContain('dea_monitor_tick_cpu_seconds');
    expect(text).toMatch(/dea_instances\{state="RUNNING"\} [1-9]/);
    expect(text).toContain('dea_agent_process_resident_memory_bytes');
  });
});
