/**
 * The soak (issue 12): for --minutes, random starts, stops, app crashes, kill -9 and
 * restarts of the agent and restarts of nats-server against one real agent, checking
 * the agent against the soak's own model between actions and, at the end, that nothing
 * leaked. `npm run soak -- --minutes 10 --seed 42 --backend process|container`.
 * Exit code 1 on any discrepancy or leak. Not part of `npm test`.
 */
import { Cleanup } from './cleanup.js';
import { crashOne, killAgent, restartNats, startApp, stopOne, type ActionKind } from './soak/actions.js';
import { parseArgs } from './soak/args.js';
import { checkAll } from './soak/checks.js';
import { finish, type Leaks } from './soak/final.js';
import { Model } from './soak/model.js';
import { batchLine, finalReport, leakCount, progress } from './soak/report.js';
import { Rng } from './soak/rng.js';
import { makeWorld, type World } from './soak/world.js';

const BATCH = 5;
/** Enough to exercise adoption of many, few enough for a small machine's container backend. */
const MAX_RUNNING = 12;
const WEIGHTS: Record<ActionKind, number> = { start: 4, stop: 2, crash: 2, 'kill-agent': 1, 'restart-nats': 1 };

/** The action to run: a stop or crash needs something running, a start needs room. */
function choose(m: Model, rng: Rng): ActionKind {
  const kind = rng.weighted(WEIGHTS);
  const running = m.inState('RUNNING').length;
  if ((kind === 'stop' || kind === 'crash') && running === 0) return 'start';
  if (kind === 'start' && running >= MAX_RUNNING) return 'stop';
  return kind;
}

async function act(kind: ActionKind, w: World, m: Model, rng: Rng): Promise<void> {
  const victim = () => rng.pick(m.inState('RUNNING'))!;
  if (kind === 'start') await startApp(w, m, rng);
  else if (kind === 'stop') await stopOne(w, m, victim());
  else if (kind === 'crash') await crashOne(w, m, victim());
  else if (kind === 'kill-agent') await killAgent(w, m, rng);
  else await restartNats(w, m);
}

async function soak(cleanup: Cleanup, m: Model, counts: Record<string, number>): Promise<Leaks> {
  const args = parseArgs(process.argv.slice(2));
  const rng = new Rng(args.seed);
  const w = await makeWorld(args.backend, args.seed, cleanup);
  progress(`agent ${w.agent.id} on ${w.baseDir}, backend ${args.backend}, seed ${args.seed}, cgroup root ${w.cgroupRoot}`);
  const reported = new Set<string>();
  const started = Date.now();
  const end = started + args.minutes * 60_000;
  while (Date.now() < end) {
    const kind = choose(m, rng);
    m.cycle++;
    counts[kind] = (counts[kind] ?? 0) + 1;
    const t0 = Date.now();
    await act(kind, w, m, rng);
    if (process.env['SOAK_TRACE'] === '1') progress(`cycle ${m.cycle} ${kind} done`);
    const t1 = Date.now();
    // Adoption and reconnection are where things go wrong: check right after them too.
    if (m.cycle % BATCH === 0 || kind === 'kill-agent' || kind === 'restart-nats') await checkAll(w, m, reported);
    // A slow step is worth seeing: it is where an agent under stress struggles.
    if (Date.now() - t0 > 10_000) progress(`cycle ${m.cycle} ${kind}: ${t1 - t0} ms, check ${Date.now() - t1} ms`);
    if (m.cycle % BATCH === 0) progress(batchLine(m, counts, started));
  }
  progress('time is up: stopping every instance and the agent');
  return finish(w, m, reported);
}

const args = parseArgs(process.argv.slice(2));
const cleanup = new Cleanup();
const model = new Model(args.seed);
const counts: Record<string, number> = {};
let leaks: Leaks | null = null;
let failure: unknown;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    progress(`${sig}: cleaning up`);
    void cleanup.run().then(() => process.exit(130));
  });
}
try {
  leaks = await soak(cleanup, model, counts);
} catch (err) {
  failure = err;
  model.discrepancy(`the soak itself failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await cleanup.run();
}
process.stdout.write(finalReport(args, model, counts, leaks, 'one nats-server'));
process.exit(model.discrepancies.length > 0 || leakCount(leaks) > 0 || failure !== undefined ? 1 : 0);
