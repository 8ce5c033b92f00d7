import { mkdir } from 'node:fs/promises';
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

  constructor(readonly baseDir: string) {
    this.db = join(baseDir, 'db');
    this.droplets = join(baseDir, 'droplets');
    this.instances = join(baseDir, 'instances');
    this.crashes = join(baseDir, 'crashes');
    this.tmp = join(baseDir, 'tmp');
    this.supervise = join(this.db, 'supervise');
  }

  async ensure(): Promise<void> {
    for (const dir of [this.db, this.droplets, this.instances, this.crashes, this.tmp, this.supervise]) {
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
}

function checked(id: string): string {
  if (!ID.test(id)) throw new Error(`not an instance id: ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}
