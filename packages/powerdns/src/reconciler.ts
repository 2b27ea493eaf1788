import type { HostDnsState } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import { type PowerDnsClient, PowerDnsError, type Rrset } from './client.ts';
import {
  changeEntry,
  type Difference,
  describeDifference,
  desiredRrsets,
  diffZone,
  hostOfName,
} from './zone-diff.ts';
import { ensureZone } from './zone-setup.ts';
import { chunkEntries } from './zone-writer.ts';

/**
 * Makes PowerDNS equal to Postgres (docs/architecture.md, "The reconciler"): every rrset the
 * projection wants, and nothing else in the zone except the apex SOA/NS, the
 * name servers' own addresses and what the operator marks as theirs. It reads
 * the whole zone and every host without holding anything; then, holding the
 * zone writer's lock, it re-reads the hosts that differ and writes their
 * current state, so it can never undo a change the writer made meanwhile.
 * What differs and what to write is decided by diffZone (zone-diff.ts).
 */

export interface ReconcilerStore {
  /** A page of the hosts of `zone`, in name order. */
  allHostStates(zone: string, after: string | undefined, limit: number): Promise<HostDnsState[]>;
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
  /** The API's public addresses (MYDNS_API_ADDRESS): `update`, `update4`, `update6` of the zone. */
  apiAddresses?: readonly string[];
  /** Names (relative to the zone, `@` for the apex, `*.x` for a subtree) the reconciler leaves alone. */
  operatorRecords: readonly string[];
  store: ReconcilerStore;
  dns: PowerDnsClient;
  logger: Logger;
  maxBodyBytes?: number;
}

export interface ReconcileReport {
  readonly zoneCreated: boolean;
  readonly differences: readonly Difference[];
  /** True when every difference was repaired. */
  readonly fixed: boolean;
  /** Rrsets PowerDNS refused to take (e.g. next to an operator's CNAME). */
  readonly unfixed?: readonly string[];
  /** Differences at names that are not ours (MYDNS_OPERATOR_RECORDS, name servers): left alone. */
  readonly refused: readonly Difference[];
}

export interface Reconciler {
  run(options: { dryRun: boolean }): Promise<ReconcileReport>;
}

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { zone, ttl, store, dns } = options;
  const log = options.logger.child({ component: 'reconciler', zone });
  const diff = (desired: readonly Rrset[], actual: readonly Rrset[]) =>
    diffZone({
      zone,
      desired,
      actual,
      nameservers: options.nameservers,
      operatorRecords: options.operatorRecords,
    });

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
      const actual = !zoneCreated && (await dns.zoneExists(zone)) ? await dns.listRrsets(zone) : [];

      // Everything Postgres wants, page by page.
      const hosts: HostDnsState[] = [];
      for (let after: string | undefined; ; ) {
        const page = await store.allHostStates(zone, after, 5000);
        hosts.push(...page);
        if (page.length < 5000) break;
        after = page[page.length - 1]?.name;
      }
      const found = diff(
        desiredRrsets(zone, ttl, hosts, options.relayAddresses, options.apiAddresses),
        actual,
      );
      const { differences, refused } = found;

      for (const difference of differences) log.info(describeDifference(difference));
      for (const difference of refused)
        log.error(
          `not ours to change (an operator's or a name server's name): ${describeDifference(difference)}`,
        );
      if (dryRun || differences.length === 0) return { zoneCreated, differences, fixed: false, refused };

      // Write under the zone writer's lock, from the rows of the hosts concerned
      // read again under it: what the writer pushed meanwhile is never undone.
      const unfixed: string[] = [];
      await store.withZoneLock(zone, async (tx) => {
        const concerned = new Set(found.changes.flatMap((change) => hostOfName(zone, change.name) ?? []));
        const current = new Map(hosts.map((state) => [state.name, state]));
        for (const name of concerned) current.delete(name);
        for (const state of await tx.hostStates([...concerned])) current.set(state.name, state);
        const desired = desiredRrsets(
          zone,
          ttl,
          [...current.values()],
          options.relayAddresses,
          options.apiAddresses,
        );
        const { changes } = diff(desired, actual);
        for (const chunk of chunkEntries(changes.map(changeEntry), options.maxBodyBytes ?? 1024 * 1024)) {
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
      return { zoneCreated, differences, fixed: unfixed.length === 0, unfixed, refused };
    },
  };
}

/**
 * One reconciler over several zones (one per zone, run one after the other):
 * the report of all of them together. Every name in a difference is a full
 * name, so the zones' differences never mix up.
 */
export function combineReconcilers(reconcilers: readonly Reconciler[]): Reconciler {
  if (reconcilers.length === 1 && reconcilers[0]) return reconcilers[0];
  return {
    async run(options) {
      const reports: ReconcileReport[] = [];
      for (const reconciler of reconcilers) reports.push(await reconciler.run(options));
      const unfixed = reports.flatMap((report) => report.unfixed ?? []);
      return {
        zoneCreated: reports.some((report) => report.zoneCreated),
        differences: reports.flatMap((report) => report.differences),
        // As for one zone: true when there was something to repair and all of it was.
        fixed:
          reports.some((report) => report.differences.length > 0) &&
          reports.every((report) => report.fixed || report.differences.length === 0),
        unfixed,
        refused: reports.flatMap((report) => report.refused),
      };
    },
  };
}
