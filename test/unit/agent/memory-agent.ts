/**
 * An agent with every port in memory and a virtual clock: the evacuation and reaper tests
 * drive it through the bus as peers would and move time themselves. Nothing touches a disk.
 */
import { Agent } from '../../../src/agent/agent.js';
import { FakeBackend, type FakeProcess, type FakeScript } from '../../../src/backends/fake/index.js';
import { MemoryBus } from '../../../src/bus/memory-bus.js';
import { parseConfig } from '../../../src/config/index.js';
import type { Instance } from '../../../src/instance/instance.js';
import type { IdGenerator } from '../../../src/platform/ids.js';
import { silentLogger } from '../../../src/platform/logger.js';
import { Layout } from '../../../src/staging/layout.js';
import { VirtualClock } from '../../support/virtual-clock.js';
import { MemoryAppFiles, MemoryDirs, MemoryStagedFiles } from '../lifecycle/fakes.js';

export const DEA_ID = '0-' + 'd'.repeat(32);
export const APP = 'app-web';
export const START = `dea.${DEA_ID}.start`;

/** Instance ids 000…1, 000…2, …: predictable in assertions. */
export function counterIds(): IdGenerator {
  let n = 0;
  return { hex32: () => (++n).toString(16).padStart(32, '0') };
}

/** A start message as a cloud controller sends it. */
export function startMessage(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    droplet: APP,
    version: 'v1',
    name: 'web',
    index: 0,
    uris: ['web.example.com'],
    limits: { mem: 256, disk: 512, fds: 1024 },
    executableUri: 'file:///droplets/web.tgz',
    sha1: null,
    cc_partition: 'default',
    env: [],
    services: [],
    ...over,
  };
}

export interface MemoryAgentOptions {
  /** Extra config keys (snake_case). */
  readonly config?: Record<string, unknown>;
  /** How every app behaves (default: runs until stopped, TERM ends it). */
  readonly script?: FakeScript;
}

export function memoryAgent(opts: MemoryAgentOptions = {}) {
  const config = parseConfig(
    {
      base_dir: '/dea',
      nats_servers: ['nats://127.0.0.1:4222'],
      local_ip: '10.0.0.5',
      resources: { memory_mb: 1024, disk_mb: 4096 },
      stacks: [{ name: 'cflinuxfs4', package_path: '/' }],
      intervals: { heartbeat: 10, advertise: 5, router_register_in_seconds: 20 },
      ...opts.config,
    },
    { firstIpv4: () => '10.0.0.5', userExists: () => false, randomHex32: () => 'e'.repeat(32) },
  );
  const clock = new VirtualClock();
  const bus = new MemoryBus();
  const backend = new FakeBackend({ clock, script: opts.script ?? {} });
  /** What the health check's probe answers; a test may hold a start in STARTING. */
  const probe = { healthy: true };
  /** When set, the next droplet fetch fails with it (a start that fails). */
  const fetch: { failure: Error | null } = { failure: null };
  let nextPort = 62_000;
  const agent = new Agent({
    id: DEA_ID,
    config,
    bus,
    clock,
    ids: counterIds(),
    logger: silentLogger(),
    layout: new Layout('/dea'),
    lifecycle: {
      droplets: {
        fetch: async (sha1) => {
          const failure = fetch.failure;
          if (failure) throw failure;
          return { sha1: sha1 ?? 'ab'.repeat(20), path: '/dea/droplets/droplet.tgz' };
        },
      },
      dirs: new MemoryDirs(),
      backend,
      ports: { allocate: async () => nextPort++, claim: () => undefined, release: () => undefined },
      probe: async () => probe.healthy,
      appUser: null,
      stagedFiles: new MemoryStagedFiles(),
      appFiles: new MemoryAppFiles(),
    },
    reapDroplets: async () => undefined,
  });
  agent.start();

  const on = <T>(subject: string) => bus.bodiesOn(subject) as T[];
  const h = {
    agent,
    bus,
    clock,
    backend,
    probe,
    fetch,
    on,
    inject: (subject: string, body: unknown) => bus.inject(subject, JSON.stringify(body)),
    /** Advances virtual time in small steps until `check` holds (at most `maxMs`). */
    async until(check: () => boolean, what: string, maxMs = 60_000): Promise<void> {
      for (let waited = 0; !check(); waited += 10) {
        if (waited > maxMs) throw new Error(`${what}: not within ${maxMs} virtual ms`);
        await clock.advance(10);
      }
    },
    /** Publishes a start and returns the instance it made (any state). */
    start(over: Record<string, unknown> = {}): Instance {
      const before = new Set(agent.registry.all());
      h.inject(START, startMessage(over));
      const inst = agent.registry.all().find((i) => !before.has(i));
      if (!inst) throw new Error('start was not accepted');
      return inst;
    },
    async startRunning(over: Record<string, unknown> = {}): Promise<Instance> {
      const inst = h.start(over);
      await h.until(() => inst.state === 'RUNNING', `instance RUNNING (is ${inst.state})`);
      return inst;
    },
    process(inst: Instance): FakeProcess {
      const p = backend.process(inst.localId);
      if (!p) throw new Error(`no process for ${inst.localId}`);
      return p;
    },
  };
  return h;
}
