import { describe, expect, it } from 'vitest';
import { renderTop, sortInstances } from '../../../src/cli/deactl/top-screen.js';
import { mask } from '../../../src/cli/deactl/mask.js';

const MIB = 2 ** 20;
const inst = (app: string, index: number, cpu: number, memMb: number): any => ({
  droplet: app,
  index,
  dea: '0-0123456789abcdef0123456789abcdef',
  state: 'RUNNING',
  stats: { usage: { cpu, mem: memMb * MIB, disk: 0 }, mem_quota: 128 * MIB },
});
const crashed: any = { droplet: 'b', index: 0, dea: '1-ff', state: 'CRASHED' };

describe('deactl top screen', () => {
  it('sorts by CPU or by memory against quota, instances without stats last', () => {
    const list = [inst('a', 0, 0.1, 100), crashed, inst('a', 1, 0.9, 10)];
    expect(sortInstances(list, 'cpu').map((i) => `${i.droplet}/${i.index}`)).toEqual(['a/1', 'a/0', 'b/0']);
    expect(sortInstances(list, 'mem').map((i) => `${i.droplet}/${i.index}`)).toEqual(['a/0', 'a/1', 'b/0']);
  });

  it('fits 80 columns, with bars against the quota', () => {
    const lines = renderTop({ instances: [inst('an-app-with-a-very-long-name', 3, 2.5, 64)], agents: 1, sort: 'cpu', now: new Date(0), columns: 80, rows: 24 });
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^deactl top: 1 agent\(s\), 1 instance\(s\), by CPU +00:00:00$/);
    expect(lines[3]).toContain('an-app-with-a-v…');
    expect(lines[3]).toContain('250.0% ██████████');
    expect(lines[3]).toContain('64M/128M █████░░░░░');
  });

  it('cuts the list to the screen and says how many more', () => {
    const many = Array.from({ length: 30 }, (_, i) => inst('a', i, 0, 1));
    const lines = renderTop({ instances: many, agents: 1, sort: 'cpu', now: new Date(0), columns: 80, rows: 10 });
    expect(lines).toHaveLength(9);
    expect(lines.at(-1)).toBe('… 25 more');
  });
});

describe('watch masking', () => {
  it('hides credentials, passwords in URLs and signatures at any depth', () => {
    const masked = mask({
      services: [{ credentials: { uri: 'x' } }],
      host: 'h',
      credentials: ['u', 'p'],
      nats: 'nats://user:secret@10.0.0.1:4222',
      file_uri_v2: 'http://h/instance_paths/i?hmac=abcdef0123&path=%2F&timestamp=1',
    });
    expect(JSON.stringify(masked)).not.toMatch(/secret|abcdef0123|"p"/);
    expect(masked).toMatchObject({ host: 'h', credentials: '***', nats: 'nats://user:***@10.0.0.1:4222' });
  });
});

describe('watch summaries', () => {
  it('says the common messages in a phrase, the rest as masked JSON', async () => {
    const { summarise } = await import('../../../src/cli/deactl/watch-summary.js');
    expect(summarise('dea.heartbeat', { dea: '0-0123456789abcdef', droplets: [{ droplet: 'web', index: 0, state: 'RUNNING' }] })).toBe('0-012345: web/0 RUNNING');
    expect(
      summarise('dea.advertise', { id: '1-abcdef123', available_memory: 384, available_disk: 1792, app_id_to_count: { web: 2 }, placement_properties: { zone: 'a' } }),
    ).toBe('1-abcdef zone a: 384M memory, 1792M disk free; web×2');
    expect(summarise('router.register', { app: 'web', uris: ['web.test'], host: '127.0.0.1', port: 61001, private_instance_id: 'x' })).toBe('web.test → 127.0.0.1:61001 (web)');
    expect(summarise('droplet.exited', { droplet: 'web', index: 1, reason: 'CRASHED', exit_description: 'app instance exited', exit_status: 1 })).toBe(
      'web/1 CRASHED: app instance exited (exit 1)',
    );
    expect(summarise('dea.0-abc.start', { droplet: 'web', index: 0, version: 'v1', limits: { mem: 128 }, stack: 's', env: ['SECRET=x'] })).toBe(
      'start web/0 version v1 (128M, stack s)',
    );
    expect(summarise('vcap.component.discover', { credentials: ['u', 'p'] })).toBe('{"credentials":"***"}');
    expect(summarise('dea.advertise', { nope: 1 })).toBe('{"nope":1}');
  });
});
