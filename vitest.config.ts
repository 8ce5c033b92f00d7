import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests spawn real nats-servers, agents and apps; two cores cannot
    // take many of them at once without making health checks race their timeouts.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    sequence: { shuffle: false },
    // Host settings the run changes (IPv4 forwarding, /run/dea-net) are given back at its end.
    globalSetup: ['test/support/global-setup.ts'],
  },
});
