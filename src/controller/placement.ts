/**
 * Where Cloud Controller would start an instance (docs/deactl.md, push step 3), pure: stack, enough
 * memory and disk, then the zone with the fewest instances of the app, then the agents
 * with the fewest instances of it, then the emptier half by memory, then a random pick.
 * The caller owns the adverts; `bookPlacement` applies CC's local bump after a start.
 */

/** What placement needs of one `dea.advertise` (protocol §4.2). */
export interface PlacementAdvert {
  readonly id: string;
  readonly stacks: readonly string[];
  readonly availableMemoryMb: number;
  /** Absent in old adverts: then any disk fits, as in CC. */
  readonly availableDiskMb: number | null;
  readonly appCounts: Readonly<Record<string, number>>;
  readonly zone: string;
}

export interface PlacementNeed {
  readonly appId: string;
  readonly stack: string;
  readonly memMb: number;
  readonly diskMb: number;
}

/** Why nothing fits, most basic reason first: the message a person needs to act on. */
export type Shortfall =
  | { readonly kind: 'no-agents' }
  | { readonly kind: 'stack'; readonly offered: readonly string[] }
  | { readonly kind: 'capacity'; readonly bestMemoryMb: number; readonly bestDiskMb: number | null };

export type Placement = { readonly ok: true; readonly agentId: string } | { readonly ok: false; readonly why: Shortfall };

/** A number in [0, 1): Math.random in use, a seeded sequence in tests. */
export type Random = () => number;

export const DEFAULT_ZONE = 'default';

function countOf(ad: PlacementAdvert, appId: string): number {
  // Own properties only: an app id like `__proto__` must not read the prototype.
  return Object.hasOwn(ad.appCounts, appId) ? (ad.appCounts[appId] ?? 0) : 0;
}

function fits(ad: PlacementAdvert, need: PlacementNeed): boolean {
  const disk = ad.availableDiskMb === null || ad.availableDiskMb >= need.diskMb;
  return disk && ad.availableMemoryMb >= need.memMb && ad.stacks.includes(need.stack);
}

/** Only the zone(s) holding the fewest instances of the app, counted over the candidates. */
function inEmptiestZones(ads: readonly PlacementAdvert[], appId: string): PlacementAdvert[] {
  const perZone = new Map<string, number>();
  for (const ad of ads) perZone.set(ad.zone, (perZone.get(ad.zone) ?? 0) + countOf(ad, appId));
  const least = Math.min(...perZone.values());
  return ads.filter((ad) => perZone.get(ad.zone) === least);
}

function withFewestOfApp(ads: readonly PlacementAdvert[], appId: string): PlacementAdvert[] {
  const least = Math.min(...ads.map((ad) => countOf(ad, appId)));
  return ads.filter((ad) => countOf(ad, appId) === least);
}

/** The half (rounded up) with the most available memory; ties keep their advert order. */
function upperHalfByMemory(ads: readonly PlacementAdvert[]): PlacementAdvert[] {
  const sorted = [...ads].sort((a, b) => b.availableMemoryMb - a.availableMemoryMb);
  return sorted.slice(0, Math.ceil(sorted.length / 2));
}

function shortfall(ads: readonly PlacementAdvert[], need: PlacementNeed): Shortfall {
  if (ads.length === 0) return { kind: 'no-agents' };
  const withStack = ads.filter((ad) => ad.stacks.includes(need.stack));
  if (withStack.length === 0) return { kind: 'stack', offered: [...new Set(ads.flatMap((ad) => ad.stacks))] };
  const bestMemoryMb = Math.max(...withStack.map((ad) => ad.availableMemoryMb));
  const disks = withStack.map((ad) => ad.availableDiskMb).filter((d): d is number => d !== null);
  return { kind: 'capacity', bestMemoryMb, bestDiskMb: disks.length > 0 ? Math.max(...disks) : null };
}

export function place(ads: readonly PlacementAdvert[], need: PlacementNeed, random: Random = Math.random): Placement {
  const fitting = ads.filter((ad) => fits(ad, need));
  if (fitting.length === 0) return { ok: false, why: shortfall(ads, need) };
  const pool = upperHalfByMemory(withFewestOfApp(inEmptiestZones(fitting, need.appId), need.appId));
  const pick = pool[Math.min(pool.length - 1, Math.floor(random() * pool.length))]!;
  return { ok: true, agentId: pick.id };
}

/**
 * CC's bookkeeping after a start, until the agent's next advert: one more instance of the
 * app, its memory taken. The disk is taken too (CC did not), so a burst of starts cannot
 * overfill an agent's disk before it advertises again.
 */
export function bookPlacement(ads: readonly PlacementAdvert[], agentId: string, need: PlacementNeed): PlacementAdvert[] {
  return ads.map((ad) => {
    if (ad.id !== agentId) return ad;
    return {
      ...ad,
      availableMemoryMb: ad.availableMemoryMb - need.memMb,
      availableDiskMb: ad.availableDiskMb === null ? null : ad.availableDiskMb - need.diskMb,
      appCounts: { ...ad.appCounts, [need.appId]: countOf(ad, need.appId) + 1 },
    };
  });
}

/** Places `count` instances one after the other, each seeing the bookings before it. */
export function placeMany(
  ads: readonly PlacementAdvert[],
  need: PlacementNeed,
  count: number,
  random: Random = Math.random,
): { readonly agents: string[]; readonly short: Shortfall | null; readonly ads: PlacementAdvert[] } {
  let current = [...ads];
  const agents: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = place(current, need, random);
    if (!p.ok) return { agents, short: p.why, ads: current };
    agents.push(p.agentId);
    current = bookPlacement(current, p.agentId, need);
  }
  return { agents, short: null, ads: current };
}

/** The advert's fields as placement reads them; a missing zone is CC's `default`. */
export function fromAdvert(raw: {
  id: string;
  stacks?: unknown;
  available_memory?: unknown;
  available_disk?: unknown;
  app_id_to_count?: unknown;
  placement_properties?: unknown;
}): PlacementAdvert {
  const zone = (raw.placement_properties as { zone?: unknown } | null | undefined)?.zone;
  const counts = raw.app_id_to_count;
  return {
    id: raw.id,
    stacks: Array.isArray(raw.stacks) ? raw.stacks.filter((s): s is string => typeof s === 'string') : [],
    availableMemoryMb: typeof raw.available_memory === 'number' ? raw.available_memory : 0,
    availableDiskMb: typeof raw.available_disk === 'number' ? raw.available_disk : null,
    appCounts: counts !== null && typeof counts === 'object' ? Object.fromEntries(Object.entries(counts).filter(([, n]) => typeof n === 'number')) : {},
    zone: typeof zone === 'string' && zone !== '' ? zone : DEFAULT_ZONE,
  };
}
