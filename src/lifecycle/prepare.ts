import type { LaunchSpec, StartMode } from '../backends/types.js';
import { AgentError, ErrorCodes, ExitDescriptions } from '../errors.js';
import type { Instance } from '../instance/instance.js';
import type { DropletInfo } from '../staging/droplet-info.js';
import { buildEnvironment } from './env.js';
import type { EgressRule } from '../network/egress.js';
import type { LifecycleDeps } from './ports.js';

export interface Prepared {
  readonly launch: LaunchSpec;
  readonly info: DropletInfo;
}

/** Fails fast, before any download, when the app asks for a stack this agent lacks. */
export function checkStack(deps: LifecycleDeps, inst: Instance): void {
  const stack = inst.spec.stack;
  if (stack === null || deps.config.stacks.some((s) => s.name === stack)) return;
  throw new AgentError(ErrorCodes.STACK_UNKNOWN, `stack ${JSON.stringify(stack.slice(0, 64))} is not offered here`);
}

/**
 * Fails fast, before any download, when an egress rule of the start message is malformed
 * (docs/network.md: the start fails; nothing is made).
 */
export function checkEgress(inst: Instance): void {
  const egress = inst.spec.egress;
  if (egress === undefined || egress.ok) return;
  throw new AgentError(ErrorCodes.BACKEND_FAILED, `bad egress rule: ${egress.problem}`, {
    exitDescription: `failed to start: bad egress rule: ${egress.problem}`,
  });
}

function egressRules(inst: Instance): readonly EgressRule[] {
  const egress = inst.spec.egress;
  return egress?.ok ? egress.rules : [];
}

/** Download, unpack and describe the instance's process (fetch, unpack, start command, environment). */
export async function prepare(deps: LifecycleDeps, inst: Instance, signal: AbortSignal): Promise<Prepared> {
  const droplet = await deps.droplets.fetch(inst.spec.dropletSha1, inst.spec.dropletUri, signal);
  inst.dropletSha1 = droplet.sha1;
  // Layout builds it normalized, without a trailing slash: the paths below need no join.
  const dir = deps.layout.instanceDir(inst.localId);
  await deps.dirs.create(droplet, inst.localId, signal, { diskMb: inst.spec.limits.diskMb });
  const info = await deps.stagedFiles.dropletInfo(dir);
  const mode = startMode(inst, info);
  await deps.stagedFiles.makeAppDirs(dir, deps.appUser);
  signal.throwIfAborted();
  const port = await deps.ports.allocate(inst.localId);
  inst.hostPort = port;
  // The app's own view of its directory: /home/vcap in a container, the real path otherwise.
  const seen = deps.backend.instanceRoot ?? dir;
  // In a network of its own the app listens on app_port, which the host port maps to.
  const appPort = deps.backend.appPort ?? null;
  const env = buildEnvironment({
    instance: inst,
    dir: seen,
    home: info.hasAppDir ? `${seen}/app` : seen,
    port,
    appPort: appPort ?? port,
    localIp: deps.config.localIp,
    startedAtMs: inst.startingTimestamp ?? deps.clock.now(),
  });
  const cfg = deps.config.instance;
  return {
    info,
    launch: {
      instanceId: inst.localId,
      dir,
      rootfs: rootfsOf(deps, inst),
      mode,
      env,
      limits: { ...inst.spec.limits, nproc: cfg.nprocLimit, cpuShares: cpuShares(inst.spec.limits.memMb, cfg) },
      user: deps.appUser,
      stdoutPath: `${dir}/logs/stdout.log`,
      stderrPath: `${dir}/logs/stderr.log`,
      ...(appPort === null ? {} : { network: { hostPort: port, egress: egressRules(inst) } }),
    },
  };
}

/** The root filesystem of the instance's stack (the first stack when the app names none). */
function rootfsOf(deps: LifecycleDeps, inst: Instance): string | undefined {
  const stacks = deps.config.stacks;
  return (stacks.find((s) => s.name === inst.spec.stack) ?? stacks[0])?.packagePath;
}

/** The message's command, else the staged one, else the v1 `startup` script. */
export function startMode(inst: Instance, info: DropletInfo): StartMode {
  const command = inst.spec.startCommand ?? info.stagedStartCommand;
  if (command !== null) return { kind: 'v2', startCommand: command };
  if (info.hasStartup) return { kind: 'v1' };
  throw new AgentError(ErrorCodes.START_COMMAND_MISSING, 'droplet has no start command', {
    exitDescription: ExitDescriptions.missingStartCommand,
  });
}

/** CPU shares follow memory (protocol §5.4): mem / ratio, clamped. */
export function cpuShares(memMb: number, cfg: LifecycleDeps['config']['instance']): number {
  const shares = Math.floor(memMb / cfg.memoryToCpuShareRatio);
  return Math.min(cfg.maxCpuShareLimit, Math.max(cfg.minCpuShareLimit, shares));
}
