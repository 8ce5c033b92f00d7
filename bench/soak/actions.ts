/**
 * The soak's actions. Each one runs to its end (the agent's answer seen, or a discrepancy
 * noted) before the next starts, so the model is exact between actions.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { requestAll } from '../../test/support/round-trip.js';
import type { Model, Tracked } from './model.js';
import { probe, until } from './probe.js';
import { cgroupPids, cmdlineOf, kill, processesUnder } from './procs.js';
import type { Rng } from './rng.js';
import type { World } from './world.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

export type ActionKind = 'start' | 'stop' | 'crash' | 'kill-agent' | 'restart-nats';

const START_WAIT_MS = 60_000;
const EXIT_WAIT_MS = 30_000;

/** Starts 1 (usually) to 3 indices of a new app and records who answers on each port. */
export async function startApp(w: World, m: Model, rng: Rng): Promise<void> {
  const app = m.nextApp();
  const n = rng.int(4) === 0 ? 2 + rng.int(2) : 1;
  const since = Date.now();
  for (let i = 0; i < n; i++) w.start(app, i);
  const fromNow = (msg: any) => msg.receivedAt >= since && msg.data.app === app && msg.data.dea === w.agent.id;
  let regs;
  try {
    regs = await w.registers.waitForCount(n, fromNow, START_WAIT_MS);
  } catch {
    m.discrepancy(`start of ${app} (${n} indices): not every index registered a route within ${START_WAIT_MS / 1000} s`);
    return;
  }
  const found = await requestAll(w.bus, w.agent.id, 'dea.find.droplet', { droplet: app });
  for (const port of new Set(regs.map((r) => Number(r.data.port)))) {
    const reply = await probe(port);
    const inst = found.find((f) => f.index === reply?.index);
    if (reply === null || inst === undefined) {
      m.discrepancy(`start of ${app}: port ${port} ${reply === null ? 'does not answer' : `answers index ${reply.index}, which find.droplet does not list`}`);
      continue;
    }
    m.add({ app, index: reply.index, instance: String(inst.instance), port, boot: reply.boot, pid: reply.pid, state: 'RUNNING', expectedExits: 0 });
  }
}

/** dea.stop of one instance: its route goes, its port closes, its directory goes. */
export async function stopOne(w: World, m: Model, t: Tracked): Promise<void> {
  const since = Date.now();
  t.state = 'STOPPED';
  w.bus.publish('dea.stop', { droplet: t.app, instances: [t.instance] });
  const gone = (msg: any) => msg.receivedAt >= since && msg.data.app === t.app && Number(msg.data.port) === t.port;
  await w.unregisters.waitFor(gone, 30_000).catch(() => m.discrepancy(`stop of ${t.instance} (${t.app}): no router.unregister`));
  const dir = path.join(w.baseDir, 'instances', t.instance);
  if (!(await until(async () => !existsSync(dir) && (await probe(t.port)) === null, 30_000, 200))) {
    m.discrepancy(`stop of ${t.instance} (${t.app}): ${existsSync(dir) ? 'its directory is still there' : 'its port still answers'} 30 s later`);
  }
}

/**
 * Kills an app's processes as a crash would. Process backend: its own process group,
 * after checking that the pid is the app (its command line, its directory under ours).
 * Container backend: every pid in the instance's cgroup under our cgroup root.
 */
export function crashProcesses(w: World, m: Model, t: Tracked): void {
  if (w.backend === 'container') {
    const pids = cgroupPids(w.cgroupRoot, t.instance);
    if (pids.length === 0) m.discrepancy(`crash of ${t.instance}: its cgroup holds no process`);
    for (const pid of pids) kill(pid);
    return;
  }
  const ours = processesUnder(w.baseDir).some((p) => p.pid === t.pid);
  if (!ours || !(cmdlineOf(t.pid) ?? '').includes('server.js')) {
    m.discrepancy(`crash of ${t.instance}: pid ${t.pid} is not its app (${cmdlineOf(t.pid) ?? 'gone'})`);
    return;
  }
  kill(-t.pid);
}

/** A crash under a running agent: exactly one droplet.exited CRASHED is expected. */
export async function crashOne(w: World, m: Model, t: Tracked): Promise<void> {
  crashProcesses(w, m, t);
  t.state = 'CRASHED';
  t.expectedExits = 1;
  await w.exits.waitFor((msg) => msg.data.instance === t.instance, EXIT_WAIT_MS).catch(() => undefined);
}

/**
 * kill -9 of the agent, sometimes with a crash while no agent runs, then a new agent on
 * the same base_dir: every instance still running must come back with the same process.
 */
export async function killAgent(w: World, m: Model, rng: Rng): Promise<void> {
  w.agent.child.kill('SIGKILL');
  await w.agent.exited;
  const victim = rng.int(2) === 0 ? rng.pick(m.inState('RUNNING')) : undefined;
  if (victim) {
    crashProcesses(w, m, victim);
    victim.state = 'CRASHED';
    victim.expectedExits = 1;
  }
  const since = Date.now();
  const agent = await w.restartAgent();
  for (const t of m.inState('RUNNING')) {
    const back = (msg: any) => msg.receivedAt >= since && msg.data.dea === agent.id && Number(msg.data.port) === t.port;
    await w.registers.waitFor(back, 30_000).catch(() => m.discrepancy(`adoption: ${t.instance} (${t.app}) not registered again by the new agent`));
  }
  if (victim) {
    await w.exits.waitFor((msg) => msg.data.instance === victim.instance, EXIT_WAIT_MS).catch(() => undefined);
  }
}

/**
 * A restart of nats-server; done once both the soak and the agent are back on the bus.
 * A dea.status sent before either has reconnected is lost, so it is asked again every 2 s.
 */
export async function restartNats(w: World, m: Model): Promise<void> {
  m.natsRestarts.push(Date.now());
  await w.nats.restart();
  const answered = await until(() => w.settle(2_000).then(() => true, () => false), 120_000, 0);
  if (!answered) m.discrepancy('after a nats-server restart the agent did not answer dea.status within 2 min');
}
