import { describe, expect, it } from 'vitest';
import { Subjects, epochSeconds, rubyTime, uptimeString, wholeSeconds } from '../../../src/protocol/index.js';

describe('wire time', () => {
  it('converts ms to float and whole epoch seconds', () => {
    expect(epochSeconds(1453370000123)).toBe(1453370000.123);
    expect(wholeSeconds(1453370100987)).toBe(1453370100);
  });

  it('formats Ruby Time#to_s in UTC, zero-padded', () => {
    expect(rubyTime(Date.UTC(2016, 0, 2, 3, 4, 5, 678))).toBe('2016-01-02 03:04:05 +0000');
  });

  it('formats vcap uptime, never negative', () => {
    expect(uptimeString(0, 59_999)).toBe('0d:0h:0m:59s');
    expect(uptimeString(0, (86400 + 3661) * 1000)).toBe('1d:1h:1m:1s');
    expect(uptimeString(10_000, 0)).toBe('0d:0h:0m:0s');
  });
});

describe('subjects', () => {
  it('spells every subject as dea_ng does', () => {
    expect(Subjects.start('0-abc')).toBe('dea.0-abc.start');
    expect(Subjects.subscriptions('0-abc')).toEqual([
      'dea.0-abc.start',
      'dea.stop',
      'dea.update',
      'dea.find.droplet',
      'dea.status',
      'dea.locate',
      'router.start',
      'healthmanager.start',
      'vcap.component.discover',
    ]);
    expect([
      Subjects.DEA_HELLO,
      Subjects.DEA_ADVERTISE,
      Subjects.STAGING_ADVERTISE,
      Subjects.DEA_HEARTBEAT,
      Subjects.DROPLET_EXITED,
      Subjects.ROUTER_REGISTER,
      Subjects.ROUTER_UNREGISTER,
      Subjects.DEA_SHUTDOWN,
      Subjects.COMPONENT_ANNOUNCE,
    ]).toEqual([
      'dea.start',
      'dea.advertise',
      'staging.advertise',
      'dea.heartbeat',
      'droplet.exited',
      'router.register',
      'router.unregister',
      'dea.shutdown',
      'vcap.component.announce',
    ]);
  });
});
