/**
 * The directed start message a controller sends to `dea.<id>.start` (protocol §5.1), with
 * the fields cloud_controller_ng filled in, pure. The agent's parser (protocol/inbound) is
 * the other side of this: a message built here must pass it.
 */
export interface AppSpec {
  readonly appId: string;
  readonly name: string;
  readonly version: string;
  readonly stack: string;
  readonly memMb: number;
  readonly diskMb: number;
  readonly fds: number;
  readonly uris: readonly string[];
  readonly env: readonly string[];
  readonly sha1: string;
}

export function startMessage(app: AppSpec, index: number, dropletUrl: string): Record<string, unknown> {
  const limits = { mem: app.memMb, disk: app.diskMb, fds: app.fds };
  return {
    droplet: app.appId,
    name: app.name,
    stack: app.stack,
    uris: [...app.uris],
    prod: false,
    sha1: app.sha1,
    executableFile: 'deprecated',
    executableUri: dropletUrl,
    version: app.version,
    services: [],
    limits,
    env: [...app.env],
    cc_partition: 'default',
    console: false,
    debug: null,
    start_command: null,
    health_check_timeout: null,
    vcap_application: {
      limits,
      application_id: app.appId,
      application_version: app.version,
      application_name: app.name,
      application_uris: [...app.uris],
      version: app.version,
      name: app.name,
      space_name: 'deactl',
      space_id: 'deactl',
      uris: [...app.uris],
      users: null,
    },
    index,
    egress_network_rules: [],
  };
}
