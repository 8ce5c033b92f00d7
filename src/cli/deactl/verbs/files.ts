export async function files(..._a: unknown[]): Promise<number> { throw new Error('not yet'); }
