export async function logs(..._a: unknown[]): Promise<number> { throw new Error('not yet'); }
