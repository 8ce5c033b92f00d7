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
