import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, startMessage, type AgentHandle, type AgentOptions } from './agent-process.js';
import { connectTestClient, type TestBusClient } from './bus-client.js';
import { buildDroplet, serveDroplets, type BuiltDroplet, type DropletServer } from './droplets.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';

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
  close(): Promise<void>;
}

export async function agentSuite(config: AgentOptions['config'] = {}): Promise<AgentSuite> {
  const nats = await startNatsServer();
  const bus = await connectTestClient(nats.url);
  const dropletDir = mkdtempSync(join(tmpdir(), 'dea-droplets-'));
  const files = await serveDroplets(dropletDir);
  const agent = await startAgent({ natsUrl: nats.url, config });
  const built = new Map<string, Promise<BuiltDroplet>>();
  const droplet = (name: string) => {
    let b = built.get(name);
    if (!b) {
      b = buildDroplet(name, dropletDir);
      built.set(name, b);
    }
    return b;
  };
  return {
    nats,
    bus,
    agent,
    files,
    dropletDir,
    droplet,
    async start(app, appId, over = {}) {
      const d = await droplet(app);
      bus.publish(`dea.${agent.id}.start`, startMessage({ droplet: appId, executableUri: files.url(d.path), sha1: d.sha1, ...over }));
    },
    async close() {
      await agent.stop();
      await bus.close();
      await files.close();
      await nats.stop();
      // The agent unmounted and removed its instances on TERM; what is left is files.
      await rm(agent.baseDir, { recursive: true, force: true });
      await rm(dropletDir, { recursive: true, force: true });
    },
  };
}
