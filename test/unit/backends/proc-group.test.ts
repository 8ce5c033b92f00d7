import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { groupMemberStarts, startTimeTicks, ticksSinceBoot } from '../../../src/backends/process/proc-tree.js';
import { kernelConstants } from '../../../src/monitor/kernel.js';

const started: number[] = [];
afterEach(() => {
  for (const pgid of started.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe('a process group, from /proc', () => {
  it('lists the start times of every member, all before now in ticks since boot', async () => {
    const leader = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { detached: true, stdio: 'ignore' });
    started.push(leader.pid!);
    let starts: number[] = [];
    for (let i = 0; i < 100 && starts.length < 3; i++) {
      starts = groupMemberStarts(leader.pid!);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(starts.length).toBe(3);
    const leaderStart = startTimeTicks(leader.pid!)!;
    const now = ticksSinceBoot(Date.now(), kernelConstants().clkTck);
    for (const s of starts) {
      expect(s).toBeGreaterThanOrEqual(leaderStart);
      expect(s).toBeLessThanOrEqual(now + 1);
    }
  });

  it('is empty once every member is gone', async () => {
    const leader = spawn('sh', ['-c', 'exit 0'], { detached: true, stdio: 'ignore' });
    await new Promise((r) => leader.once('exit', r));
    expect(groupMemberStarts(leader.pid!)).toEqual([]);
  });
});
