import { describe, expect, it } from 'vitest';
import { InstanceRegistry } from '../../../src/instance/registry.js';
import { instanceIn, newInstance } from './fixtures.js';

describe('InstanceRegistry', () => {
  it('adds, finds and removes instances by id', () => {
    const reg = new InstanceRegistry();
    const a = newInstance();
    const b = newInstance();
    reg.add(a);
    reg.add(b);
    expect(reg.size()).toBe(2);
    expect(reg.get(a.instanceId)).toBe(a);
    expect(reg.all()).toEqual([a, b]);
    reg.remove(a);
    expect(reg.get(a.instanceId)).toBeUndefined();
    expect(reg.size()).toBe(1);
    reg.remove(a);
    expect(reg.all()).toEqual([b]);
  });

  it('removes only the very instance registered under the id', () => {
    const reg = new InstanceRegistry();
    const a = newInstance();
    reg.add(a);
    const impostor = newInstance();
    impostor.instanceId = a.instanceId;
    reg.remove(impostor);
    expect(reg.get(a.instanceId)).toBe(a);
  });

  it('re-keys an instance under a new id (dea.update), keeping its local id', () => {
    const reg = new InstanceRegistry();
    const a = newInstance();
    const oldId = a.instanceId;
    reg.add(a);
    reg.rekey(a, 'f'.repeat(32));
    expect(a.instanceId).toBe('f'.repeat(32));
    expect(a.localId).toBe(oldId);
    expect(reg.get(oldId)).toBeUndefined();
    expect(reg.get('f'.repeat(32))).toBe(a);
    expect(reg.size()).toBe(1);
  });

  it('lists instances by app, by state and by predicate', () => {
    const reg = new InstanceRegistry();
    const web1 = instanceIn('RUNNING', { applicationId: 'web' });
    const web2 = instanceIn('CRASHED', { applicationId: 'web', instanceIndex: 1 });
    const worker = instanceIn('STARTING', { applicationId: 'worker' });
    for (const i of [web1, web2, worker]) reg.add(i);
    expect(reg.forApp('web')).toEqual([web1, web2]);
    expect(reg.forApp('nope')).toEqual([]);
    expect(reg.inStates(new Set(['RUNNING', 'STARTING']))).toEqual([web1, worker]);
    expect(reg.filter((i) => i.spec.instanceIndex === 1)).toEqual([web2]);
  });

  it('counts instances per app in any state (app_id_to_count)', () => {
    const reg = new InstanceRegistry();
    reg.add(instanceIn('RUNNING', { applicationId: 'web' }));
    reg.add(instanceIn('CRASHED', { applicationId: 'web' }));
    reg.add(instanceIn('BORN', { applicationId: 'worker' }));
    expect(reg.appIdToCount()).toEqual({ web: 2, worker: 1 });
    expect(new InstanceRegistry().appIdToCount()).toEqual({});
  });
});
