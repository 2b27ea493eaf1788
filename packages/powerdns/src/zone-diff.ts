import type { HostDnsState } from '@mydns/domain';
import { canonicalName, patchEntry, type RecordType, type Rrset } from './client.ts';
import { hostRrsets, zoneRrsets } from './projection.ts';

/**
 * "What Postgres says" against "what PowerDNS has", as pure functions
 * (deSEC's way): the reconciler reads both sides, and everything it decides
 * is decided here, so every kind of drift is tested by table
 * (zone-diff.test.ts) without a server.
 */

export type DifferenceKind = 'missing' | 'extra' | 'wrong';

export interface Difference {
  readonly kind: DifferenceKind;
  readonly name: string;
  readonly type: string;
  readonly have: readonly string[];
  readonly want: readonly string[];
}

export interface ZoneDiffInput {
  /** The zone, e.g. `dyn.example.net`. */
  readonly zone: string;
  /** Every rrset Postgres wants in the zone, in full (see desiredRrsets). */
  readonly desired: readonly Rrset[];
  /** Every rrset PowerDNS holds in the zone. */
  readonly actual: readonly Rrset[];
  /** The name servers' own names: left alone, as the apex SOA and NS are. */
  readonly nameservers: readonly string[];
  /** The operator's names, relative to the zone: `@` for the apex, `www`, `*.lab` for a subtree. */
  readonly operatorRecords: readonly string[];
}

export interface ZoneDiff {
  /** What differs and will be repaired: missing and wrong in Postgres's order, then extra in PowerDNS's. */
  readonly differences: readonly Difference[];
  /** The rrsets that repair them, in full (no records: remove), removals first. */
  readonly changes: readonly Rrset[];
  /**
   * Differences at a name that is not ours to change (the operator's, a name
   * server's, the apex SOA/NS): left alone and reported, never overwritten.
   */
  readonly refused: readonly Difference[];
}

const key = (name: string, type: string) => `${name}\u0000${type}`;

/** The rrset as PowerDNS holds it: canonical name, canonical contents (quoted TXT …). */
function canonicalRrset(change: Parameters<typeof patchEntry>[0]): Rrset {
  const entry = patchEntry(change);
  return { name: entry.name, type: entry.type, ttl: entry.ttl, records: entry.records.map((r) => r.content) };
}

/** Everything Postgres wants in the zone: the relay's names, then each host's rrsets (empty ones left out). */
export function desiredRrsets(
  zone: string,
  ttl: number,
  hosts: readonly HostDnsState[],
  relayAddresses: readonly string[],
  apiAddresses: readonly string[] = [],
): Rrset[] {
  return [
    ...zoneRrsets(zone, relayAddresses, ttl, apiAddresses),
    ...hosts.flatMap((h) => hostRrsets(zone, h.name, h, ttl)),
  ]
    .filter((change) => change.records.length > 0)
    .map(canonicalRrset);
}

/**
 * The host an owner name belongs to: `alice` for `alice.<zone>.` and every
 * name below it (`_acme-challenge.alice.<zone>.`, `*.alice.<zone>.`, the
 * owner's `www.alice.<zone>.`): a host is one label of the zone.
 */
export function hostOfName(zone: string, name: string): string | undefined {
  const suffix = `.${canonicalName(zone)}`;
  if (!name.endsWith(suffix)) return undefined;
  const relative = name.slice(0, -suffix.length);
  return relative === '' ? undefined : relative.slice(relative.lastIndexOf('.') + 1);
}

/** Whether the reconciler must leave `name`/`type` alone. */
export function isProtectedRrset(
  input: Pick<ZoneDiffInput, 'zone' | 'nameservers' | 'operatorRecords'>,
): (name: string, type: string) => boolean {
  const apex = canonicalName(input.zone);
  const exact = new Set(input.nameservers.map(canonicalName));
  const subtrees: string[] = [];
  for (const raw of input.operatorRecords) {
    const relative = raw.trim().toLowerCase();
    if (relative === '') continue;
    if (relative === '@') exact.add(apex);
    else if (relative.startsWith('*.'))
      subtrees.push(`.${canonicalName(`${relative.slice(2)}.${input.zone}`)}`);
    else exact.add(canonicalName(`${relative}.${input.zone}`));
  }
  return (name, type) =>
    (name === apex && (type === 'SOA' || type === 'NS')) ||
    exact.has(name) ||
    subtrees.some((subtree) => name.endsWith(subtree));
}

const sameRecords = (a: readonly string[], b: readonly string[]) => {
  const left = [...a].sort();
  const right = [...b].sort();
  return left.length === right.length && left.every((value, i) => value === right[i]);
};

export function diffZone(input: ZoneDiffInput): ZoneDiff {
  const apex = canonicalName(input.zone);
  const isProtected = isProtectedRrset(input);
  const inZone = (name: string) => name === apex || name.endsWith(`.${apex}`);
  const desired = new Map(input.desired.map((rrset) => [key(rrset.name, rrset.type), rrset]));
  const actual = new Map(input.actual.map((rrset) => [key(rrset.name, rrset.type), rrset]));
  const differences: Difference[] = [];
  const refused: Difference[] = [];
  const writes: Rrset[] = [];
  const removals: Rrset[] = [];

  for (const [k, want] of desired) {
    const have = actual.get(k);
    if (have && have.ttl === want.ttl && sameRecords(have.records, want.records)) continue;
    const difference: Difference = {
      kind: have ? 'wrong' : 'missing',
      name: want.name,
      type: want.type,
      have: have?.records ?? [],
      want: want.records,
    };
    if (isProtected(want.name, want.type)) {
      refused.push(difference);
      continue;
    }
    differences.push(difference);
    writes.push(want);
  }
  for (const [k, have] of actual) {
    if (desired.has(k) || !inZone(have.name) || isProtected(have.name, have.type)) continue;
    differences.push({ kind: 'extra', name: have.name, type: have.type, have: have.records, want: [] });
    removals.push({ name: have.name, type: have.type, ttl: have.ttl, records: [] });
  }
  // Removals first: a stray CNAME must be gone before the name gets its A record
  // (PowerDNS applies a PATCH in order and refuses a CNAME beside other data).
  return { differences, changes: [...removals, ...writes], refused };
}

/** A change as a PATCH entry (its type is whatever PowerDNS or the projection named). */
export function changeEntry(change: Rrset): ReturnType<typeof patchEntry> {
  return patchEntry({ ...change, type: change.type as RecordType });
}

export function describeDifference(d: Difference): string {
  const show = (records: readonly string[]) => (records.length > 0 ? records.join(' ') : '(none)');
  if (d.kind === 'missing') return `missing ${d.type} ${d.name} ${show(d.want)}`;
  if (d.kind === 'extra') return `extra   ${d.type} ${d.name} ${show(d.have)}`;
  return `wrong   ${d.type} ${d.name} ${show(d.have)} → ${show(d.want)}`;
}
