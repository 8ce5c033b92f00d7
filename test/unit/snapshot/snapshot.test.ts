import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSnapshot, snapshotText, SnapshotStore, SnapshotWriter, loadSnapshot, type SnapshotEntry } from '../../../src/snapshot/index.js';
import { silentLogger } from '../../../src/platform/logger.js';
import { VirtualClock } from '../../support/virtual-clock.js';

const entry: SnapshotEntry = {
  instanceId: 'a'.repeat(32),
  localId: 'a'.repeat(32),
  privateInstanceId: 'p'.repeat(64),
  spec: { applicationId: 'app', limits: { memMb: 128, diskMb: 256, fds: 1024 } } as unknown as SnapshotEntry['spec'],
  state: 'RUNNING',
  stateTimestamp: 1,
  startingTimestamp: 1,
  uris: ['a.example.com'],
  version: 'v1',
  hostPort: 61001,
  dropletSha1: 'b'.repeat(40),
  exitStatus: -1,
  exitDescription: '',
  crashTimestamp: null,
  backend: 'process',
  handle: { runDir: '/x', supervisorPid: 42, supervisorStart: 7 },
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dea-snapshot-'));
  dirs.push(d);
  return d;
}

describe('the snapshot format', () => {
  it('reads back what it wrote', () => {
    const parsed = parseSnapshot(snapshotText([entry], 5));
    expect(parsed).toEqual({ ok: true, snapshot: { version: 1, writtenAt: 5, instances: [entry] } });
  });

  it('refuses what is not JSON, another version, or a field out of shape, saying which', () => {
    expect(parseSnapshot('{"version": 1, "inst')).toEqual({ ok: false, problem: 'not JSON' });
    expect(parseSnapshot('{"version": 2, "writtenAt": 1, "instances": []}')).toEqual({ ok: false, problem: 'unknown version 2' });
    const bad = JSON.parse(snapshotText([entry], 5));
    bad.instances[0].localId = '../../etc';
    const parsed = parseSnapshot(JSON.stringify(bad));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toMatch(/^invalid at instances\.0\.localId/);
  });
});

describe('the store, the writer and the loader', () => {
  it('writes atomically (no temp file left) and reads back', () => {
    const dir = tempDir();
    const store = new SnapshotStore(join(dir, 'instances.json'));
    store.write('{"a":1}');
    store.write('{"a":2}');
    expect(store.read()).toBe('{"a":2}');
    expect(readdirSync(dir)).toEqual(['instances.json']);
  });

  it('coalesces the transitions of one turn into one write', async () => {
    const texts: string[] = [];
    const clock = new VirtualClock(1000);
    const writer = new SnapshotWriter({ write: (t) => texts.push(t) }, () => [entry], clock, silentLogger());
    for (let i = 0; i < 20; i++) writer.schedule();
    await Promise.resolve();
    expect(texts).toHaveLength(1);
    writer.schedule();
    await Promise.resolve();
    expect(texts).toHaveLength(2);
    expect(JSON.parse(texts[1]!).instances).toEqual([entry]);
  });

  it('sets an unusable snapshot aside and adopts nothing; none at all is no error', () => {
    const dir = tempDir();
    const path = join(dir, 'instances.json');
    const store = new SnapshotStore(path);
    expect(loadSnapshot(store, 1, silentLogger())).toEqual([]);
    writeFileSync(path, 'garbage');
    expect(loadSnapshot(store, 77, silentLogger())).toEqual([]);
    expect(readFileSync(join(dir, 'instances.json.unusable-77'), 'utf8')).toBe('garbage');
    store.write(snapshotText([entry], 2));
    expect(loadSnapshot(store, 3, silentLogger())).toEqual([entry]);
  });
});
