import { describe, expect, it } from 'vitest';
import { createUrlSigner, URL_VALIDITY_MS } from '../../../src/directory/signer.js';
import { VirtualClock } from '../../support/virtual-clock.js';

const SECRET = Buffer.alloc(64, 7);
const RESOURCE = '/instance_paths/' + 'a'.repeat(32);

function setUp(secret: Buffer = SECRET) {
  const clock = new VirtualClock(1_767_225_600_000);
  return { clock, signer: createUrlSigner({ secret, now: () => clock.now() }) };
}

describe('directory URL signer', () => {
  it('signs the path and the time with a 128-hex HMAC, keys sorted', () => {
    const { signer } = setUp();
    const query = signer.sign(RESOURCE, '/logs/stdout.log');
    expect(query).toMatch(/^hmac=[0-9a-f]{128}&path=%2Flogs%2Fstdout\.log&timestamp=1767225600$/);
    expect(signer.verify(RESOURCE, new URLSearchParams(query))).toBe('ok');
  });

  it('accepts extra keys (tail, tail_offset) and any key order', () => {
    const { signer } = setUp();
    const q = new URLSearchParams(signer.sign(RESOURCE, 'logs'));
    const reordered = new URLSearchParams([['tail', ''], ['timestamp', q.get('timestamp')!], ['path', 'logs'], ['hmac', q.get('hmac')!], ['tail_offset', '5']]);
    expect(signer.verify(RESOURCE, reordered)).toBe('ok');
  });

  it('is valid for one hour on its clock, then expired', async () => {
    const { clock, signer } = setUp();
    const q = new URLSearchParams(signer.sign(RESOURCE, '/'));
    await clock.advance(URL_VALIDITY_MS);
    expect(signer.verify(RESOURCE, q)).toBe('ok');
    await clock.advance(1000);
    expect(signer.verify(RESOURCE, q)).toBe('expired');
  });

  it('refuses a timestamp far in the future as expired, a little skew is fine', () => {
    const { clock, signer } = setUp();
    const q = new URLSearchParams(signer.sign(RESOURCE, '/'));
    const early = createUrlSigner({ secret: SECRET, now: () => clock.now() - 30_000 });
    expect(early.verify(RESOURCE, q)).toBe('ok');
    const past = createUrlSigner({ secret: SECRET, now: () => clock.now() - 5 * 60_000 });
    expect(past.verify(RESOURCE, q)).toBe('expired');
  });

  it('refuses a changed path, resource, timestamp or HMAC, and another secret', () => {
    const { signer } = setUp();
    const good = new URLSearchParams(signer.sign(RESOURCE, '/app'));
    const tweak = (k: string, v: string) => {
      const q = new URLSearchParams(good);
      q.set(k, v);
      return q;
    };
    expect(signer.verify(RESOURCE, tweak('path', '/logs'))).toBe('invalid');
    expect(signer.verify(RESOURCE, tweak('timestamp', String(Number(good.get('timestamp')) + 1)))).toBe('invalid');
    expect(signer.verify(RESOURCE, tweak('hmac', 'f'.repeat(128)))).toBe('invalid');
    expect(signer.verify(RESOURCE, tweak('hmac', good.get('hmac')!.toUpperCase()))).toBe('invalid');
    expect(signer.verify(RESOURCE, tweak('hmac', 'short'))).toBe('invalid');
    expect(signer.verify('/instance_paths/' + 'b'.repeat(32), good)).toBe('invalid');
    expect(setUp(Buffer.alloc(64, 8)).signer.verify(RESOURCE, good)).toBe('invalid');
  });

  it('refuses a URL without a signature, or with a signed key given twice', () => {
    const { signer } = setUp();
    expect(signer.verify(RESOURCE, new URLSearchParams('path=%2F&timestamp=1'))).toBe('invalid');
    const good = signer.sign(RESOURCE, '/logs');
    expect(signer.verify(RESOURCE, new URLSearchParams(`${good}&path=..%2F..`))).toBe('invalid');
    expect(signer.verify(RESOURCE, new URLSearchParams(`${good}&timestamp=9999999999`))).toBe('invalid');
  });

  it('signs an encoded path so that any client encoding verifies the same', () => {
    const { signer } = setUp();
    const q = new URLSearchParams(signer.sign(RESOURCE, '/app/a b+c%d/é'));
    expect(q.get('path')).toBe('/app/a b+c%d/é');
    // The same values, as a client that encodes spaces as + would send them.
    expect(signer.verify(RESOURCE, new URLSearchParams(q.toString()))).toBe('ok');
  });

  it('needs a real secret', () => {
    expect(() => createUrlSigner({ secret: Buffer.alloc(8), now: () => 0 })).toThrow(/secret/);
  });
});
