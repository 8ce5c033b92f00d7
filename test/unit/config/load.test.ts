import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import yaml from 'js-yaml';
import { ConfigError, ErrorCodes } from '../../../src/errors.js';
import {
  checkConfigFile,
  configSchema,
  loadConfig,
  parseConfig,
  systemHostFacts,
  type AgentConfig,
  type HostFacts,
} from '../../../src/config/index.js';

const root = join(import.meta.dirname, '../../..');
const fixture = (name: string) => join(root, 'fixtures/configs', name);

/** Deterministic host: a fixed IP, optionally a vcap user, and counting "random" hex. */
function fakeHost(opts: { vcap?: boolean } = {}): HostFacts {
  let n = 0;
  return {
    firstIpv4: () => '10.1.2.3',
    userExists: (name) => name === 'vcap' && (opts.vcap ?? true),
    randomHex32: () => (++n).toString(16).padStart(32, '0'),
  };
}

const minimal = { base_dir: '/srv/dea', nats_servers: ['nats://127.0.0.1:4222'] };

/** The problems a ConfigError carries; fails the test if nothing (or something else) is thrown. */
function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const problemsFor = (raw: unknown) => problemsOf(() => parseConfig(raw, fakeHost()));

/** Temp dirs this file made, removed when it is done (also after a failure). */
const madeDirs: string[] = [];
afterAll(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function writeTemp(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dea-config-'));
  madeDirs.push(dir);
  const file = join(dir, 'dea.yml');
  writeFileSync(file, text);
  return file;
}

const DEFAULTS: AgentConfig = {
  baseDir: '/srv/dea',
  index: 0,
  localIp: '10.1.2.3',
  natsServers: ['nats://127.0.0.1:4222'],
  pidFilename: '/srv/dea/dea.pid',
  logging: { level: 'info', file: null },
  status: { host: '0.0.0.0', port: 0, user: '1'.padStart(32, '0'), password: '2'.padStart(32, '0') },
  intervals: { heartbeatMs: 10_000, advertiseMs: 5_000, routerRegisterMs: 20_000 },
  resources: { memoryMb: 8192, memoryOvercommitFactor: 1, diskMb: 16384, diskOvercommitFactor: 1, reservedMemoryMb: 256, reservedCpuShares: 1024, bandwidth: null },
  stacks: [{ name: 'default', packagePath: '/' }],
  placementProperties: { zone: 'default' },
  crashLifetimeSecs: 3600,
  evacuationBailOutTimeSecs: 600,
  defaultHealthCheckTimeoutSecs: 60,
  instance: {
    memoryToCpuShareRatio: 8,
    minCpuShareLimit: 1,
    maxCpuShareLimit: 256,
    diskInodeLimit: 200000,
    nprocLimit: 512,
    stopGraceSecs: 10,
    user: 'vcap',
    logMaxBytes: 10 * 1024 * 1024,
    elasticMaxFactor: 2,
    bandwidth: null,
    bandwidthPolicy: 'shaped',
  },
  backend: {
    kind: 'auto',
    container: {
      cgroupRoot: 'dea', lxcfsDir: '/var/lib/lxcfs', diskLimit: 'monitor', memoryPolicy: 'hard',
      network: {
        enabled: true, pool: '10.254.0.0/22', portPoolStart: 61001, portPoolSize: 4534, appPort: 8080, mtu: 1500,
        allowHostAccess: false, allowNetworks: [], denyNetworks: [],
      },
    },
  },
  monitor: { intervalMs: 2000, maxUsageSamples: 30 },
};

describe('defaults', () => {
  it('fills every key the file leaves out', () => {
    expect(parseConfig(minimal, fakeHost())).toEqual(DEFAULTS);
  });

  it('runs apps as nobody when there is no vcap user', () => {
    expect(parseConfig(minimal, fakeHost({ vcap: false })).instance.user).toBe('nobody');
  });

  it('derives the pid file from a normalised base_dir', () => {
    expect(parseConfig({ ...minimal, base_dir: '/srv/dea/' }, fakeHost()).pidFilename).toBe('/srv/dea/dea.pid');
  });

  it('keeps host-derived values the file does set', () => {
    const cfg = parseConfig(
      {
        ...minimal,
        local_ip: '192.168.0.9',
        pid_filename: '/run/dea.pid',
        status: { user: 'u', password: 'p' },
        instance: { user: 'app' },
      },
      fakeHost(),
    );
    expect([cfg.localIp, cfg.pidFilename, cfg.status.user, cfg.status.password, cfg.instance.user]).toEqual([
      '192.168.0.9',
      '/run/dea.pid',
      'u',
      'p',
      'app',
    ]);
  });

  it('converts interval seconds, fractions included, to milliseconds', () => {
    const cfg = parseConfig({ ...minimal, intervals: { heartbeat: 0.3, advertise: 1, router_register_in_seconds: 2.5 } }, fakeHost());
    expect(cfg.intervals).toEqual({ heartbeatMs: 300, advertiseMs: 1000, routerRegisterMs: 2500 });
  });

  it('treats an empty file as one missing its required keys', () => {
    expect(problemsOf(() => loadConfig(fixture('empty.yml'), fakeHost()))).toEqual([
      'base_dir: required',
      'nats_servers: required',
    ]);
  });
});

describe('deep merge', () => {
  it('keeps the defaults of keys a partial section leaves out', () => {
    const cfg = parseConfig(
      {
        ...minimal,
        instance: { nproc_limit: 100 },
        backend: { container: { disk_limit: 'loop' } },
        status: { port: 8080 },
        intervals: { heartbeat: 2 },
      },
      fakeHost(),
    );
    expect(cfg.instance).toEqual({ ...DEFAULTS.instance, nprocLimit: 100 });
    expect(cfg.backend).toEqual({ kind: 'auto', container: { ...DEFAULTS.backend.container, diskLimit: 'loop' } });
    expect(cfg.status).toEqual({ ...DEFAULTS.status, port: 8080 });
    expect(cfg.intervals).toEqual({ ...DEFAULTS.intervals, heartbeatMs: 2000 });
  });

  it('treats a section with nothing under it as absent', () => {
    const file = writeTemp('base_dir: /srv/dea\nnats_servers: [nats://127.0.0.1:4222]\ninstance:\nbackend:\n  container:\n');
    expect(loadConfig(file, fakeHost())).toEqual(DEFAULTS);
  });
});

describe('problems carry their key path', () => {
  it('rejects unknown keys at every level', () => {
    expect(
      problemsFor({
        ...minimal,
        tyop: 1,
        instance: { usr: 'x' },
        backend: { container: { lxcfs: '/x' } },
        stacks: [{ name: 'a', package_path: '/', path: '/' }],
      }),
    ).toEqual(
      expect.arrayContaining([
        'tyop: unknown key',
        'instance.usr: unknown key (did you mean user?)',
        'backend.container.lxcfs: unknown key',
        'stacks.0.path: unknown key',
      ]),
    );
  });

  it.each([
    [{ intervals: { heartbeat: 'ten' } }, 'intervals.heartbeat: expected a positive number, got "ten"'],
    [{ intervals: { advertise: -1 } }, 'intervals.advertise: expected a positive number, got -1'],
    [{ intervals: { router_register_in_seconds: 0 } }, 'intervals.router_register_in_seconds: expected a positive number, got 0'],
    [{ status: { port: 70000 } }, 'status.port: expected a port number 0..65535, got 70000'],
    [{ status: { port: 80.5 } }, 'status.port: expected a port number 0..65535, got 80.5'],
    [{ status: { user: 'a:b' } }, 'status.user: expected a user name without ":", got "a:b"'],
    [{ index: -1 }, 'index: expected an integer >= 0, got -1'],
    [{ local_ip: 'localhost' }, 'local_ip: expected an IP address, got "localhost"'],
    [{ base_dir: 'rel/dir' }, 'base_dir: expected an absolute path, got "rel/dir"'],
    [{ pid_filename: 'dea.pid' }, 'pid_filename: expected an absolute path, got "dea.pid"'],
    [{ resources: { memory_mb: 0 } }, 'resources.memory_mb: expected a positive integer, got 0'],
    [{ resources: { disk_mb: 1.5 } }, 'resources.disk_mb: expected a positive integer, got 1.5'],
    [{ resources: { memory_overcommit_factor: 0 } }, 'resources.memory_overcommit_factor: expected a positive number, got 0'],
    [{ logging: { level: 'verbose' } }, 'logging.level: expected one of fatal, error, warn, info, debug, trace, got "verbose"'],
    [{ logging: 'debug' }, 'logging: expected a mapping, got "debug"'],
    [{ backend: { kind: 'docker' } }, 'backend.kind: expected one of process, container, auto, got "docker"'],
    // The scripted test double is not a backend an operator can choose.
    [{ backend: { kind: 'fake' } }, 'backend.kind: expected one of process, container, auto, got "fake"'],
    [{ intervals: { hearbeat: 5 } }, 'intervals.hearbeat: unknown key (did you mean heartbeat?)'],
    [{ nats_server: ['nats://127.0.0.1:4222'] }, 'nats_server: unknown key (did you mean nats_servers?)'],
    [{ backend: { container: { 'cgroup-root': 'dea' } } }, 'backend.container.cgroup-root: unknown key (did you mean cgroup_root?)'],
    [{ backend: { container: { disk_limit: 'quota' } } }, 'backend.container.disk_limit: expected one of monitor, loop, got "quota"'],
    [{ backend: { container: { cgroup_root: '../x' } } }, 'backend.container.cgroup_root: expected a relative cgroup path without "..", got "../x"'],
    [{ instance: { log_max_bytes: 4095 } }, 'instance.log_max_bytes: expected an integer >= 4096, got 4095'],
    [{ instance: { min_cpu_share_limit: 300 } }, 'instance.min_cpu_share_limit: expected at most max_cpu_share_limit (256), got 300'],
    [{ instance: { stop_grace_secs: -1 } }, 'instance.stop_grace_secs: expected a number >= 0, got -1'],
    [{ monitor: { interval_ms: 0 } }, 'monitor.interval_ms: expected a positive integer, got 0'],
    [{ placement_properties: { zone: '' } }, 'placement_properties.zone: expected a non-empty string, got ""'],
    [{ nats_servers: [] }, 'nats_servers: expected at least one NATS URL'],
    [{ nats_servers: 'nats://127.0.0.1:4222' }, 'nats_servers: expected a list of NATS URLs, got "nats://127.0.0.1:4222"'],
    [{ stacks: [] }, 'stacks: expected at least one stack'],
    [{ stacks: [{ name: 'a' }] }, 'stacks.0.package_path: required'],
    [{ stacks: [{ name: 'a', package_path: 'rootfs' }] }, 'stacks.0.package_path: expected an absolute path, got "rootfs"'],
    [{ crash_lifetime_secs: true }, 'crash_lifetime_secs: expected a number >= 0, got true'],
    [{ default_health_check_timeout: null }, 'default_health_check_timeout: expected a positive number, got null'],
  ])('%j', (patch, problem) => {
    expect(problemsFor({ ...minimal, ...patch })).toEqual([problem]);
  });

  it('names the offending list entry', () => {
    const problems = problemsFor({
      ...minimal,
      nats_servers: ['nats://a:4222', 'http://b:4222', 'nats://c', 'tls://d:4443'],
    });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^nats_servers\.1: expected a URL like nats:\/\/host:port/);
    expect(problems[1]).toMatch(/^nats_servers\.2: /);
  });

  it('rejects duplicate stack names', () => {
    const stacks = [
      { name: 'a', package_path: '/' },
      { name: 'b', package_path: '/' },
      { name: 'a', package_path: '/x' },
    ];
    expect(problemsFor({ ...minimal, stacks })).toEqual(['stacks.2.name: expected a unique stack name, got "a"']);
  });

  it('requires base_dir and nats_servers and a mapping at the top', () => {
    expect(problemsFor({})).toEqual(['base_dir: required', 'nats_servers: required']);
    expect(problemsFor(['a'])).toEqual(['(root): expected a mapping of config keys']);
  });

  it('reports every problem at once, including cross-key ones beside others', () => {
    const problems = problemsOf(() => loadConfig(fixture('many-problems.yml'), fakeHost()));
    expect(problems).toEqual([
      'base_dir: expected an absolute path, got "relative/dir"',
      'nats_servers.1: expected a URL like nats://host:port or tls://host:port (credentials optional), got "nats://***@nats.internal"',
      'logging.level: expected one of fatal, error, warn, info, debug, trace, got "verbose"',
      'status.port: expected a port number 0..65535, got 70000',
      'intervals.heartbeat: expected a positive number, got "ten"',
      'intervals.router_register_in_seconds: expected a positive number, got 0',
      'stacks.1.name: expected a unique stack name, got "default"',
      'instance.usr: unknown key (did you mean user?)',
      'instance.min_cpu_share_limit: expected at most max_cpu_share_limit (256), got 512',
      'backend.kind: expected one of process, container, auto, got "docker"',
      'tyop: unknown key',
    ]);
  });

  it('is a ConfigError with the stable code and every problem in its message', () => {
    try {
      parseConfig({ ...minimal, index: 'x', tyop: 1 }, fakeHost());
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe(ErrorCodes.CONFIG_INVALID);
      expect((err as ConfigError).message).toContain('index: expected an integer >= 0, got "x"');
      expect((err as ConfigError).message).toContain('tyop: unknown key');
    }
  });
});

