import type { Bus } from '../bus/types.js';
import type { AgentConfig } from '../config/types.js';
import type { Transition } from '../instance/instance.js';
import type { InstanceRegistry } from '../instance/registry.js';
import type { InstanceLifecycle } from '../lifecycle/lifecycle.js';
import type { Clock } from '../platform/clock.js';
import type { IdGenerator } from '../platform/ids.js';
import type { Logger } from '../platform/logger.js';
import type { ComponentInfo } from '../protocol/index.js';
import type { RouterClient } from '../router/router-client.js';
import type { Reporter } from './reporter.js';

/** What the message handlers may use. */
export interface AgentContext {
  readonly id: string;
  readonly config: AgentConfig;
  readonly bus: Bus;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly logger: Logger;
  readonly registry: InstanceRegistry;
  readonly lifecycle: InstanceLifecycle;
  readonly router: RouterClient;
  readonly reporter: Reporter;
  readonly onTransition: (t: Transition) => void;
  shuttingDown(): boolean;
  /** USR2 was received and the evacuation is not over (protocol §11.2). */
  evacuating(): boolean;
  /** The signed directory-server URL of `path` in an instance (protocol §11.5); null if none. */
  fileUri?(instanceId: string, path: string | null): string | null;
  /** The status server's discovery document, once it listens. */
  component(): ComponentInfo | null;
}
