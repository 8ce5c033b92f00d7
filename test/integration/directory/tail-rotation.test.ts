/**
 * `?tail` across the agent's own log rotation (copy to `.1`, truncate in place) while the
 * app writes a hundred lines a second: through bin/dea and nats-server, with a small
 * `log_max_bytes` and a fast monitor so the log rotates several times while the tail
 * runs. Lines written between the copy and the truncation are in `.1`, not in the live
 * file, so the tail may skip some; it must never send a line twice, out of order or torn.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { stream } from '../../support/directory/http.js';
import { eventually } from '../../support/eventually.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

// Lines of varying content and length: a tail that lost its place would cut one in two.
const WRITER =
  "node -e \"let i=0; setInterval(() => console.log('tick ' + i++ + ' ' + require('crypto').randomBytes(8 + (i % 23)).toString('hex')), 10)\" & exec node server.js";
const LINE = /^tick (\d+) (?:[0-9a-f]{2}){8,30}$/;

let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({ instance: { stop_grace_secs: 2, log_max_bytes: 4096 }, monitor: { interval_ms: 200 } });
  const registered = s.bus.record('router.register');
  await s.bus.flush();
  await s.start('serves-http-v2', 'dir-rotating', { start_command: WRITER });
  await registered.waitFor((m) => m.data.app === 'dir-rotating', 20_000);
});

afterAll(async () => s?.close());

it('follows the live log through several rotations, in order and whole', async () => {
  const [found] = await s.find({ droplet: 'dir-rotating', path: 'logs/stdout.log' });
  const rotations = () => s.agent.logs().filter((l) => l.event === 'instance.logs.rotated' && l.instance_id === found.instance).length;
  const t = stream(`${found.file_uri_v2}&tail`);
  try {
    await eventually(() => t.body().length > 0, 15_000, 'tail streaming');
    const before = rotations();
    await eventually(() => rotations() >= before + 3, 20_000, 'three rotations while tailing');
    // Lines written after the last of them reach the tail too.
    const lastSeen = () => Number(/tick (\d+) [0-9a-f]+\n$/.exec(t.body())?.[1] ?? -1);
    const target = lastSeen() + 50;
    await eventually(() => lastSeen() >= target, 15_000, 'lines after the rotations');
  } finally {
    t.close();
  }
  // The first line may have been caught mid-way only if the tail started mid-line; it did
  // not (the app writes whole lines), so every line must be whole.
  const lines = t.body().split('\n').slice(0, -1).filter((l) => !l.includes('listening on'));
  const numbers = lines.map((l) => {
    const m = LINE.exec(l);
    expect(m, `torn or foreign line: ${JSON.stringify(l)}`).not.toBeNull();
    return Number(m![1]);
  });
  for (let k = 1; k < numbers.length; k++) expect(numbers[k]!).toBeGreaterThan(numbers[k - 1]!);
});
