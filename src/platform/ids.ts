import { randomUUID } from 'node:crypto';

/** Id generation behind a port so tests can make ids predictable. */
export interface IdGenerator {
  /** 32 lowercase hex characters (a UUID without dashes). */
  hex32(): string;
}

export const randomIds: IdGenerator = {
  hex32: () => randomUUID().replaceAll('-', ''),
};

export function agentId(index: number, ids: IdGenerator): string {
  return `${index}-${ids.hex32()}`;
}
