/**
 * The repository's own documents stand alone: every `protocol §N.M` a source comment cites
 * is a section of docs/protocol.md, and the operator-facing files cite nothing outside
 * the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path, ext);
    return ext.test(name) ? [path] : [];
  });
}

/** The labels docs/protocol.md defines: `## §4 …` and `**§4.2 …**`. */
function definedSections(): Set<string> {
  const text = readFileSync(join(root, 'docs/protocol.md'), 'utf8');
  return new Set([...text.matchAll(/^(?:## |\*\*)§(\d+(?:\.\d+)?)/gm)].map((m) => m[1]!));
}

/** `protocol §4.1, §4.2 and §3.5` → 4.1, 4.2, 3.5 with the file each came from. */
function citedSections(): Array<{ file: string; section: string }> {
  return filesUnder(join(root, 'src'), /\.ts$/).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(/protocol (§[\d.]+(?:(?:, | and |–)§?[\d.]+)*)/g)].flatMap((m) =>
      [...m[1]!.matchAll(/(\d+(?:\.\d+)?)/g)].map((n) => ({ file: relative(root, file), section: n[1]! })),
    );
  });
}

describe('documentation citations', () => {
  it('every protocol section cited in src/ is in docs/protocol.md', () => {
    const defined = definedSections();
    const cited = citedSections();
    expect(cited.length).toBeGreaterThan(10);
    expect(cited.filter((c) => !defined.has(c.section))).toEqual([]);
  });

  it('README, docs, config and the sources cite no document outside the repository', () => {
    const files = [
      'README.md',
      ...filesUnder(join(root, 'docs'), /\.md$/),
      ...filesUnder(join(root, 'config'), /\.(yml|yaml|service)$/),
      ...filesUnder(join(root, 'src'), /\.ts$/),
    ];
    const offenders = files.flatMap((f) => {
      const text = readFileSync(f.startsWith('/') ? f : join(root, f), 'utf8');
      return /SPEC|reference\/|isolation\.md/.test(text) ? [relative(root, f.startsWith('/') ? f : join(root, f))] : [];
    });
    expect(offenders).toEqual([]);
  });
});
