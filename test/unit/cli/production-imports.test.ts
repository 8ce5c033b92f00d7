/**
 * The test doubles in src/ (the scripted fake backend, the in-memory bus) must be
 * unreachable from the production entry points: the config cannot select them, and no
 * import chain from `bin/dea`'s or `bin/deactl`'s module may load them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const ENTRY = join(root, 'src/cli/dea.ts');
const TEST_DOUBLES = [/^src\/backends\/fake\//, /^src\/bus\/memory-bus\.ts$/];

/** Static and dynamic imports of relative modules; `import type` is erased at build time. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?from\s+'(\.[^']+)'/gms),
    ...text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g),
  ].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts'))).map((p) => (existsSync(p) ? p : join(p.replace(/\.ts$/, ''), 'index.ts')));
}

function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    queue.push(...importsOf(file).filter((f) => existsSync(f)));
  }
  return new Set([...seen].map((f) => relative(root, f)));
}

describe('the production entry point', () => {
  const files = reachable(ENTRY);

  it('reaches the real adapters (so the walk itself works)', () => {
    expect(files).toContain('src/main.ts');
    expect(files).toContain('src/bus/nats-bus.ts');
    expect(files).toContain('src/backends/process/process-backend.ts');
  });

  it('never reaches a test double', () => {
    expect([...files].filter((f) => TEST_DOUBLES.some((re) => re.test(f)))).toEqual([]);
  });

  it("nor does bin/deactl's module, the other production entry point", () => {
    const deactl = reachable(join(root, 'src/cli/deactl.ts'));
    expect(deactl).toContain('src/cli/deactl/main.ts');
    expect([...deactl].filter((f) => TEST_DOUBLES.some((re) => re.test(f)))).toEqual([]);
  });

  it('nor does the bus module a production caller would import', () => {
    const viaIndex = reachable(join(root, 'src/bus/index.ts'));
    expect(viaIndex).toContain('src/bus/nats-bus.ts');
    expect([...viaIndex].filter((f) => TEST_DOUBLES.some((re) => re.test(f)))).toEqual([]);
  });
});
