import { createHash } from 'node:crypto';

/**
 * Every name the network gives the host carries the agent's tag (its base_dir, hashed)
 * and the instance id, so what an agent made can be found and removed by it alone, even
 * with several agents on one host (the tests run several side by side).
 *
 *   netns          dea-<tag>-<instance id>        /run/netns, survives an agent restart
 *   host veth      dea<short id>-0                interface names have 15 characters
 *                                                 (renamed to the instance's short id: instanceLinks)
 *   container end  dea<short id>-1                inside the namespace
 *   ifb            dea<short id>-2                the container's upload is shaped here
 *   nft table      dea_<tag>_<instance id>        one per instance: set up and removed whole
 *   link alias     dea:<tag>:<instance id>        on host-side links: who owns them
 */
export interface NetNames {
  readonly instanceId: string;
  readonly netns: string;
  readonly hostIf: string;
  readonly containerIf: string;
  readonly ifb: string;
  readonly table: string;
  readonly alias: string;
}

const ID = /^[0-9a-f]{32}$/;
const TAG = /^[0-9a-f]{8}$/;
export const SHORT_ID_LENGTH = 10;

/** The agent's tag: 8 hex of its base_dir's hash. */
export function agentTag(baseDir: string): string {
  return createHash('sha256').update(baseDir).digest('hex').slice(0, 8);
}

export function netNames(tag: string, instanceId: string): NetNames {
  if (!TAG.test(tag) || !ID.test(instanceId)) throw new Error(`bad network name parts: ${tag} ${instanceId}`);
  const short = instanceId.slice(0, SHORT_ID_LENGTH);
  return {
    instanceId,
    netns: `dea-${tag}-${instanceId}`,
    hostIf: `dea${short}-0`,
    containerIf: `dea${short}-1`,
    ifb: `dea${short}-2`,
    table: `dea_${tag}_${instanceId}`,
    alias: `dea:${tag}:${instanceId}`,
  };
}

/**
 * The host-side links once a network serves an instance: renamed after the instance's
 * short id (a network is made before its instance is known, under its own id).
 */
export function instanceLinks(instanceId: string): Pick<NetNames, 'hostIf' | 'ifb'> {
  if (!ID.test(instanceId)) throw new Error(`bad instance id: ${instanceId.slice(0, 40)}`);
  const short = instanceId.slice(0, SHORT_ID_LENGTH);
  return { hostIf: `dea${short}-0`, ifb: `dea${short}-2` };
}

/** The instance id in one of this agent's names, or null when the name is not its. */
export function ownedId(tag: string, name: string): string | null {
  for (const prefix of [`dea-${tag}-`, `dea_${tag}_`, `dea:${tag}:`]) {
    if (name.startsWith(prefix)) {
      const id = name.slice(prefix.length);
      return ID.test(id) ? id : null;
    }
  }
  return null;
}
