import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, startMessage, type AgentHandle, type AgentOptions } from './agent-process.js';
import { connectTestClient, type TestBusClient } from './bus-client.js';
import { cleanUp } from './cleanup.js';
import { buildDroplet, serveDroplets, type BuiltDroplet, type DropletServer } from './droplets.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { requestAll, roundTrip } from './round-trip.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON in tests */

/** One nats-server, one droplet server and one real agent, shared by a test file. */
export interface AgentSuite {
  nats: NatsServerHandle;
  bus: TestBusClient;
  agent: AgentHandle;
  files: DropletServer;
  dropletDir: string;
  droplet(name: string): Promise<BuiltDroplet>;
  /** Publishes a start of fixture `app` (built on first use) as app id `appId`. */
  start(app: string, appId: string, over?: Record<string, unknown>): Promise<void>;
  /** The same, to another agent (one from startAgent, say). */
  startOn(agent: AgentHandle, app: string, appId: string, over?: Record<string, unknown>): Promise<void>;
  /**
   * Another agent (on the suite's nats-server unless `natsUrl` says otherwise), stopped
   * and removed by close() even when the test that started it fails.
   */
  startAgent(opts?: Partial<AgentOptions>): Promise<AgentHandle>;
  /** See roundTrip(): everything `agent` (default: the suite's) published so far is here. */
  roundTrip(agent?: AgentHandle): Promise<void>;
  /** See requestAll(): every `dea.find.droplet` reply of `agent` (default: the suite's). */
  find(query: Record<string, unknown>, agent?: AgentHandle): Promise<any[]>;
  close(): Promise<void>;
}

export async function agentSuite(config: AgentOptions['config'] = {}): Promise<AgentSuite> {
  // Everything made so far, undone in reverse order by close() or by a failed setup.
  const undo: Array<() => Promise<unknown>> = [];
  const close = () => cleanUp(...undo.splice(0).reverse());
  try {
    const nats = await startNatsServer();
    undo.push(() => nats.stop());
    const bus = await connectTestClient(nats.url);
    undo.push(() => bus.close());
    const dropletDir = mkdtempSync(join(tmpdir(), 'dea-droplets-'));
    undo.push(() => rm(dropletDir, { recursive: true, force: true }));
    const files = await serveDroplets(dropletDir);
    undo.push(() => files.close());
    const agent = await startAgent({ natsUrl: nats.url, config });
    // The agent unmounts and removes its instances on TERM; dispose() removes the rest.
    undo.push(() => agent.dispose());

    const built = new Map<string, Promise<BuiltDroplet>>();
    const droplet = (name: string) => {
      let b = built.get(name);
      if (!b) {
        b = buildDroplet(name, dropletDir);
        built.set(name, b);
      }
      return b;
    };
    const startOn = async (target: AgentHandle, app: string, appId: string, over: Record<string, unknown> = {}) => {
      const d = await droplet(app);
      bus.publish(`dea.${target.id}.start`, startMessage({ droplet: appId, executableUri: files.url(d.path), sha1: d.sha1, ...over }));
    };
    return {
      nats,
      bus,
      agent,
      files,
      dropletDir,
      droplet,
      startOn,
      start: (app, appId, over) => startOn(agent, app, appId, over),
      async startAgent(opts = {}) {
        const extra = await startAgent({ natsUrl: nats.url, ...opts });
        undo.push(() => extra.dispose());
        return extra;
      },
      roundTrip: (target = agent) => roundTrip(bus, target.id),
      find: (query, target = agent) => requestAll(bus, target.id, 'dea.find.droplet', query),
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
