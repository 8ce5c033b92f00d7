/**
 * The backend contract on the container backend, with the same bash apps as the process
 * backend's run. Inside a container an app knows its pids in its own PID namespace; the
 * adapter maps them to host pids through NSpid in /proc, as the contract wants the
 * kernel's view. Needs root and writable cgroups (test/integration/container/harness.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backendContract, type ContractApp } from './backend.contract.js';
import { containerHarness } from '../integration/container/harness.js';
import { eventually } from '../support/eventually.js';

const SCRIPTS: Record<ContractApp['kind'], (app: ContractApp) => string> = {
  exits: (app) => `echo $$ > main.pid\nexit ${app.kind === 'exits' ? app.status : 1}`,
  serves: () => 'echo $$ > main.pid\ntouch ready\nexec sleep 1000',
  ignoresTerm: () => "echo $$ > main.pid\ntrap '' TERM\ntouch ready\nwhile :; do sleep 1; done",
  forks: () => 'echo $$ > main.pid\nsleep 1000 &\necho $! > child.pid\ntouch ready\nwait',
};

async function nsPid(path: string): Promise<number | null> {
  try {
    return Number((await readFile(path, 'utf8')).trim());
  } catch {
    return null;
  }
}

/** The host pid of the process that is `ns` in the PID namespace whose init is `init`. */
function hostPid(init: number, ns: number): number | null {
  const queue = [init];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
      if (nspid[nspid.length - 1] === ns) return pid;
      queue.push(...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

backendContract(
  'container',
  async () => {
    const h = await containerHarness();
    const inits = new Map<string, number>();
    // ns pid → host pid, per instance: mapped while the app runs, kept for after it ends.
    const mapped = new Map<string, number>();
    const initOf = (dir: string) => {
      const id = dir.split('/').pop()!;
      let init = inits.get(id);
      if (init === undefined) {
        init = Number(readFileSync(join(h.base, 'run', id, 'init.pid'), 'utf8').trim());
        inits.set(id, init);
      }
      return init;
    };
    return {
      backend: h.backend,
      script: (app) => h.instance(SCRIPTS[app.kind](app)),
      ready: async (spec) => {
        await eventually(() => existsSync(join(spec.dir, 'ready')), 10_000, 'app ready');
        initOf(spec.dir);
      },
      appPids: async (spec) => {
        const init = initOf(spec.dir);
        const own = [await nsPid(join(spec.dir, 'main.pid')), await nsPid(join(spec.dir, 'child.pid'))];
        return own.filter((p): p is number => p !== null).map((p) => {
          const key = `${spec.instanceId}/${p}`;
          if (!mapped.has(key)) mapped.set(key, hostPid(init, p) ?? -1);
          return mapped.get(key)!;
        });
      },
      running,
      now: () => Date.now(),
      elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      settle: (p) => p,
      successor: () => h.successor,
      dispose: () => h.close(),
    };
  },
  { graceMs: 1_000, watchMs: 600 },
);
