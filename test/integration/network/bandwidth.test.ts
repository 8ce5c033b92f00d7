/**
 * instance.bandwidth through the real agent: with a rate of 1 MB/s, 4 MB into the
 * container (tbf on the host end) and 4 MB out of it (its upload, through the ifb) each
 * take 4 s ± 15 %; /metrics and varz count the bytes. Traffic: loopback → the container.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { buildDroplet } from '../../support/droplets.js';
import { waitFor } from '../container/harness.js';
import { NET_APP, netAppStart } from './net-app.js';
import { closeNetworkSuite } from './leftovers.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
const CGROUP_ROOT = `dea-nb-${randomBytes(4).toString('hex')}`;
const RATE = 1_000_000;
const BYTES = 4_000_000;
let s: AgentSuite;
let port = 0;

beforeAll(async () => {
  s = await agentSuite({
    backend: { kind: 'container', container: { cgroup_root: CGROUP_ROOT } },
    instance: { stop_grace_secs: 2, bandwidth: { rate: RATE } },
    monitor: { interval_ms: 250 },
  });
  const built = await buildDroplet('serves-http-v2', s.dropletDir, { fileName: 'net-app.tgz', extraFiles: { 'app/net.js': NET_APP } });
  const reg = s.bus.record('router.register');
  await reg.ready();
  s.bus.publish(`dea.${s.agent.id}.start`, netAppStart('nb-shaped', { sha1: built.sha1, url: s.files.url(built.path) }, { uris: ['nb.example.test'], limits: { mem: 128, disk: 256, fds: 1024 } }));
  port = (await reg.waitFor((m) => m.data.app === 'nb-shaped', 30_000)).data.port as number;
  reg.stop();
}, 60_000);

afterAll(() => closeNetworkSuite(s?.agent.baseDir, async () => s?.close(), [CGROUP_ROOT]), 60_000);

const within = (seconds: number) => expect(Math.abs(seconds - BYTES / RATE) / (BYTES / RATE)).toBeLessThan(0.15);

describe('bandwidth', () => {
  it('shapes what flows into the container', async () => {
    const started = performance.now();
    const r = (await (await fetch(`http://127.0.0.1:${port}/upload`, { method: 'POST', body: Buffer.alloc(BYTES, 1) })).json()) as any;
    const seconds = (performance.now() - started) / 1000;
    expect(r.bytes).toBe(BYTES);
    within(seconds);
  }, 30_000);

  it('shapes what flows out of it', async () => {
    const started = performance.now();
    const body = await (await fetch(`http://127.0.0.1:${port}/download?bytes=${BYTES}`)).arrayBuffer();
    const seconds = (performance.now() - started) / 1000;
    expect(body.byteLength).toBe(BYTES);
    within(seconds);
  }, 30_000);

  it('counts the bytes in /metrics and varz', async () => {
    const [disc] = await s.bus.request('vcap.component.discover', {}, { expect: 1 });
    const [user, pass] = disc.credentials as [string, string];
    const headers = { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
    await waitFor(async () => {
      const metrics = await (await fetch(`http://${disc.host}/metrics`, { headers })).text();
      const rx = Number(/dea_instance_network_rx_bytes\{[^}]*\} (\d+)/.exec(metrics)?.[1]);
      const tx = Number(/dea_instance_network_tx_bytes\{[^}]*\} (\d+)/.exec(metrics)?.[1]);
      expect(rx).toBeGreaterThan(BYTES);
      expect(tx).toBeGreaterThan(BYTES);
      const varz = (await (await fetch(`http://${disc.host}/varz`, { headers })).json()) as any;
      const entry = Object.values(varz.instance_registry['nb-shaped'] as Record<string, any>)[0];
      expect(entry.network_rx_bytes).toBeGreaterThan(BYTES);
    }, 15_000);
  });
});