describe('files', () => {
  it('turns a YAML syntax error into a ConfigError with its position', () => {
    const [problem, ...rest] = problemsOf(() => loadConfig(fixture('bad-syntax.yml'), fakeHost()));
    expect(rest).toEqual([]);
    expect(problem).toMatch(/bad-syntax\.yml: YAML syntax error at line \d+, column \d+: /);
  });

  it('rejects duplicate keys', () => {
    expect(problemsOf(() => loadConfig(fixture('duplicate-key.yml'), fakeHost()))[0]).toMatch(/duplicated mapping key/);
  });

  it('turns a missing or unreadable file into a ConfigError', () => {
    expect(problemsOf(() => loadConfig('/nonexistent/dea.yml', fakeHost()))).toEqual([
      '/nonexistent/dea.yml: cannot read config file: no such file',
    ]);
    expect(problemsOf(() => loadConfig(tmpdir(), fakeHost()))).toEqual([
      `${tmpdir()}: cannot read config file: is a directory, not a file`,
    ]);
  });
});

describe('credentials', () => {
  const secretFree = (problems: readonly string[], ...secrets: string[]) => {
    for (const s of secrets) expect(problems.join('\n')).not.toContain(s);
  };

  it('never echoes nats credentials in problems or the error message', () => {
    let message = '';
    try {
      parseConfig({ ...minimal, nats_servers: ['nats://admin:s3cr3t@nats.internal', 'http://u:p@ss@h:1'] }, fakeHost());
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('nats_servers.0:');
    expect(message).toContain('"nats://***@nats.internal"');
    expect(message).toContain('"http://***@h:1"');
    secretFree([message], 's3cr3t', 'admin', 'p@ss');
  });

  it('scrubs credentials from YAML syntax errors and from the fixtures', () => {
    secretFree(problemsOf(() => loadConfig(fixture('bad-syntax.yml'), fakeHost())), 'hunter2secret', 'admin');
    secretFree(problemsOf(() => loadConfig(fixture('many-problems.yml'), fakeHost())), 'hunter2secret', 'admin');
  });

  it('scrubs any userinfo, whatever it contains (property)', () => {
    const part = fc.string({ unit: fc.constantFrom(...'abcXYZ019:@/!#%&+=?~-._'.split('')), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(part, part, fc.constantFrom('nats_servers', 'local_ip'), (user, pass, key) => {
        const url = `nats://USER${user}:SECRET${pass}@nats.internal`;
        const raw = key === 'nats_servers' ? { ...minimal, nats_servers: [url] } : { ...minimal, local_ip: url };
        const problems = problemsFor(raw);
        expect(problems.length).toBeGreaterThan(0);
        secretFree(problems, 'USER', 'SECRET');
      }),
    );
  });
});

describe('immutability', () => {
  it('freezes the whole tree', () => {
    const cfg = parseConfig({ ...minimal, stacks: [{ name: 'a', package_path: '/' }] }, fakeHost());
    const loose = cfg as unknown as Record<string, any>;
    // Test files are ES modules, hence strict mode: writes to frozen objects throw.
    expect(() => (loose['index'] = 3)).toThrow(TypeError);
    expect(() => (loose['instance'].nprocLimit = 1)).toThrow(TypeError);
    expect(() => (loose['backend'].container.kind = 'x')).toThrow(TypeError);
    expect(() => loose['stacks'].push({ name: 'b', packagePath: '/' })).toThrow(TypeError);
    expect(() => (loose['stacks'][0].name = 'b')).toThrow(TypeError);
    expect(() => (loose['natsServers'][0] = 'nats://evil:1')).toThrow(TypeError);
    expect(Object.isFrozen(cfg.monitor) && Object.isFrozen(cfg.logging)).toBe(true);
  });

  it('does not share state between two loads', () => {
    const a = parseConfig(minimal, fakeHost());
    const b = parseConfig({ ...minimal, stacks: [{ name: 'x', package_path: '/' }] }, fakeHost());
    expect(a.stacks).toEqual([{ name: 'default', packagePath: '/' }]);
    expect(b.stacks).toEqual([{ name: 'x', packagePath: '/' }]);
  });
});

describe('shipped config files', () => {
  it('config/dea.yml loads and its values are the documented defaults', () => {
    const cfg = loadConfig(join(root, 'config/dea.yml'), fakeHost());
    expect(cfg).toEqual({
      ...DEFAULTS,
      baseDir: '/var/vcap/data/dea_next',
      pidFilename: '/var/vcap/data/dea_next/dea.pid',
    });
  });

  it('config/dea.yml mentions every key of the schema', () => {
    const text = readFileSync(join(root, 'config/dea.yml'), 'utf8');
    const keys = (shape: Record<string, unknown>): string[] =>
      Object.entries(shape).flatMap(([k, v]) => [k, ...keys(innerShape(v))]);
    expect(keys(configSchema.shape)).toEqual(expect.arrayContaining(['package_path', 'cgroup_root', 'max_usage_samples']));
    const missing = keys(configSchema.shape).filter((k) => !new RegExp(`^\\s*(#\\s*)?(- )?${k}:`, 'm').test(text));
    expect(missing).toEqual([]);
  });

  it('config/dev.yml loads with the quick-start values', () => {
    const cfg = loadConfig(join(root, 'config/dev.yml'), fakeHost());
    expect(cfg).toMatchObject({
      baseDir: '/tmp/dea-dev',
      index: 0,
      localIp: '127.0.0.1',
      natsServers: ['nats://127.0.0.1:4222'],
      pidFilename: '/tmp/dea-dev/dea.pid',
      status: { host: '127.0.0.1', port: 34501, user: 'dev', password: 'dev' },
      resources: { memoryMb: 2048, diskMb: 8192 },
      stacks: [
        { name: 'cflinuxfs4', packagePath: '/' },
        { name: 'default', packagePath: '/' },
      ],
      backend: { kind: 'auto', container: { lxcfsDir: '/tmp/dea-dev-lxcfs' } },
      logging: { level: 'info', file: null },
    });
  });

  it('fixtures/configs/minimal.yml equals the defaults', () => {
    const raw = yaml.load(readFileSync(fixture('minimal.yml'), 'utf8'));
    expect(parseConfig(raw, fakeHost())).toEqual({
      ...DEFAULTS,
      baseDir: '/var/vcap/data/dea_next',
      pidFilename: '/var/vcap/data/dea_next/dea.pid',
    });
  });
});

describe('checkConfigFile', () => {
  it('says ok for a valid file', () => {
    expect(checkConfigFile(join(root, 'config/dev.yml'), fakeHost())).toEqual({ ok: true, problems: [] });
    expect(checkConfigFile(join(root, 'config/dea.yml'))).toEqual({ ok: true, problems: [] });
  });

  it('lists every problem of an invalid file', () => {
    const result = checkConfigFile(fixture('many-problems.yml'), fakeHost());
    expect(result.ok).toBe(false);
    expect(result.problems).toHaveLength(11);
  });

  it('reports unreadable files and bad YAML as problems', () => {
    expect(checkConfigFile('/nonexistent/dea.yml').ok).toBe(false);
    expect(checkConfigFile(fixture('bad-syntax.yml')).problems[0]).toMatch(/YAML syntax error/);
  });
});

describe('systemHostFacts', () => {
  it('answers from the real host', () => {
    expect(isIPv4(systemHostFacts.firstIpv4())).toBe(true);
    expect(systemHostFacts.randomHex32()).toMatch(/^[0-9a-f]{32}$/);
    expect(systemHostFacts.randomHex32()).not.toBe(systemHostFacts.randomHex32());
    expect(systemHostFacts.userExists('root')).toBe(true);
    expect(systemHostFacts.userExists('no-such-user-9f3k')).toBe(false);
  });
});

/** The object shape under a schema key, unwrapping defaults, optionals and preprocess pipes. */
function innerShape(schema: unknown): Record<string, unknown> {
  let s = schema as { def?: Record<string, unknown>; shape?: Record<string, unknown> } | undefined;
  for (let i = 0; i < 10 && s; i++) {
    if (s.shape) return s.shape;
    const def = s.def ?? {};
    s = (def['innerType'] ?? def['out'] ?? def['element']) as typeof s;
  }
  return {};
}

describe('shared bandwidth', () => {
  it('needs the node rate, named by its key path', () => {
    expect(problemsFor({ ...minimal, instance: { bandwidth: { policy: 'shared' } } })).toEqual([
      expect.stringMatching(/^resources\.bandwidth: expected the node's rate \(bytes per second\) with instance\.bandwidth\.policy shared/),
    ]);
    const c = parseConfig({ ...minimal, instance: { bandwidth: { policy: 'shared' } }, resources: { bandwidth: 12_500_000 } }, fakeHost());
    expect([c.instance.bandwidthPolicy, c.resources.bandwidth]).toEqual(['shared', 12_500_000]);
  });
});
