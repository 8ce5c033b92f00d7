export async function top(..._a: unknown[]): Promise<number> { throw new Error('not yet'); }
