import { describe, expect, it } from 'vitest';
import { guaranteedRate, joinScript, leaveScript, sharedRootScript } from '../../../src/network/htb-script.js';

const d = { down: 'deasd-dn', up: 'deasd-up' };

describe('shared bandwidth scripts', () => {
  it('makes one tree per direction under a root class at the node rate', () => {
    expect(sharedRootScript(d, 2_000_000)).toBe(
      [
        'qdisc add dev deasd-dn root handle 1: htb default 0',
        'class add dev deasd-dn parent 1: classid 1:1 htb rate 16000000bit ceil 16000000bit',
        'qdisc add dev deasd-up root handle 1: htb default 0',
        'class add dev deasd-up parent 1: classid 1:1 htb rate 16000000bit ceil 16000000bit',
        '',
      ].join('\n'),
    );
  });

  it('guarantees each instance its share by memory, the node rate as ceiling', () => {
    expect(guaranteedRate(256, 1024, 2_000_000)).toBe(500_000);
    expect(guaranteedRate(2048, 1024, 2_000_000)).toBe(2_000_000); // never more than the node
    const s = joinScript(d, { classNo: 0x1a, hostIf: 'dea0123456789-0', ip: '10.254.0.6', rate: 500_000 }, 2_000_000);
    expect(s).toContain('class add dev deasd-dn parent 1:1 classid 1:1a htb rate 4000000bit ceil 16000000bit');
    expect(s).toContain('filter add dev deasd-dn parent 1: protocol ip prio 26 u32 match ip dst 10.254.0.6/32 flowid 1:1a');
    expect(s).toContain('filter add dev deasd-up parent 1: protocol ip prio 26 u32 match ip src 10.254.0.6/32 flowid 1:1a');
    expect(s).toContain('filter add dev dea0123456789-0 egress protocol all u32 match u32 0 0 action mirred egress redirect dev deasd-dn');
    expect(s).toContain('filter add dev dea0123456789-0 ingress protocol all u32 match u32 0 0 action mirred egress redirect dev deasd-up');
  });

  it('removes exactly one instance\'s filters and classes, and refuses a class number out of range', () => {
    expect(leaveScript(d, 26)).toBe(
      ['filter del dev deasd-dn parent 1: prio 26', 'class del dev deasd-dn classid 1:1a', 'filter del dev deasd-up parent 1: prio 26', 'class del dev deasd-up classid 1:1a', ''].join('\n'),
    );
    expect(() => leaveScript(d, 1)).toThrow(RangeError);
  });
});
