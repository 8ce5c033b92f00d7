import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader, MAX_BODY, parseReply, spawnFields } from '../../../../src/platform/spawner/frames.js';

describe('spawn helper frames', () => {
  it('frames fields as a little-endian length and NUL-terminated UTF-8', () => {
    const f = encodeFrame(['7', 'umount', '/x/é']);
    const body = Buffer.from('7\0umount\0/x/é\0', 'utf8');
    expect(f.readUInt32LE(0)).toBe(body.length);
    expect(f.subarray(4)).toEqual(body);
  });

  it('refuses a field with a NUL byte, and a body over the limit', () => {
    expect(() => encodeFrame(['1', 'spawn', 'a\0b'])).toThrow(/NUL/);
    expect(() => encodeFrame(['1', 'x'.repeat(MAX_BODY)])).toThrow(/over/);
  });

  it('reads frames split anywhere across chunks, and several in one chunk', () => {
    const bytes = Buffer.concat([encodeFrame(['1', 'ok']), encodeFrame(['0', 'exit', '42', '3', '0']), encodeFrame(['2', 'pid', '99'])]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new FrameReader();
      const got = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
      expect(got).toEqual([['1', 'ok'], ['0', 'exit', '42', '3', '0'], ['2', 'pid', '99']]);
    }
    const r = new FrameReader();
    expect(r.push(Buffer.from([5, 0]))).toEqual([]);
  });

  it('parses each reply kind and calls anything else unknown', () => {
    expect(parseReply(['3', 'ok'])).toEqual({ kind: 'ok', id: 3 });
    expect(parseReply(['3', 'pid', '1234'])).toEqual({ kind: 'pid', id: 3, pid: 1234 });
    expect(parseReply(['3', 'err', '2', 'exec'])).toEqual({ kind: 'err', id: 3, errno: 2, what: 'exec' });
    expect(parseReply(['0', 'exit', '77', '-1', '9'])).toEqual({ kind: 'exit', pid: 77, code: null, signal: 9 });
    expect(parseReply(['0', 'exit', '77', '3', '0'])).toEqual({ kind: 'exit', pid: 77, code: 3, signal: null });
    expect(parseReply(['4', 'inodes', '123', '456'])).toEqual({ kind: 'inodes', id: 4, inodes: ['123', '456'] });
    expect(parseReply(['4', 'inodes'])).toEqual({ kind: 'inodes', id: 4, inodes: [] });
    for (const bad of [['0', 'ok'], ['3', 'pid', 'x'], ['3', 'exit', '1', '0', '0'], ['3', 'what'], ['3', 'inodes', 'x'], []]) {
      expect(parseReply(bad).kind).toBe('unknown');
    }
  });

  it('lays a spawn out as cwd, logs, argc, argv, envc, env', () => {
    const fields = spawnFields({ file: '/bin/bash', args: ['s.sh', 'a b'], cwd: '/d', env: { A: '1', B: 'x=y' }, stdoutPath: '/o', stderrPath: '/e' });
    expect(fields).toEqual(['spawn', '/d', '/o', '/e', '3', '/bin/bash', 's.sh', 'a b', '2', 'A=1', 'B=x=y']);
  });
});
