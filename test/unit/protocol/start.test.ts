import { describe, expect, it } from 'vitest';
import { MessageError } from '../../../src/errors.js';
import { parseStart } from '../../../src/protocol/index.js';
import { APP, SHA1, VERSION, problemsOf, startMessage } from './fixtures.js';

const encode = (v: unknown) => JSON.stringify(v);
const withFields = (over: Record<string, unknown>) => encode({ ...startMessage(), ...over });
const without = (...keys: string[]) => {
  const m = startMessage();
  for (const k of keys) delete m[k];
  return encode(m);
};

describe('parseStart: a realistic message', () => {
  it('translates every field of the protocol §20 start message', () => {
    const msg = startMessage();
    expect(parseStart(new TextEncoder().encode(encode(msg)))).toEqual({
      applicationId: APP,
      applicationVersion: VERSION,
      applicationName: 'web',
      instanceIndex: 0,
      ccPartition: 'default',
      uris: ['web.example.com'],
      stack: 'cflinuxfs2',
      dropletSha1: SHA1,
      dropletUri: `https://blobstore.example.com/droplets/${APP}?signature=abc`,
      startCommand: null,
      healthCheckTimeoutSecs: null,
      limits: { memMb: 256, diskMb: 1024, fds: 16384 },
      environment: [
        ['FOO', 'bar'],
        ['CF_PROCESS_TYPE', 'web'],
        ['EQ', 'a=b=c'],
        ['EMPTY', ''],
      ],
      services: [
        {
          name: 'db',
          label: 'elephantsql',
          credentials: { uri: 'postgres://u:p@db:5432/x' },
          tags: ['postgres'],
          plan: 'turtle',
          syslog_drain_url: null,
        },
      ],
      vcapApplication: msg['vcap_application'],
      egress: { ok: true, rules: [{ protocol: 'all', destination: { first: 0, last: 0x09ffffff }, ports: [], icmpType: null, icmpCode: null, log: false }] },
    });
  });

  it('applies the defaults of optional fields', () => {
    const spec = parseStart(without('cc_partition', 'uris', 'limits', 'sha1', 'env', 'services', 'vcap_application', 'stack', 'start_command', 'health_check_timeout'));
    expect(spec).toMatchObject({
      ccPartition: 'default',
      uris: [],
      limits: { memMb: 512, diskMb: 256, fds: 1024 },
      dropletSha1: null,
      environment: [],
      services: [],
      vcapApplication: {},
      stack: null,
      startCommand: null,
      healthCheckTimeoutSecs: null,
    });
  });

  it('treats null optional fields as absent, as Ruby senders mean them', () => {
    const spec = parseStart(withFields({ limits: null, uris: null, cc_partition: null, env: null }));
    expect(spec).toMatchObject({ limits: { memMb: 512, diskMb: 256, fds: 1024 }, uris: [], ccPartition: 'default', environment: [] });
  });

  it('fills a missing limits sub-key with its v1 default', () => {
    expect(parseStart(withFields({ limits: { mem: 128 } })).limits).toEqual({ memMb: 128, diskMb: 256, fds: 1024 });
    expect(parseStart(withFields({ limits: { disk: 64, fds: 10 } })).limits).toEqual({ memMb: 512, diskMb: 64, fds: 10 });
  });

  it('coerces a v1 integer droplet id to a string', () => {
    expect(parseStart(withFields({ droplet: 42 })).applicationId).toBe('42');
  });

  it('accepts http:, https: and file: droplet URIs', () => {
    for (const uri of ['http://cc:9022/d', 'https://b/x', 'file:///var/droplets/a.tgz']) {
      expect(parseStart(withFields({ executableUri: uri })).dropletUri).toBe(uri);
    }
  });

  it('keeps a start command and health check timeout, lower-cases the sha1', () => {
    const spec = parseStart(withFields({ start_command: 'bundle exec rackup -p $PORT', health_check_timeout: 120, sha1: SHA1.toUpperCase() }));
    expect(spec).toMatchObject({ startCommand: 'bundle exec rackup -p $PORT', healthCheckTimeoutSecs: 120, dropletSha1: SHA1 });
  });

  it('reads an empty start command as none', () => {
    expect(parseStart(withFields({ start_command: '' })).startCommand).toBeNull();
  });
});

