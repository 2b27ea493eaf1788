import type { HostDnsState } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import { canonicalName, type PowerDnsClient, PowerDnsError, patchEntry, type RrsetChange } from './client.ts';
import { hostRrsets, zoneRrsets } from './projection.ts';
import { ensureZone } from './zone-setup.ts';
import { chunkEntries } from './zone-writer.ts';

/**
 * Makes PowerDNS equal to Postgres (ARCHITECTURE.md step 9): every rrset the
 * projection wants, and nothing else in the zone except the apex SOA/NS, the
 * name servers' own addresses and what the operator marks as theirs. It reads
 * the whole zone and every host without holding anything; then, holding the
 * zone writer's lock, it re-reads the hosts that differ and writes their
 * current state, so it can never undo a change the writer made meanwhile.
 */

export interface ReconcilerStore {
  allHostStates(after: string | undefined, limit: number): Promise<HostDnsState[]>;
  withZoneLock<T>(
    zone: string,
    work: (tx: { hostStates(names: readonly string[]): Promise<HostDnsState[]> }) => Promise<T>,
  ): Promise<T>;
}

export interface ReconcilerOptions {
  zone: string;
  ttl: number;
  nameservers: readonly string[];
  secondaries?: readonly string[];
  relayAddresses: readonly string[];
  /** Names (relative to the zone, `@` for the apex, `*.x` for a subtree) the reconciler leaves alone. */
  operatorRecords: readonly string[];
  store: ReconcilerStore;
  dns: PowerDnsClient;
  logger: Logger;
  maxBodyBytes?: number;
}

export type DifferenceKind = 'missing' | 'extra' | 'wrong';

export interface Difference {
  readonly kind: DifferenceKind;
  readonly name: string;
  readonly type: string;
  readonly have: readonly string[];
  readonly want: readonly string[];
}

export interface ReconcileReport {
  readonly zoneCreated: boolean;
  readonly differences: readonly Difference[];
  /** True when every difference was repaired. */
  readonly fixed: boolean;
  /** Rrsets PowerDNS refused to take (e.g. next to an operator's CNAME). */
  readonly unfixed?: readonly string[];
}

export interface Reconciler {
  run(options: { dryRun: boolean }): Promise<ReconcileReport>;
}

type Entry = ReturnType<typeof patchEntry>;
const key = (name: string, type: string) => `${name}\u0000${type}`;

