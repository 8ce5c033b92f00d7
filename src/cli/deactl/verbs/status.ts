export async function status(..._a: unknown[]): Promise<number> { throw new Error('not yet'); }
