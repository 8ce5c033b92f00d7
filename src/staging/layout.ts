import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const ID = /^[0-9a-f]{32}$/;

/**
 * The on-disk layout under base_dir. Every path here is built from the base dir and
 * ids the agent generated itself (checked), never from a name in a message.
 */
export class Layout {
  readonly db: string;
  readonly droplets: string;
  readonly instances: string;
  readonly crashes: string;
  readonly tmp: string;
  /** Supervisor records of the process backend; agent-owned, not app-writable. */
  readonly supervise: string;
  /** The writable layers (upper/work) of instances whose directory is an overlay view. */
  readonly layers: string;

  constructor(readonly baseDir: string) {
    this.db = join(baseDir, 'db');
    this.droplets = join(baseDir, 'droplets');
    this.instances = join(baseDir, 'instances');
    this.crashes = join(baseDir, 'crashes');
    this.tmp = join(baseDir, 'tmp');
    this.supervise = join(this.db, 'supervise');
    this.layers = join(baseDir, 'layers');
  }

  async ensure(): Promise<void> {
    await mkdir(this.baseDir, { recursive: true, mode: 0o755 });
    // Apps run as an unprivileged user and must be able to reach their own directory
    // under instances/: base_dir needs the search (x) bit for others, nothing more.
    const mode = (await stat(this.baseDir)).mode & 0o7777;
    if ((mode & 0o001) === 0) await chmod(this.baseDir, mode | 0o111);
    for (const dir of [this.db, this.droplets, this.instances, this.crashes, this.tmp, this.supervise, this.layers]) {
      await mkdir(dir, { recursive: true, mode: 0o755 });
    }
  }

  instanceDir(instanceId: string): string {
    return join(this.instances, checked(instanceId));
  }

  crashDir(instanceId: string): string {
    return join(this.crashes, checked(instanceId));
  }

  get snapshotFile(): string {
    return join(this.db, 'instances.json');
  }

  /** The monitor's recent samples per instance (snapshot/usage-history.ts). */
  get usageHistoryFile(): string {
    return join(this.db, 'usage.json');
  }
}

function checked(id: string): string {
  if (!ID.test(id)) throw new Error(`not an instance id: ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}
