import { describe, expect, it } from 'vitest';
import { startMessage, type AppSpec } from '../../../src/controller/start-message.js';
import { parseStart } from '../../../src/protocol/index.js';

const app: AppSpec = {
  appId: 'hello',
  name: 'hello',
  version: 'abc-1',
  stack: 'cflinuxfs4',
  memMb: 128,
  diskMb: 256,
  fds: 1024,
  uris: ['hello.dev.local'],
  env: ['GREETING=hi', 'EMPTY='],
  sha1: 'A'.repeat(40),
};

describe('the start message deactl sends', () => {
  it("passes the agent's own parser with every field as given", () => {
    const spec = parseStart(JSON.stringify(startMessage(app, 2, 'http://127.0.0.1:1/t/a/droplet.tgz')));
    expect(spec).toMatchObject({
      applicationId: 'hello',
      applicationName: 'hello',
      applicationVersion: 'abc-1',
      instanceIndex: 2,
      stack: 'cflinuxfs4',
      uris: ['hello.dev.local'],
      dropletSha1: 'a'.repeat(40),
      dropletUri: 'http://127.0.0.1:1/t/a/droplet.tgz',
      limits: { memMb: 128, diskMb: 256, fds: 1024 },
      environment: [
        ['GREETING', 'hi'],
        ['EMPTY', ''],
      ],
    });
  });
});
