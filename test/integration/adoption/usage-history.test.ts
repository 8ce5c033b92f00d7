/**
 * The monitor's history survives a kill -9 of the agent: the next agent on the same
 * base_dir answers `dea.find.droplet` with the adopted instance's last sample before its
 * own monitor has ticked once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { waitFor } from '../container/harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({ backend: { kind: 'process' } });
});
afterAll(async () => {
  await s?.close();
});

/** The rows db/usage.json holds for `localId`, or none yet. */
function rowsOf(baseDir: string, localId: string): number[][] {
  const file = join(baseDir, 'db', 'usage.json');
  if (!existsSync(file)) return [];
  return (JSON.parse(readFileSync(file, 'utf8')).instances[localId] as number[][] | undefined) ?? [];
}

it('an adopted instance answers with its last sample before the next agent\'s monitor ticks', async () => {
  // A fast monitor: the history is written every 5 ticks, here every second.
  const first = await s.startAgent({ config: { backend: { kind: 'process' }, monitor: { interval_ms: 200 } } });
  const reg = s.bus.record('router.register');
  await reg.ready();
  await s.startOn(first, 'serves-http', 'history-app');
  await reg.waitFor((m) => m.data.app === 'history-app' && m.data.dea === first.id, 30_000);
  const [found] = await s.find({ droplet: 'history-app' }, first);
  const instance = found.instance as string;
  // A sample with memory in db/usage.json.
  await waitFor(() => expect(rowsOf(first.baseDir, instance).some((r) => r[2]! > 0)).toBe(true), 30_000);

  first.child.kill('SIGKILL');
  await first.exited;
  const rows = rowsOf(first.baseDir, instance);
  const last = rows[rows.length - 1]!;
  // A monitor that would not tick for a minute: whatever usage it reports came from disk.
  const next = await s.startAgent({ baseDir: first.baseDir, config: { backend: { kind: 'process' }, monitor: { interval_ms: 60_000 } } });
  const [after] = await s.find({ droplet: 'history-app', include_stats: true }, next);
  expect(after.state).toBe('RUNNING');
  expect(after.stats.usage.mem).toBe(last[2]);
  expect(after.stats.usage.disk).toBe(last[3]);
  reg.stop();
  expect(await next.stop()).toBe(0);
}, 120_000);
