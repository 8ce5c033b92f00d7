/**
 * An egress rule of a start message (docs/network.md), validated and typed. Only these
 * values ever reach an nft script: numbers and address ranges, never message text.
 */
import type { AddressRange } from './ipv4.js';

export type EgressProtocol = 'tcp' | 'udp' | 'icmp' | 'all';

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export interface EgressRule {
  readonly protocol: EgressProtocol;
  readonly destination: AddressRange;
  /** tcp/udp only; empty: every port. */
  readonly ports: readonly PortRange[];
  /** icmp only; null: any. */
  readonly icmpType: number | null;
  readonly icmpCode: number | null;
  readonly log: boolean;
}

/** A start's egress rules: all valid, or why the first bad one is not. */
export type EgressRules = { readonly ok: true; readonly rules: readonly EgressRule[] } | { readonly ok: false; readonly problem: string };

export const NO_EGRESS_RULES: EgressRules = { ok: true, rules: [] };
