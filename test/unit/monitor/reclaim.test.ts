import { describe, expect, it } from 'vitest';
import { chooseVictim, reclaimDescription, type ReclaimCandidate } from '../../../src/monitor/reclaim.js';

const MIB = 1024 * 1024;
const c = (instanceId: string, guaranteeMb: number, usedMb: number, startedAtMs = 0): ReclaimCandidate => ({
  instanceId, guaranteeBytes: guaranteeMb * MIB, usedBytes: usedMb * MIB, startedAtMs,
});

describe('the reclaim policy', () => {
  it('takes the instance furthest above its guarantee, not the biggest', () => {
    const victim = chooseVictim([c('big-within', 512, 500), c('small-over', 64, 100), c('slightly-over', 128, 130)]);
    expect(victim?.instanceId).toBe('small-over');
  });

  it('never takes an instance within its guarantee, even when nothing else is over', () => {
    expect(chooseVictim([c('a', 64, 64), c('b', 128, 10)])).toBeNull();
    expect(chooseVictim([])).toBeNull();
  });

  it('between two equally far over, takes the younger', () => {
    expect(chooseVictim([c('old', 64, 96, 1_000), c('young', 64, 96, 2_000)])?.instanceId).toBe('young');
    expect(chooseVictim([c('young', 64, 96, 2_000), c('old', 64, 96, 1_000)])?.instanceId).toBe('young');
  });

  it('says what it used against what it was guaranteed', () => {
    expect(reclaimDescription(c('a', 64, 100))).toBe('out of memory: reclaimed for other instances (used 100 MB of a 64 MB guarantee)');
  });
});
