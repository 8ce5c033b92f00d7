import type { Bus } from '../bus/types.js';
import type { InstanceRegistry } from '../instance/registry.js';
import { capacityOf, reservations } from '../instance/resources.js';
import type { InstanceView } from '../instance/types.js';
import type { ResourcesConfig, StackConfig } from '../config/types.js';
import type { Clock } from '../platform/clock.js';
import * as P from '../protocol/index.js';

export interface ReporterContext {
  readonly id: string;
  readonly ip: string;
  readonly stacks: readonly StackConfig[];
  readonly zone: string;
  readonly resources: ResourcesConfig;
}

/** Publishes what the agent tells its peers about itself: adverts, heartbeats, exits. */
export class Reporter {
  private advertising = true;
  private advertisePending = false;
  private heartbeatPending = false;

  constructor(
    private readonly bus: Bus,
    private readonly registry: InstanceRegistry,
    private readonly ctx: ReporterContext,
    private readonly clock: Clock,
  ) {}

  hello(): void {
    this.bus.publish(P.DEA_HELLO, P.hello({ id: this.ctx.id, ip: this.ctx.ip }));
  }

  advertise(): void {
    if (!this.advertising) return;
    const r = reservations(capacityOf(this.ctx.resources), this.registry);
    this.bus.publish(
      P.DEA_ADVERTISE,
      P.advertise({
        id: this.ctx.id,
        stacks: this.ctx.stacks.map((s) => s.name),
        availableMemoryMb: r.availableMemoryMb,
        availableDiskMb: r.availableDiskMb,
        appIdToCount: this.registry.appIdToCount(),
        zone: this.ctx.zone,
      }),
    );
    this.bus.publish(P.STAGING_ADVERTISE, P.stagingAdvertise({ id: this.ctx.id }));
  }

  /** Reservations changed: tell placement soon, once however many changed together. */
  advertiseSoon(): void {
    if (this.advertisePending) return;
    this.advertisePending = true;
    this.clock.after(0, () => {
      this.advertisePending = false;
      this.advertise();
    });
  }

  /** USR1, shutdown and evacuation stop advertising for good. */
  stopAdvertising(): void {
    this.advertising = false;
  }

  heartbeat(): void {
    this.bus.publish(P.DEA_HEARTBEAT, P.heartbeat(this.ctx.id, this.registry.all(), this.ctx.ip));
  }

  /** Several instances changed together (an evacuation): one heartbeat for all of them. */
  heartbeatSoon(): void {
    if (this.heartbeatPending) return;
    this.heartbeatPending = true;
    this.clock.after(0, () => {
      this.heartbeatPending = false;
      this.heartbeat();
    });
  }

  exited(inst: InstanceView, reason: P.ExitReason): void {
    this.bus.publish(P.DROPLET_EXITED, P.dropletExited(inst, reason));
  }

  goodbye(): void {
    this.bus.publish(
      P.DEA_SHUTDOWN,
      P.goodbye({ id: this.ctx.id, ip: this.ctx.ip, appIdToCount: this.registry.appIdToCount() }),
    );
  }

  status(usedMemoryMb: number): P.StatusReply {
    const cap = capacityOf(this.ctx.resources);
    const r = reservations(cap, this.registry);
    return P.statusReply({
      id: this.ctx.id,
      ip: this.ctx.ip,
      maxMemoryMb: cap.memoryMb,
      reservedMemoryMb: r.reservedMemoryMb,
      usedMemoryMb,
    });
  }
}
