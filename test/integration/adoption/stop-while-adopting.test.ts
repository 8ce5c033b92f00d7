/**
 * TERM reaching an agent while it adopts what the last one left (it is still starting):
 * it exits 0 like any graceful shutdown, stopping the instances it adopted, and it does
 * not start serving after the TERM.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { waitFor } from '../container/harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
let s: AgentSuite;
const config = { backend: { kind: 'process' } };

beforeAll(async () => {
  s = await agentSuite(config);
});
afterAll(async () => {
  await s?.close();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('a TERM while adopting ends in exit 0 with the adopted instances stopped', async () => {
  const first = await s.startAgent({ config });
  const reg = s.bus.record('router.register');
  await reg.ready();
  const apps = ['stop-adopt-a', 'stop-adopt-b', 'stop-adopt-c'];
  for (const app of apps) await s.startOn(first, 'serves-http', app);
  const pids: number[] = [];
  for (const app of apps) {
    const r = await reg.waitFor((m) => m.data.app === app, 30_000);
    pids.push(((await (await fetch(`http://127.0.0.1:${r.data.port}/`)).json()) as any).pid as number);
  }
  reg.stop();
  first.child.kill('SIGKILL');
  await first.exited;
  expect(pids.every(alive)).toBe(true);

  // The next agent has chosen its instance directories: the snapshot is read next.
  const next = await s.startAgent({ baseDir: first.baseDir, config, startedWhen: (l) => l.event === 'staging.dirs.chosen' });
  next.child.kill('SIGTERM');
  expect(await next.exited).toBe(0);
  const events = next.logs().map((l) => l.event);
  expect(events).toContain('agent.adopted');
  // Stopped before serving, or (a TERM that came after adoption) a plain shutdown.
  if (events.includes('agent.stopped_before_serving')) expect(events).not.toContain('agent.ready');
  else expect(events).toContain('agent.shutdown.finished');
  await waitFor(() => expect(pids.filter(alive)).toEqual([]), 15_000);
}, 120_000);
