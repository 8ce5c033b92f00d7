import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { liveAgents, registerAgent, unregisterAgent } from '../../../src/network/agents.js';

describe('agent records', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dea-agents-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a running agent is live; a dead one is not, and pruning removes its record', async () => {
    await registerAgent(dir, 'aaaaaaaa');
    // pid 2^22 + 1 is above pid_max's ceiling: never a live process.
    await writeFile(join(dir, 'agents', 'bbbbbbbb'), `${2 ** 22 + 1} 12345\n`);
    expect([...liveAgents(dir)]).toEqual(['aaaaaaaa']);
    expect((await readdir(join(dir, 'agents'))).sort()).toEqual(['aaaaaaaa', 'bbbbbbbb']);
    liveAgents(dir, true);
    expect(await readdir(join(dir, 'agents'))).toEqual(['aaaaaaaa']);
    await unregisterAgent(dir, 'aaaaaaaa');
    expect(await readdir(join(dir, 'agents'))).toEqual([]);
  });
});
