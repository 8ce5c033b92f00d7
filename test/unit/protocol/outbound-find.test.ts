import { describe, expect, it } from 'vitest';
import { INSTANCE_STATES } from '../../../src/instance/types.js';
import { findReply } from '../../../src/protocol/index.js';
import { APP, DEA_ID, INSTANCE_ID, VERSION, instance } from './fixtures.js';

const ctx = { deaId: DEA_ID, host: '10.0.16.5' };
const NOW = Date.UTC(2016, 0, 21, 10, 15, 5, 500);
const base = {
  dea: DEA_ID,
  droplet: APP,
  version: VERSION,
  instance: INSTANCE_ID,
  index: 0,
  state: 'RUNNING',
  state_timestamp: 1453370000.123,
  staged: `/${INSTANCE_ID}`,
};

describe('find.droplet reply', () => {
  it('without stats or path', () => {
    expect(findReply(ctx, instance(), { includeStats: false, hasPath: false, nowMs: NOW })).toEqual(base);
  });

  it('adds file_uri_v2 whenever the request had a path, null when there is no URI', () => {
    expect(findReply(ctx, instance(), { includeStats: false, hasPath: true, nowMs: NOW, fileUri: 'http://x/y' })).toEqual({
      ...base,
      file_uri_v2: 'http://x/y',
    });
    expect(findReply(ctx, instance(), { includeStats: false, hasPath: true, nowMs: NOW })).toEqual({ ...base, file_uri_v2: null });
  });

  it('adds stats for a running instance, with the latest usage sample', () => {
    const inst = instance({
      startingTimestamp: NOW - 95_700,
      usage: { time: Date.UTC(2016, 0, 21, 10, 15, 0), cpu: 0.012, memBytes: 51380224, diskBytes: 73400320 },
    });
    expect(findReply(ctx, inst, { includeStats: true, hasPath: false, nowMs: NOW })).toEqual({
      ...base,
      stats: {
        name: 'web',
        uris: ['web.example.com'],
        host: '10.0.16.5',
        port: 61001,
        uptime: 95,
        mem_quota: 268435456,
        disk_quota: 1073741824,
        fds_quota: 16384,
        usage: { time: '2016-01-21 10:15:00 +0000', cpu: 0.012, mem: 51380224, disk: 73400320 },
      },
    });
  });

  it('reports zero usage timed now before the first sample', () => {
    const reply = findReply(ctx, instance(), { includeStats: true, hasPath: false, nowMs: NOW });
    expect(reply.stats?.usage).toEqual({ time: '2016-01-21 10:15:05 +0000', cpu: 0, mem: 0, disk: 0 });
  });

  it('gives stats only for RUNNING instances, and only when asked', () => {
    for (const state of INSTANCE_STATES) {
      const reply = findReply(ctx, instance({ state }), { includeStats: true, hasPath: false, nowMs: NOW });
      expect('stats' in reply, state).toBe(state === 'RUNNING');
    }
    expect(findReply(ctx, instance(), { includeStats: false, hasPath: false, nowMs: NOW })).not.toHaveProperty('stats');
  });
});
