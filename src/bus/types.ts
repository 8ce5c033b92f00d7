/**
 * The bus port: subjects and bytes. It never knows what a message means or what
 * state an instance is in.
 */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly reply: string | undefined;
}

export type BusHandler = (msg: BusMessage) => void | Promise<void>;

export interface Subscription {
  unsubscribe(): void;
}

export interface Bus {
  /** Publishes `body` JSON-encoded. */
  publish(subject: string, body: unknown): void;
  subscribe(subject: string, handler: BusHandler): Subscription;
  /** Resolves when everything published so far has reached the server. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function encodeJson(body: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(body));
}