export function describeDifference(d: Difference): string {
  const show = (records: readonly string[]) => (records.length > 0 ? records.join(' ') : '(none)');
  if (d.kind === 'missing') return `missing ${d.type} ${d.name} ${show(d.want)}`;
  if (d.kind === 'extra') return `extra   ${d.type} ${d.name} ${show(d.have)}`;
  return `wrong   ${d.type} ${d.name} ${show(d.have)} → ${show(d.want)}`;
}

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { zone, ttl, store, dns } = options;
  const log = options.logger.child({ component: 'reconciler' });
  const apex = canonicalName(zone);
  const suffix = `.${apex}`;
  const nameserverNames = new Set(options.nameservers.map(canonicalName));
  const operatorExact = new Set<string>();
  const operatorSubtrees: string[] = [];
  for (const raw of options.operatorRecords) {
    const relative = raw.trim().toLowerCase();
    if (relative === '') continue;
    if (relative === '@') operatorExact.add(apex);
    else if (relative.startsWith('*.'))
      operatorSubtrees.push(`.${canonicalName(`${relative.slice(2)}.${zone}`)}`);
    else operatorExact.add(canonicalName(`${relative}.${zone}`));
  }
  const isOperators = (name: string, type: string) =>
    (name === apex && (type === 'SOA' || type === 'NS')) ||
    nameserverNames.has(name) ||
    operatorExact.has(name) ||
    operatorSubtrees.some((subtree) => name.endsWith(subtree));

  /** The host label an owner name belongs to (`alice.<zone>` and `_acme-challenge.alice.<zone>`). */
  const hostOf = (name: string): string | undefined => {
    if (!name.endsWith(suffix)) return undefined;
    const relative = name.slice(0, -suffix.length).replace(/^_acme-challenge\./, '');
    return relative.includes('.') || relative === '' ? undefined : relative;
  };

  const desiredOf = (state: HostDnsState | undefined, label: string): Entry[] =>
    hostRrsets(zone, label, state, ttl)
      .filter((change) => change.records.length > 0)
      .map(patchEntry);
  const zoneLevel = zoneRrsets(zone, options.relayAddresses, ttl).filter((c) => c.records.length > 0);

  const sameContent = (a: readonly string[], b: readonly string[]) => {
    const left = [...a].sort();
    const right = [...b].sort();
    return left.length === right.length && left.every((value, i) => value === right[i]);
  };

  return {
    async run({ dryRun }) {
      let zoneCreated = false;
      if (!(await dns.zoneExists(zone))) {
        if (dryRun) {
          log.warn(`zone ${zone} does not exist in PowerDNS`);
        } else {
          zoneCreated = await ensureZone(
            dns,
            { zone, nameservers: options.nameservers, secondaries: options.secondaries ?? [] },
            log,
          );
        }
      }
      const current = new Map<string, { name: string; type: string; ttl: number; records: string[] }>();
      if (!zoneCreated && (await dns.zoneExists(zone))) {
        for (const rrset of await dns.listRrsets(zone)) {
          current.set(key(rrset.name, rrset.type), { ...rrset, records: [...rrset.records] });
        }
      }

      // Everything Postgres wants, page by page.
      const desired = new Map<string, Entry>();
      const labels = new Set<string>();
      for (const change of zoneLevel) {
        const entry = patchEntry(change);
        desired.set(key(entry.name, entry.type), entry);
      }
      for (let after: string | undefined; ; ) {
        const page = await store.allHostStates(after, 5000);
        for (const state of page) {
          labels.add(state.name);
          for (const entry of desiredOf(state, state.name)) desired.set(key(entry.name, entry.type), entry);
        }
        if (page.length < 5000) break;
        after = page[page.length - 1]?.name;
      }

      const differences: Difference[] = [];
      const touchedHosts = new Set<string>();
      const strays: { name: string; type: string }[] = [];
      const zoneFixes: Entry[] = [];
      for (const [k, want] of desired) {
        const have = current.get(k);
        const wantRecords = want.records.map((r) => r.content);
        if (!have)
          differences.push({
            kind: 'missing',
            name: want.name,
            type: want.type,
            have: [],
            want: wantRecords,
          });
        else if (have.ttl !== want.ttl || !sameContent(have.records, wantRecords)) {
          differences.push({
            kind: 'wrong',
            name: want.name,
            type: want.type,
            have: have.records,
            want: wantRecords,
          });
        } else continue;
        const label = hostOf(want.name);
        if (label !== undefined && labels.has(label)) touchedHosts.add(label);
        else zoneFixes.push(want);
      }
      for (const [k, have] of current) {
        if (desired.has(k) || isOperators(have.name, have.type) || !have.name.endsWith(apex)) continue;
        differences.push({ kind: 'extra', name: have.name, type: have.type, have: have.records, want: [] });
        const label = hostOf(have.name);
        if (label !== undefined && labels.has(label)) touchedHosts.add(label);
        else strays.push({ name: have.name, type: have.type });
      }

      for (const difference of differences) log.info(describeDifference(difference));
      if (dryRun || differences.length === 0) return { zoneCreated, differences, fixed: false };

      // Write under the zone writer's lock, from host rows read under it.
      const unfixed: string[] = [];
      await store.withZoneLock(zone, async (tx) => {
        const names = [...touchedHosts];
        const states = new Map((await tx.hostStates(names)).map((state) => [state.name, state]));
        const patch: Entry[] = [...zoneFixes];
        for (const label of names) {
          // Every rrset the host may own, in full: the empty ones delete strays at its names.
          for (const change of hostRrsets(zone, label, states.get(label), ttl))
            patch.push(patchEntry(change));
          const owned = new Set(
            hostRrsets(zone, label, undefined, ttl).map((c) => key(canonicalName(c.name), c.type)),
          );
          for (const [k, have] of current) {
            if (hostOf(have.name) === label && !owned.has(k)) {
              patch.push(
                patchEntry({ name: have.name, type: have.type as RrsetChange['type'], ttl, records: [] }),
              );
            }
          }
        }
        for (const stray of strays) {
          patch.push(
            patchEntry({ name: stray.name, type: stray.type as RrsetChange['type'], ttl, records: [] }),
          );
        }
        // Removals first: a stray CNAME must be gone before the name gets its A record
        // (PowerDNS applies a PATCH in order and refuses a CNAME beside other data).
        const ordered = [
          ...patch.filter((e) => e.records.length === 0),
          ...patch.filter((e) => e.records.length > 0),
        ];
        for (const chunk of chunkEntries(ordered, options.maxBodyBytes ?? 1024 * 1024)) {
          try {
            await dns.patchZoneEntries(zone, chunk);
          } catch (error) {
            // One rrset PowerDNS refuses (422) must not keep the others broken: one by one.
            if (!(error instanceof PowerDnsError && error.httpStatus === 422)) throw error;
            for (const entry of chunk) {
              await dns.patchZoneEntries(zone, [entry]).catch((entryError: unknown) => {
                if (!(entryError instanceof PowerDnsError && entryError.httpStatus === 422)) throw entryError;
                unfixed.push(`${entry.type} ${entry.name}: ${entryError.message}`);
              });
            }
          }
        }
      });
      for (const problem of unfixed) log.error(`PowerDNS refuses ${problem}`);
      log.info(
        `reconciled ${zone}: ${differences.length - unfixed.length} of ${differences.length} differences fixed`,
      );
      return { zoneCreated, differences, fixed: unfixed.length === 0, unfixed };
    },
  };
}