describe('parseStart: bad input', () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['invalid JSON', '{"droplet": ', /^message: not valid JSON$/],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), /^message: not valid UTF-8$/],
    ['a JSON array', '[]', /^message: /],
    ['uris as a string', withFields({ uris: 'web.example.com' }), /^uris: .*expected array/],
    ['a non-string uri', withFields({ uris: [1] }), /^uris\.0: /],
    ['an over-long uri', withFields({ uris: ['a'.repeat(256)] }), /^uris\.0: Too big/],
    ['limits.mem as a string', withFields({ limits: { mem: '256' } }), /^limits\.mem: .*expected number/],
    ['limits.disk zero', withFields({ limits: { disk: 0 } }), /^limits\.disk: /],
    ['limits.fds fractional', withFields({ limits: { fds: 1.5 } }), /^limits\.fds: /],
    ['limits as a number', withFields({ limits: 512 }), /^limits: /],
    ['a negative index', withFields({ index: -1 }), /^index: /],
    ['a fractional index', withFields({ index: 0.5 }), /^index: /],
    ['a name over 4096 chars', withFields({ name: 'x'.repeat(4097) }), /^name: Too big/],
    ['an absurdly long stack', withFields({ stack: 'x'.repeat(100_000) }), /^stack: Too big/],
    ['a start_command over 64 KiB', withFields({ start_command: 'x'.repeat(64 * 1024 + 1) }), /^start_command: Too big/],
    ['an env entry over 32 KiB', withFields({ env: [`A=${'x'.repeat(32 * 1024)}`] }), /^env\.0: Too big/],
    ['over 1000 uris', withFields({ uris: Array.from({ length: 1001 }, (_, i) => `h${i}.example.com`) }), /^uris: Too big/],
    ['over 1000 env entries', withFields({ env: Array.from({ length: 1001 }, () => 'A=1') }), /^env: Too big/],
    ['a droplet with "/"', withFields({ droplet: 'a/b' }), /^droplet: must not contain/],
    ['a droplet of ".."', withFields({ droplet: '..' }), /^droplet: must not contain/],
    ['a version of "."', withFields({ version: '.' }), /^version: must not contain/],
    ['a version with NUL', withFields({ version: 'a\0b' }), /^version: must not contain/],
    ['a droplet id over 255 chars', withFields({ droplet: 'a'.repeat(256) }), /^droplet: Too big/],
    ['an empty droplet id', withFields({ droplet: '' }), /^droplet: Too small/],
    ['a fractional droplet number', withFields({ droplet: 1.5 }), /^droplet: .*expected string/],
    ['an env entry without "="', withFields({ env: ['FOO'] }), /^env\.0: expected KEY=VALUE/],
    ['an env entry with a bad key', withFields({ env: ['1FOO=x'] }), /^env\.0: expected KEY=VALUE/],
    ['an env entry with an empty key', withFields({ env: ['=x'] }), /^env\.0: expected KEY=VALUE/],
    ['an env entry with NUL', withFields({ env: ['FOO=a\0b'] }), /^env\.0: must not contain NUL/],
    ['env as a map', withFields({ env: { FOO: 'bar' } }), /^env: /],
    ['a short sha1', withFields({ sha1: 'abc' }), /^sha1: expected 40 hex/],
    ['an ftp droplet URI', withFields({ executableUri: 'ftp://x/d.tgz' }), /^executableUri: expected an http/],
    ['a relative droplet URI', withFields({ executableUri: '/tmp/d.tgz' }), /^executableUri: expected an http/],
    ['a zero health check timeout', withFields({ health_check_timeout: 0 }), /^health_check_timeout: /],
    ['a service without a label', withFields({ services: [{ name: 'db', credentials: {} }] }), /^services\.0\.label: is required$/],
    ['a service without credentials', withFields({ services: [{ name: 'db', label: 'x' }] }), /^services\.0\.credentials: is required$/],
    ['vcap_application as a list', withFields({ vcap_application: [] }), /^vcap_application: expected an object$/],
    ['huge credentials', withFields({ services: [{ name: 'a', label: 'b', credentials: { k: 'x'.repeat(64 * 1024 + 1) } }] }), /^services\.0\.credentials\.k: longer than/],
    ['deeply nested vcap_application', withFields({ vcap_application: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }), /^vcap_application(\.a)+: nested deeper/],
  ];

  it.each(cases)('rejects %s', (_name, raw, problem) => {
    const problems = problemsOf(() => parseStart(raw));
    expect(problems.some((p) => problem.test(p)), problems.join('\n')).toBe(true);
  });

  it('reports every problem of {} at once, with the required keys by path', () => {
    expect(problemsOf(() => parseStart('{}'))).toEqual([
      'droplet: is required',
      'version: is required',
      'name: is required',
      'index: is required',
      'executableUri: is required',
    ]);
  });

  it('throws a MessageError naming the subject, without quoting values', () => {
    let caught: unknown;
    try {
      parseStart(withFields({ env: ['secret-token-value'] }), 'dea.0-abc.start');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MessageError);
    expect((caught as MessageError).message).toMatch(/^invalid dea\.0-abc\.start message: /);
    expect((caught as MessageError).message).not.toContain('secret-token-value');
  });
});
