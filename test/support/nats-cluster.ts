import { cleanUp } from './cleanup.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { getFreePort } from './ports.js';

/** One node of a test cluster: a real nats-server with routes to the other two. */
export interface ClusterNode {
  /** 0, 1 or 2. */
  readonly index: number;
  /** `nats://127.0.0.1:<client port>`. */
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  /** The server handle (pid, logs), the same across restarts. */
  readonly server: NatsServerHandle;
  /** True while its process runs. */
  running(): boolean;
  /** SIGKILL, as a crashed machine: no goodbye to its clients or routes. Resolves once gone. */
  kill(): Promise<void>;
  /**
   * SIGSTOP, as a machine that hangs: its connections stay open, and what clients send
   * it waits unread in its socket buffers (lost if it is killed next). kill() and stop
   * end a frozen node too.
   */
  freeze(): void;
  /** TERM (KILL when frozen or after 3 s); resolves once gone. */
  stop(): Promise<void>;
  /** Starts it again on the same ports (client, cluster, monitoring). */
  start(): Promise<void>;
  /** The node's /connz: the names of its client connections. */
  clientNames(): Promise<string[]>;
  /** The number of routes the node has up (its /routez). */
  routes(): Promise<number>;
}

export interface NatsCluster {
  readonly nodes: readonly ClusterNode[];
  /** Every node's client URL: what `nats_servers` lists. */
  readonly urls: string[];
  /** The node whose client port is in `server` (`127.0.0.1:4222`, `nats://…:4222`), if any. */
  nodeAt(server: string): ClusterNode | undefined;
  /** Resolves once every running node has a route to every other running node. */
  waitForRoutes(timeoutMs?: number): Promise<void>;
  /** Stops every node still running. Idempotent. */
  stop(): Promise<void>;
}

const SIZE = 3;
const NAME = 'dea-test-cluster';

/**
 * Starts a 3-node nats-server cluster on loopback and waits until its routes are up.
 * Every node names all three cluster ports as routes (a node ignores its own), so any
 * node that restarts finds the others again, and the others find it. Ports are chosen
 * before any node starts, because the routes must name them; when one turns out to be
 * taken, everything started is stopped and the whole cluster tried again.
 */
export async function startNatsCluster(opts: { bin?: string } = {}): Promise<NatsCluster> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const started: NatsServerHandle[] = [];
    try {
      return await tryStart(opts, started);
    } catch (err) {
      lastError = err;
      await cleanUp(...started.map((s) => () => s.stop()));
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function tryStart(opts: { bin?: string }, started: NatsServerHandle[]): Promise<NatsCluster> {
  const ports = await distinctFreePorts(SIZE * 3);
  const clientPorts = ports.slice(0, SIZE);
  const clusterPorts = ports.slice(SIZE, SIZE * 2);
  const monitorPorts = ports.slice(SIZE * 2);
  const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < SIZE; i++) {
    const server = await startNatsServer({
      ...(opts.bin !== undefined ? { bin: opts.bin } : {}),
      port: clientPorts[i]!,
      args: [
        '--name', `node-${i}`,
        '--cluster_name', NAME,
        '--cluster', `nats://127.0.0.1:${clusterPorts[i]!}`,
        '--routes', routes,
        '-m', String(monitorPorts[i]!),
      ],
    });
    started.push(server);
    nodes.push(node(i, server, monitorPorts[i]!));
  }
  const cluster = makeCluster(nodes);
  await cluster.waitForRoutes();
  return cluster;
}

function node(index: number, server: NatsServerHandle, monitorPort: number): ClusterNode {
  const monitor = async <T>(path: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${monitorPort}${path}`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`node-${index} ${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };
  let frozen = false;
  return {
    index,
    url: server.url,
    port: server.port,
    monitorPort,
    server,
    running: () => server.pid !== undefined,
    async kill() {
      const pid = server.pid;
      if (pid === undefined) return;
      process.kill(pid, 'SIGKILL');
      frozen = false;
      // Reaps it (the TERM that stop() sends first lands on a process already dying).
      await server.stop();
    },
    freeze() {
      const pid = server.pid;
      if (pid === undefined) throw new Error(`node-${index} is not running`);
      process.kill(pid, 'SIGSTOP');
      frozen = true;
    },
    async stop() {
      // A frozen node would not act on the TERM that stop() sends first.
      if (frozen) await this.kill();
      else await server.stop();
    },
    async start() {
      if (server.pid === undefined) await server.restart();
    },
    async clientNames() {
      const connz = await monitor<{ connections?: Array<{ name?: string }> }>('/connz');
      return (connz.connections ?? []).map((c) => c.name ?? '');
    },
    async routes() {
      return (await monitor<{ num_routes?: number }>('/routez')).num_routes ?? 0;
    },
  };
}

function makeCluster(nodes: ClusterNode[]): NatsCluster {
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    nodeAt(server) {
      const port = /:(\d+)\/?$/.exec(server.trim())?.[1];
      return nodes.find((n) => String(n.port) === port);
    },
    async waitForRoutes(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const up = nodes.filter((n) => n.running());
        // A restarted node may briefly hold a duplicate route as well: at least is enough.
        const counts = await Promise.all(up.map((n) => n.routes().catch(() => -1)));
        if (counts.every((c) => c >= up.length - 1)) return;
        if (Date.now() > deadline) {
          throw new Error(`cluster routes not up within ${timeoutMs} ms: ${up.map((n, i) => `node-${n.index}: ${counts[i]}`).join(', ')}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () => cleanUp(...nodes.map((n) => () => n.stop())),
  };
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await getFreePort());
  return [...ports];
}
