/**
 * The README's first line: a local nats-server, the agent on config/dev.yml, and the
 * sample app pushed to it the way a cloud controller would. Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { connect, StringCodec } from 'nats';
import * as tar from 'tar';

const root = new URL('..', import.meta.url).pathname;
const sc = StringCodec();
const children: ChildProcess[] = [];

function run(cmd: string, args: string[], name: string): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout?.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n').filter(Boolean)) {
      if (name === 'nats') continue;
      try {
        const j = JSON.parse(line) as { event?: string; msg?: string; level?: string };
        if (j.level !== 'debug') console.log(`[agent] ${j.event ?? ''} ${j.msg ?? ''}`);
      } catch {
        console.log(`[${name}] ${line}`);
      }
    }
  });
  children.push(child);
  return child;
}

async function packSampleApp(dir: string): Promise<{ path: string; sha1: string }> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'sample-app.tgz');
  await tar.c({ gzip: true, file: path, cwd: join(root, 'fixtures/apps/sample-app'), portable: true }, ['.']);
  const sha1 = createHash('sha1').update(readFileSync(path)).digest('hex');
  return { path, sha1 };
}

async function main(): Promise<void> {
  const nats = run('nats-server', ['-a', '127.0.0.1', '-p', '4222'], 'nats');
  await new Promise((r) => setTimeout(r, 500));
  if (nats.exitCode !== null) console.log('using the nats-server already on 127.0.0.1:4222');
  const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
  const adverts = nc.subscribe('dea.advertise', { max: 1 });
  const agent = run(join(root, 'bin/dea'), ['--config', join(root, 'config/dev.yml')], 'agent');
  let deaId = '';
  for await (const m of adverts) deaId = (JSON.parse(sc.decode(m.data)) as { id: string }).id;

  const droplet = await packSampleApp('/tmp/dea-dev-droplets');
  const files = createServer((_req, res) => createReadStream(droplet.path).pipe(res)).listen(0, '127.0.0.1');
  await new Promise((r) => files.once('listening', r));
  const port = (files.address() as { port: number }).port;

  const routes = nc.subscribe('router.register', { max: 1 });
  nc.publish(`dea.${deaId}.start`, sc.encode(JSON.stringify({
    droplet: 'sample-app', name: 'sample-app', version: 'v1', index: 0, uris: ['sample-app.dev.local'],
    sha1: droplet.sha1, executableUri: `http://127.0.0.1:${port}/sample-app.tgz`, stack: 'cflinuxfs4',
    limits: { mem: 128, disk: 256, fds: 1024 }, services: [], env: ['GREETING=hello'], cc_partition: 'default',
  })));
  for await (const m of routes) {
    const reg = JSON.parse(sc.decode(m.data)) as { uris: string[]; host: string; port: number };
    console.log(`\nrouter.register: ${reg.uris.join(',')} -> ${reg.host}:${reg.port}`);
    const body = await (await fetch(`http://${reg.host}:${reg.port}/`)).text();
    console.log(`GET http://${reg.host}:${reg.port}/ ->\n${body.slice(0, 400)}\n`);
    console.log('The sample app is running. Press Ctrl-C to stop the agent and nats-server.');
  }
  const stop = () => {
    files.close();
    void nc.close();
    for (const c of children) c.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await new Promise((r) => agent.once('exit', r));
}

main().catch((err: unknown) => {
  console.error(err);
  for (const c of children) c.kill('SIGTERM');
  process.exitCode = 1;
});
