import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listensOn } from '../../../src/platform/listeners.js';

describe('who listens on a port', () => {
  it('is this process for its own server, and not another process', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const other = spawn('sleep', ['30']);
    try {
      expect(listensOn(port, [process.pid])).toBe(true);
      expect(listensOn(port, [other.pid!])).toBe(false);
    } finally {
      other.kill('SIGKILL');
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(listensOn(port, [process.pid])).toBe(false);
  });
});
