import { describe, expect, it } from 'vitest';
import {
  advertise,
  componentAnnounce,
  componentDiscover,
  goodbye,
  hello,
  stagingAdvertise,
  statusReply,
} from '../../../src/protocol/index.js';
import { APP, DEA_ID } from './fixtures.js';

describe('agent messages', () => {
  it('hello', () => {
    expect(hello({ id: DEA_ID, ip: '10.0.16.5' })).toEqual({ id: DEA_ID, ip: '10.0.16.5', version: '0.0.1' });
  });

  it('advertise', () => {
    const msg = advertise({
      id: DEA_ID,
      stacks: ['cflinuxfs2'],
      availableMemoryMb: 7744,
      availableDiskMb: 30976,
      appIdToCount: { [APP]: 1 },
      zone: 'default',
    });
    expect(msg).toEqual({
      id: DEA_ID,
      stacks: ['cflinuxfs2'],
      available_memory: 7744,
      available_disk: 30976,
      app_id_to_count: { [APP]: 1 },
      placement_properties: { zone: 'default' },
    });
  });

  it('advertise from a Map keeps an app id like __proto__ as a plain key', () => {
    const msg = advertise({
      id: DEA_ID,
      stacks: [],
      availableMemoryMb: 0,
      availableDiskMb: 0,
      appIdToCount: new Map([['__proto__', 2]]),
      zone: 'z1',
    });
    expect(JSON.parse(JSON.stringify(msg)).app_id_to_count).toEqual(JSON.parse('{"__proto__":2}'));
  });

  it('staging advertise has no stacks and no capacity', () => {
    expect(stagingAdvertise({ id: DEA_ID })).toEqual({ id: DEA_ID, stacks: [], available_memory: 0, available_disk: 0 });
  });

  it('goodbye', () => {
    expect(goodbye({ id: DEA_ID, ip: '10.0.16.5', appIdToCount: { [APP]: 1 } })).toEqual({
      id: DEA_ID,
      ip: '10.0.16.5',
      version: '0.0.1',
      app_id_to_count: { [APP]: 1 },
    });
  });

  it('status reply', () => {
    expect(statusReply({ id: DEA_ID, ip: '10.0.16.5', maxMemoryMb: 8192, reservedMemoryMb: 512, usedMemoryMb: 60 })).toEqual({
      id: DEA_ID,
      ip: '10.0.16.5',
      version: '0.0.1',
      max_memory: 8192,
      reserved_memory: 512,
      used_memory: 60,
      num_clients: null,
    });
  });
});

describe('component discovery', () => {
  const info = {
    type: 'DEA' as const,
    index: 0,
    uuid: DEA_ID,
    host: '10.0.16.5:34501',
    credentials: ['admin', 'secret'] as const,
    startMs: Date.UTC(2016, 0, 21, 10, 15, 0),
  };

  it('announce', () => {
    expect(componentAnnounce(info)).toEqual({
      type: 'DEA',
      index: 0,
      uuid: DEA_ID,
      host: '10.0.16.5:34501',
      credentials: ['admin', 'secret'],
      start: '2016-01-21 10:15:00 +0000',
    });
  });

  it('discover reply adds the uptime', () => {
    const nowMs = info.startMs + ((2 * 24 + 3) * 3600 + 4 * 60 + 5) * 1000 + 999;
    expect(componentDiscover({ ...info, nowMs })).toEqual({
      type: 'DEA',
      index: 0,
      uuid: DEA_ID,
      host: '10.0.16.5:34501',
      credentials: ['admin', 'secret'],
      start: '2016-01-21 10:15:00 +0000',
      uptime: '2d:3h:4m:5s',
    });
  });
});
