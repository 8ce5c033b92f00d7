/** In-memory stand-ins for the lifecycle's file ports: its tests never touch a disk. */
import type { AppFiles, AppUser, InstanceDirs, LogName, StagedFiles } from '../../../src/lifecycle/ports.js';
import type { DropletInfo } from '../../../src/staging/droplet-info.js';

/** What a v1 droplet with a `startup` script says about itself. */
export const V1_INFO: DropletInfo = { stagedStartCommand: null, hasStartup: true, hasAppDir: false, stateFile: null };

/** Records what the lifecycle asked of the instance directories. */
export class MemoryDirs implements InstanceDirs {
  readonly created: string[] = [];
  readonly removed: string[] = [];
  readonly retired: string[] = [];

  async create(_droplet: { sha1: string; path: string }, localId: string): Promise<void> {
    this.created.push(localId);
  }

  async remove(localId: string): Promise<void> {
    this.removed.push(localId);
  }

  async retire(localId: string): Promise<void> {
    this.retired.push(localId);
  }

  async mountedDroplets(): Promise<Set<string>> {
    return new Set();
  }
}

/** Every droplet "unpacks" to `info`; the app dirs made are recorded. */
export class MemoryStagedFiles implements StagedFiles {
  readonly appDirs: [string, AppUser | null][] = [];

  constructor(private readonly info: DropletInfo = V1_INFO) {}

  async dropletInfo(): Promise<DropletInfo> {
    return this.info;
  }

  async makeAppDirs(dir: string, user: AppUser | null): Promise<void> {
    this.appDirs.push([dir, user]);
  }
}

/** Files keyed by their path under the instance dir (`<dir>/<path>`). */
export class MemoryAppFiles implements AppFiles {
  readonly files = new Map<string, string>();
  readonly rotations: [string, number][] = [];
  /** What rotateLogs answers. */
  rotated: string[] = [];

  async readStateFile(dir: string, path: string): Promise<string | null> {
    return this.files.get(`${dir}/${path}`) ?? null;
  }

  rotateLogs(dir: string, maxBytes: number): string[] {
    this.rotations.push([dir, maxBytes]);
    return this.rotated;
  }

  appendLog(dir: string, name: LogName, line: string): boolean {
    const key = `${dir}/logs/${name}`;
    this.files.set(key, `${this.files.get(key) ?? ''}${line}\n`);
    return true;
  }
}
