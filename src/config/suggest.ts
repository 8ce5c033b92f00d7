/**
 * "Did you mean …?" for unknown config keys: the known key of the same section nearest by
 * edit distance, offered only when it is close enough to be a typo rather than a
 * different word.
 */

/** A zod schema seen only through its `def`, which is all this walks. */
interface SchemaNode {
  readonly def: {
    readonly type: string;
    readonly shape?: Record<string, SchemaNode>;
    readonly innerType?: SchemaNode;
    readonly out?: SchemaNode;
    readonly element?: SchemaNode;
  };
}

/** Through defaults, optionals and preprocess pipes to the object or array beneath. */
function unwrap(node: SchemaNode | undefined): SchemaNode | undefined {
  let s = node;
  for (let depth = 0; s && depth < 10; depth++) {
    const { type, innerType, out } = s.def;
    if (type === 'object' || type === 'array') return s;
    s = innerType ?? out;
  }
  return undefined;
}

/** The keys a mapping at `path` (as in a zod issue: keys and list indexes) may have. */
export function keysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let node = unwrap(schema as SchemaNode);
  for (const step of path) {
    if (!node) return [];
    node = unwrap(node.def.type === 'array' ? node.def.element : node.def.shape?.[String(step)]);
  }
  return node?.def.type === 'object' ? Object.keys(node.def.shape ?? {}) : [];
}

/**
 * Edits (insert, delete, substitute, swap two neighbours) between two words: a swap is
 * one typo, not two.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** One typo in a short word, two in a middling one, three in a long one. */
function tolerance(word: string): number {
  if (word.length <= 4) return 1;
  return word.length <= 9 ? 2 : 3;
}

/** The nearest of `known` to `typed` when it is within typo distance; ties go to the first. */
export function closestKey(typed: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = tolerance(typed) + 1;
  for (const key of known) {
    // Case and dashes are the commonest slips and cost nothing here.
    const distance = editDistance(typed.toLowerCase().replaceAll('-', '_'), key);
    if (distance < bestDistance) {
      best = key;
      bestDistance = distance;
    }
  }
  return best;
}
