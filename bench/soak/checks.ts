/** The invariants checked between actions and again at the end. */
import type { Model, Tracked } from './model.js';
import { probe } from './probe.js';
import { CAPACITY_MB, INSTANCE_MB, type World } from './world.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

/** Every RUNNING instance answers with the boot id it had when it started. */
async function sameProcesses(m: Model, running: Tracked[]): Promise<void> {
  for (const t of running) {
    const reply = await probe(t.port);
    if (reply === null) m.discrepancy(`${t.instance} (${t.app}) should run but port ${t.port} does not answer`);
    else if (reply.boot !== t.boot) m.discrepancy(`${t.instance} (${t.app}) started twice: boot ${t.boot} became ${reply.boot}`);
  }
}

/** router.start makes the current agent register every route it has: ours must be there. */
async function routesRegistered(w: World, m: Model, running: Tracked[]): Promise<void> {
  const since = Date.now();
  w.bus.publish('router.start', {});
  for (const t of running) {
    const mine = (msg: any) => msg.receivedAt >= since && msg.data.dea === w.agent.id && Number(msg.data.port) === t.port;
    await w.registers.waitFor(mine, 15_000).catch(() => m.discrepancy(`${t.instance} (${t.app}): route not registered by the current agent ${w.agent.id}`));
  }
}

/**
 * dea.advertise's available memory is the capacity less what the model has running. The
 * agent may be a moment behind (a stop's reservation is freed when the stop ends), so a
 * few adverts are tried before the difference counts.
 */
export async function reservationsAddUp(w: World, m: Model): Promise<void> {
  const want = CAPACITY_MB - INSTANCE_MB * m.inState('RUNNING').length;
  const adverts = w.bus.record('dea.advertise');
  await adverts.ready();
  let got: number | undefined;
  try {
    for (let i = 0; i < 3 && got !== want; i++) {
      const since = Date.now();
      w.bus.publish('dea.locate', {});
      const a = await adverts.waitFor((msg) => msg.receivedAt >= since && msg.data.id === w.agent.id, 15_000).catch(() => undefined);
      got = a?.data.available_memory as number | undefined;
      if (got !== want) await new Promise((r) => setTimeout(r, 1_000));
    }
  } finally {
    adverts.stop();
  }
  if (got !== want) m.discrepancy(`reservations: dea.advertise says ${String(got)} MB available, the model expects ${want} MB`);
}

/**
 * No instance has more droplet.exited (CRASHED) than the soak caused; at the end (`final`),
 * none has fewer either. Each instance is reported once.
 */
export function exitsCounted(w: World, m: Model, reported: Set<string>, final: boolean): void {
  const counts = new Map<string, number>();
  for (const msg of w.exits.all()) {
    if (msg.data.reason !== 'CRASHED') continue;
    const id = String(msg.data.instance);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  for (const [id, n] of counts) {
    const t = m.instances.get(id);
    if (t === undefined && !reported.has(id)) {
      reported.add(id);
      m.discrepancy(`droplet.exited CRASHED for ${id}, an instance the soak never saw start`);
    } else if (t !== undefined && n > t.expectedExits && !reported.has(id)) {
      reported.add(id);
      if (n === t.expectedExits + 1 && resentAcrossRestart(w, m, id)) m.resent.push(`${id} (${t.app}): ${describeExits(w, id)}`);
      else m.discrepancy(`${id} (${t.app}): ${n} droplet.exited CRASHED, expected ${t.expectedExits}: ${describeExits(w, id)}`);
    }
  }
  if (!final) return;
  for (const t of m.instances.values()) {
    if (t.expectedExits > (counts.get(t.instance) ?? 0) && !reported.has(t.instance)) {
      reported.add(t.instance);
      m.discrepancy(`${t.instance} (${t.app}): crashed by the soak but no droplet.exited CRASHED`);
    }
  }
}

/**
 * Two identical reports with a nats-server restart begun between them: the first server
 * got the message but was stopped before it confirmed it, so the agent sent it again.
 */
function resentAcrossRestart(w: World, m: Model, id: string): boolean {
  const [first, second] = w.exits.filter((msg) => msg.data.instance === id && msg.data.reason === 'CRASHED');
  if (first === undefined || second === undefined) return false;
  if (JSON.stringify(first.data) !== JSON.stringify(second.data)) return false;
  return m.natsRestarts.some((at) => at >= first.receivedAt && at <= second.receivedAt);
}

/** The exits of one instance, for a report: when and with what description. */
function describeExits(w: World, id: string): string {
  return w.exits
    .filter((msg) => msg.data.instance === id)
    .map((msg) => `${new Date(msg.receivedAt).toISOString().slice(11, 23)} ${String(msg.data.exit_status)} "${String(msg.data.exit_description)}"`)
    .join('; ');
}

/** The periodic check: processes, routes, reservations, crash reports so far. */
export async function checkAll(w: World, m: Model, reported: Set<string>): Promise<void> {
  const running = m.inState('RUNNING');
  await sameProcesses(m, running);
  await routesRegistered(w, m, running);
  await reservationsAddUp(w, m);
  exitsCounted(w, m, reported, false);
}
