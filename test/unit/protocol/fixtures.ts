/** Realistic payloads (protocol §20) and instance views for the protocol tests. */
import type { InstanceView, StartSpec } from '../../../src/instance/types.js';

export const APP = '7b0e5d3c-1f2a-4b6c-8d9e-0a1b2c3d4e5f';
export const VERSION = 'c0ffee00-1111-2222-3333-444455556666';
export const SHA1 = '4a1c9b2e3d4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b';
export const DEA_ID = '0-5d3c8e1f2a3b4c5d6e7f8a9b0c1d2e3f';
export const INSTANCE_ID = '9f2d1c3b4a5e6f708192a3b4c5d6e7f8';
export const PRIVATE_ID = 'ab'.repeat(32);

/** A start message as cloud_controller_ng sends it, unknown keys included. */
export function startMessage(): Record<string, unknown> {
  return {
    droplet: APP,
    name: 'web',
    stack: 'cflinuxfs2',
    uris: ['web.example.com'],
    prod: false,
    sha1: SHA1,
    executableFile: 'deprecated',
    executableUri: `https://blobstore.example.com/droplets/${APP}?signature=abc`,
    version: VERSION,
    services: [
      {
        credentials: { uri: 'postgres://u:p@db:5432/x' },
        syslog_drain_url: null,
        label: 'elephantsql',
        name: 'db',
        tags: ['postgres'],
        plan: 'turtle',
        provider: null,
      },
    ],
    limits: { mem: 256, disk: 1024, fds: 16384 },
    env: ['FOO=bar', 'CF_PROCESS_TYPE=web', 'EQ=a=b=c', 'EMPTY='],
    cc_partition: 'default',
    console: false,
    debug: null,
    start_command: null,
    health_check_timeout: null,
    vcap_application: {
      limits: { mem: 256, disk: 1024, fds: 16384 },
      application_id: APP,
      application_version: VERSION,
      application_name: 'web',
      application_uris: ['web.example.com'],
      version: VERSION,
      name: 'web',
      space_name: 'dev',
      space_id: 'space-guid',
      uris: ['web.example.com'],
      users: null,
    },
    index: 0,
    egress_network_rules: [{ protocol: 'all', destination: '0.0.0.0-9.255.255.255' }],
  };
}

export function spec(over: Partial<StartSpec> = {}): StartSpec {
  return {
    applicationId: APP,
    applicationVersion: VERSION,
    applicationName: 'web',
    instanceIndex: 0,
    ccPartition: 'default',
    uris: ['web.example.com'],
    stack: 'cflinuxfs2',
    dropletSha1: SHA1,
    dropletUri: 'https://blobstore.example.com/d',
    startCommand: null,
    healthCheckTimeoutSecs: null,
    limits: { memMb: 256, diskMb: 1024, fds: 16384 },
    environment: [],
    services: [],
    vcapApplication: {},
    ...over,
  };
}

export function instance(over: Partial<InstanceView> = {}, specOver: Partial<StartSpec> = {}): InstanceView {
  return {
    instanceId: INSTANCE_ID,
    privateInstanceId: PRIVATE_ID,
    spec: spec(specOver),
    state: 'RUNNING',
    stateTimestamp: 1453370000123,
    startingTimestamp: 1453369990000,
    uris: ['web.example.com'],
    version: VERSION,
    hostPort: 61001,
    exitStatus: -1,
    exitDescription: '',
    crashTimestamp: null,
    usage: null,
    ...over,
  };
}

/** The MessageError problems a parse throws, or a failure if it does not throw. */
export function problemsOf(parse: () => unknown): readonly string[] {
  try {
    parse();
  } catch (err) {
    if (err && typeof err === 'object' && 'problems' in err) return err.problems as readonly string[];
    throw err;
  }
  throw new Error('expected the parse to throw');
}
