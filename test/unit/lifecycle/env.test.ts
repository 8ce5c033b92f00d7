import { describe, expect, it } from 'vitest';
import type { ServiceBinding, StartSpec } from '../../../src/instance/types.js';
import { buildEnvironment } from '../../../src/lifecycle/env.js';
import { newInstance } from '../instance/fixtures.js';

const DIR = '/var/dea/instances/' + 'a'.repeat(32);
const STARTED = Date.UTC(2024, 0, 2, 3, 4, 5);

function envOf(over: Partial<StartSpec> = {}): [string, string][] {
  return buildEnvironment({ instance: newInstance(over), dir: DIR, home: `${DIR}/app`, port: 61_001, localIp: '10.0.0.5', startedAtMs: STARTED });
}

const get = (env: [string, string][], key: string) => env.find(([k]) => k === key)?.[1];

function mysql(uri: unknown): ServiceBinding {
  return { name: 'db', label: 'cleardb', credentials: { uri }, plan: 'spark' };
}

describe('buildEnvironment', () => {
  it('exports the system variables in dea_ng order, then the message env', () => {
    const env = envOf({ environment: [['FOO', 'bar']] });
    expect(env.map(([k]) => k)).toEqual([
      'VCAP_APPLICATION', 'VCAP_SERVICES', 'MEMORY_LIMIT', 'HOME', 'TMPDIR', 'VCAP_APP_HOST', 'VCAP_APP_PORT', 'PORT',
      'CF_INSTANCE_INDEX', 'CF_INSTANCE_IP', 'CF_INSTANCE_PORT', 'CF_INSTANCE_ADDR', 'CF_INSTANCE_PORTS', 'CF_INSTANCE_GUID', 'FOO',
    ]);
    expect(get(env, 'MEMORY_LIMIT')).toBe('256m');
    expect(get(env, 'HOME')).toBe(`${DIR}/app`);
    expect(get(env, 'TMPDIR')).toBe(`${DIR}/tmp`);
    expect(get(env, 'PORT')).toBe('61001');
    expect(get(env, 'CF_INSTANCE_ADDR')).toBe('10.0.0.5:61001');
    expect(JSON.parse(get(env, 'CF_INSTANCE_PORTS') ?? '')).toEqual([{ external: 61_001, internal: 61_001 }]);
  });

  it('lets the message env override a system variable by coming later, values literal', () => {
    const env = envOf({ environment: [['PORT', '1'], ['X', '$HOME `id`']] });
    expect(env.filter(([k]) => k === 'PORT').map(([, v]) => v)).toEqual(['61001', '1']);
    expect(get(env, 'X')).toBe('$HOME `id`');
  });

  it('VCAP_APPLICATION: the message fields first, the agent-owned fields win', () => {
    const env = envOf({ vcapApplication: { space_name: 'dev', instance_id: 'forged', port: 1 } });
    const va = JSON.parse(get(env, 'VCAP_APPLICATION') ?? '') as Record<string, unknown>;
    expect(va).toMatchObject({
      space_name: 'dev',
      application_name: 'web',
      limits: { mem: 256, disk: 1024, fds: 1024 },
      port: 61_001,
      host: '0.0.0.0',
      started_at: '2024-01-02 03:04:05 +0000',
      started_at_timestamp: STARTED / 1000,
    });
    expect(va.instance_id).not.toBe('forged');
  });

  it('VCAP_SERVICES groups bindings by label and keeps only the known keys', () => {
    const withExtra = { ...mysql('mysql://u:p@h/db'), extra: 1 };
    const env = envOf({ services: [withExtra] });
    expect(JSON.parse(get(env, 'VCAP_SERVICES') ?? '')).toEqual({
      cleardb: [{ name: 'db', label: 'cleardb', plan: 'spark', credentials: { uri: 'mysql://u:p@h/db' } }],
    });
  });

  it('DATABASE_URL: the first relational binding with the scheme Ruby expects; none without services', () => {
    expect(get(envOf({ services: [mysql(42), mysql('mysql://u:p@h/db')] }), 'DATABASE_URL')).toBe('mysql2://u:p@h/db');
    expect(get(envOf({ services: [mysql('postgresql://h/db')] }), 'DATABASE_URL')).toBe('postgres://h/db');
    expect(get(envOf({ services: [mysql('redis://h')] }), 'DATABASE_URL')).toBe('');
    expect(envOf().some(([k]) => k === 'DATABASE_URL')).toBe(false);
  });
});
