import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { treeBytes } from '../../../src/staging/tree-size.js';
import { statfsUsedBytes } from '../../../src/monitor/disk-source.js';

const dir = mkdtempSync(join(tmpdir(), 'dea-tree-size-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a tree\'s size', () => {
  it('counts allocated blocks, a hard-linked file once, and refuses a tree that is not there', async () => {
    mkdirSync(join(dir, 't', 'sub'), { recursive: true });
    writeFileSync(join(dir, 't', 'sub', 'a'), Buffer.alloc(1024 * 1024, 1));
    const one = await treeBytes(join(dir, 't'));
    expect(one).toBeGreaterThanOrEqual(1024 * 1024);
    linkSync(join(dir, 't', 'sub', 'a'), join(dir, 't', 'b'));
    expect(await treeBytes(join(dir, 't'))).toBeLessThan(one + 64 * 1024); // the link adds no data blocks
    await expect(treeBytes(join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
  });

  it('statfs says nothing for a directory that is not a mount point', () => {
    expect(statfsUsedBytes(dir)).toBeNull();
    expect(statfsUsedBytes('/proc')).not.toBeNull();
  });
});
