import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { LaunchSpec } from '../types.js';
import { appEnv } from '../app-io.js';
import { openAppLog } from '../../platform/log-files.js';

/** What libexec/container/dea-container is told (see its main.c): agent-made values only. */
export interface ContainerArgs {
  readonly runDir: string;
  readonly rootfs: string;
  readonly home: string;
  readonly hostname: string;
  readonly lxcfs: string | null;
  readonly v2Script: string;
  readonly cgroupProcs: readonly string[];
  readonly masks: readonly string[];
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  /** The network the instance joins: a named netns, and files shown as /etc/hosts and /etc/resolv.conf. */
  readonly net?: {
    readonly netns: string;
    readonly hosts: string;
    readonly resolv: string;
    /** What the supervisor removes when the instance ends (see netclean.c). */
    readonly table: string;
    readonly links: readonly string[];
    readonly claims: readonly string[];
  };
}

/** The supervisor answers on this fd once: "ok <init pid>" or "error <why>". */
const STATUS_FD = 3;

export function helperArgs(spec: LaunchSpec, a: ContainerArgs): string[] {
  const args = [
    '--run', a.runDir, '--root', a.rootfs, '--home', a.home, '--hostname', a.hostname,
    '--mode', spec.mode.kind, '--uid', String(a.uid), '--gid', String(a.gid),
    '--nofile', String(spec.limits.fds), '--fsize-kb', String(spec.limits.diskMb * 1024),
    '--status-fd', String(STATUS_FD),
  ];
  if (spec.mode.kind === 'v2') args.push('--script', a.v2Script);
  if (a.lxcfs !== null) args.push('--lxcfs', a.lxcfs);
  for (const g of a.groups) args.push('--group', String(g));
  for (const f of a.cgroupProcs) args.push('--cgroup', f);
  for (const m of a.masks) args.push('--mask', m);
  if (a.net) {
    args.push('--netns', a.net.netns, '--hosts', a.net.hosts, '--resolv', a.net.resolv, '--net-table', a.net.table);
    for (const l of a.net.links) args.push('--net-link', l);
    for (const c of a.net.claims) args.push('--net-claim', c);
  }
  return args;
}

export interface Launched {
  readonly child: ChildProcess;
  /** The container's init, as the host numbers it. */
  readonly initPid: number;
}

/**
 * Starts the supervisor detached (a session of its own: it outlives the agent), with the
 * app's logs as its stdout and stderr, and waits for its one status line. Rejects with
 * the supervisor's reason when the container could not be made or the app not exec'd.
 */
export async function launchContainer(helper: string, spec: LaunchSpec, args: ContainerArgs): Promise<Launched> {
  const out = openAppLog(spec.stdoutPath);
  const err = openAppLog(spec.stderrPath);
  let child: ChildProcess;
  try {
    child = spawn(helper, helperArgs(spec, args), {
      detached: true,
      stdio: ['ignore', out, err, 'pipe'],
      env: appEnv(spec),
    });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const line = await statusLine(child);
  const ok = /^ok (\d+)$/.exec(line);
  if (ok) {
    child.unref();
    return { child, initPid: Number(ok[1]) };
  }
  // The supervisor still records the init's exit in the run dir: let it finish before
  // the caller removes that directory.
  await exitOf(child);
  throw new Error(line.startsWith('error ') ? line.slice(6) : `container supervisor said nothing (${line || 'no answer'})`);
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}

function statusLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const pipe = child.stdio[STATUS_FD] as Readable;
    let text = '';
    child.once('error', reject);
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => (text += chunk));
    pipe.once('close', () => resolve(text.trim()));
  });
}

