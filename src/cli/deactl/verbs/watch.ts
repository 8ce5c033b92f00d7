export async function watch(..._a: unknown[]): Promise<number> { throw new Error('not yet'); }
