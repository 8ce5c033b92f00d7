import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../platform/spawner/run-command.js';

/**
 * A kernel-enforced disk quota without quota support in the kernel (none here): a
 * filesystem image of the quota's size per instance, loop-mounted where the instance's
 * writable layer goes. A write past the quota fails with ENOSPC in the app instead of a
 * kill by the monitor. One empty ext4 image is made per size (mkfs costs ~70 ms) and
 * copied sparse for each instance; the loop device goes away with the unmount.
 */
export class LoopDisks {
  private readonly templates = new Map<number, Promise<string>>();

  /** `dir`: root-only, beside the writable layers (images are never reachable by apps). */
  constructor(private readonly dir: string) {}

  /** Mounts a fresh `mb` MiB filesystem for instance `localId` at `target` (an empty directory). */
  async mount(localId: string, mb: number, target: string): Promise<void> {
    const image = this.image(localId);
    const template = await this.template(mb);
    await mustRun('cp', ['--sparse=always', template, image]);
    try {
      await mustRun('mount', ['-o', 'loop,nosuid,nodev,noatime', image, target]);
    } catch (err) {
      await rm(image, { force: true });
      throw err;
    }
  }

  /** Unmounts the instance's filesystem (its loop device detaches) and deletes its image. */
  async unmount(localId: string, target: string): Promise<void> {
    if ((await runCommand('umount', [target])) !== 0) await runCommand('umount', ['-l', target]);
    await rm(this.image(localId), { force: true });
  }

  private image(localId: string): string {
    return join(this.dir, `${localId}.img`);
  }

  private template(mb: number): Promise<string> {
    let t = this.templates.get(mb);
    if (t === undefined) {
      t = this.makeTemplate(mb);
      this.templates.set(mb, t);
      t.catch(() => this.templates.delete(mb));
    }
    return t;
  }

  private async makeTemplate(mb: number): Promise<string> {
    const dir = join(this.dir, 'templates');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `${mb}.img`);
    if (await exists(path)) return path;
    const tmp = `${path}.tmp`;
    await mustRun('truncate', ['-s', `${mb}M`, tmp]);
    // No journal and no reserved blocks: the app gets the whole quota, and a scratch
    // filesystem that dies with its instance needs no crash recovery.
    await mustRun('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1', tmp]);
    await mustRun('mv', [tmp, path]);
    return path;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function mustRun(cmd: string, args: string[]): Promise<void> {
  const code = await runCommand(cmd, args);
  if (code !== 0) throw new Error(`${cmd} failed (exit ${code})`);
}

