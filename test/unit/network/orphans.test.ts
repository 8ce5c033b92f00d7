import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Claims } from '../../../src/network/claims.js';
import type { NetCommands } from '../../../src/network/commands.js';
import { sweepOrphans } from '../../../src/network/orphans.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

/** Commands that record what they were asked and answer listings from fixed data. */
function fakeCommands(tables: string[], links: { ifname: string; ifalias: string }[]) {
  const ran: string[] = [];
  const commands: NetCommands = {
    ipBatch: async (script) => void ran.push(`ip ${script.trim()}`),
    nft: async (script) => void ran.push(`nft ${script.trim()}`),
    nftOutput: async () => JSON.stringify({ nftables: tables.map((name) => ({ table: { family: 'ip', name } })) }),
    ipOutput: async () => JSON.stringify(links),
    tcBatch: async () => undefined,
    sysctl: async () => undefined,
  };
  return { commands, ran };
}

describe('sweepOrphans', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dea-orphans-'));
    for (const d of ['netns', 'proc', 'claims']) await mkdir(join(dir, d));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('removes a namespace with no process once it is old, and what belongs to gone namespaces; keeps the rest', async () => {
    // A: an old namespace nobody is in. B: a young one (a start may be under way).
    await writeFile(join(dir, 'netns', `dea-11111111-${A}`), '');
    await writeFile(join(dir, 'netns', `dea-11111111-${B}`), '');
    const C = 'c'.repeat(32);
    const { commands, ran } = fakeCommands(
      [`dea_11111111_${B}`, `dea_11111111_${C}`, 'someone_else'],
      [{ ifname: `dea${C.slice(0, 10)}-2`, ifalias: `dea:11111111:${C}` }, { ifname: 'eth0', ifalias: 'uplink' }],
    );
    const claims = new Claims(join(dir, 'claims'), join(dir, 'netns'));
    await claims.init();
    await symlink(`dea-11111111-${C}`, join(dir, 'claims', 'ports', '61001'));
    const now = Date.now();
    const { utimes, lutimes } = await import('node:fs/promises');
    const old = new Date(now - 600_000);
    await utimes(join(dir, 'netns', `dea-11111111-${A}`), old, old);
    await lutimes(join(dir, 'claims', 'ports', '61001'), old, old);
    const removed = await sweepOrphans({ commands, claims, netnsDir: join(dir, 'netns'), procDir: join(dir, 'proc'), now: () => now });
    expect(removed).toEqual(expect.arrayContaining([`netns dea-11111111-${A}`, `table dea_11111111_${C}`, `link dea${C.slice(0, 10)}-2`, 'ports 61001']));
    expect(removed.some((r) => r.includes(B))).toBe(false);
    expect(ran).not.toContain('nft delete table ip someone_else');
    expect(ran.some((r) => r.includes('eth0'))).toBe(false);
  });

  it("takes a dead agent's empty namespaces at once, and never a live agent's", async () => {
    await writeFile(join(dir, 'netns', `dea-22222222-${A}`), '');
    await writeFile(join(dir, 'netns', `dea-33333333-${B}`), '');
    const { commands } = fakeCommands([], []);
    const claims = new Claims(join(dir, 'claims'), join(dir, 'netns'));
    const removed = await sweepOrphans({
      commands, claims, netnsDir: join(dir, 'netns'), procDir: join(dir, 'proc'),
      deadTags: new Set(['22222222']), liveTags: new Set(['33333333']),
    });
    expect(removed).toEqual([`netns dea-22222222-${A}`]);
  });
});
