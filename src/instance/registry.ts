import type { Instance } from './instance.js';
import type { InstanceState, InstanceView } from './types.js';

/** Instances by id and by app. Pure in-memory. */
export class InstanceRegistry {
  private readonly byId = new Map<string, Instance>();

  add(instance: Instance): void {
    this.byId.set(instance.instanceId, instance);
  }

  remove(instance: Instance): void {
    if (this.byId.get(instance.instanceId) === instance) this.byId.delete(instance.instanceId);
  }

  /** dea.update gives an instance a new id (protocol §3.3). */
  rekey(instance: Instance, newId: string): void {
    this.remove(instance);
    instance.instanceId = newId;
    this.add(instance);
  }

  get(instanceId: string): Instance | undefined {
    return this.byId.get(instanceId);
  }

  all(): Instance[] {
    return [...this.byId.values()];
  }

  size(): number {
    return this.byId.size;
  }

  forApp(appId: string): Instance[] {
    return this.all().filter((i) => i.spec.applicationId === appId);
  }

  inStates(states: ReadonlySet<InstanceState>): Instance[] {
    return this.all().filter((i) => states.has(i.state));
  }

  filter(pred: (i: InstanceView) => boolean): Instance[] {
    return this.all().filter(pred);
  }

  /** app id → number of its instances here, any state (dea.advertise `app_id_to_count`). */
  appIdToCount(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const i of this.byId.values()) {
      counts[i.spec.applicationId] = (counts[i.spec.applicationId] ?? 0) + 1;
    }
    return counts;
  }
}
