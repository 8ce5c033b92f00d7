import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The monitor benches' app: a v1 droplet whose startup execs `sleep 3600`, with 2,000
 * small files in 20 directories for the disk meter to measure.
 */
export function sleeperDroplet(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(path.join(dir, 'startup'), '#!/bin/bash\nexec sleep 3600\n', { mode: 0o755 });
  for (let d = 0; d < 20; d++) {
    mkdirSync(path.join(dir, 'data', `d${d}`), { recursive: true, mode: 0o755 });
    for (let f = 0; f < 100; f++) writeFileSync(path.join(dir, 'data', `d${d}`, `f${f}.txt`), `${d}/${f} `.repeat(40));
  }
}
