import { containerCapable, detectCgroupHost } from '../../src/backends/container/index.js';

export type BackendKind = 'process' | 'container';

export interface SoakArgs {
  minutes: number;
  seed: number;
  backend: BackendKind;
}

/** The container backend needs root and real cgroups; without them the soak runs processes. */
function defaultBackend(): BackendKind {
  if (process.getuid?.() !== 0) return 'process';
  try {
    return containerCapable(detectCgroupHost()).ok ? 'container' : 'process';
  } catch {
    return 'process';
  }
}

function value(argv: string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined) throw new Error(`${flag} needs a value`);
  return v;
}

/** `--minutes N` (fractional allowed), `--seed N`, `--backend process|container`. */
export function parseArgs(argv: string[]): SoakArgs {
  const out: SoakArgs = { minutes: 2, seed: Date.now() % 2 ** 31, backend: defaultBackend() };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--') continue;
    if (flag === '--minutes') out.minutes = Number(value(argv, i++, flag));
    else if (flag === '--seed') out.seed = Number(value(argv, i++, flag));
    else if (flag === '--backend') out.backend = value(argv, i++, flag) as BackendKind;
    else throw new Error(`unknown argument ${flag}; use --minutes N --seed N --backend process|container`);
  }
  if (!(out.minutes > 0)) throw new Error('--minutes must be a positive number');
  if (!Number.isInteger(out.seed)) throw new Error('--seed must be an integer');
  if (out.backend !== 'process' && out.backend !== 'container') throw new Error('--backend must be process or container');
  return out;
}
