import type { HostDnsState } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import { canonicalName, type PowerDnsClient, PowerDnsError, type Rrset } from './client.ts';
import { zoneRrsets } from './projection.ts';
import {
  changeEntry,
  type Difference,
  describeDifference,
  desiredRrsets,
  diffZone,
  hostOfName,
  isProtectedRrset,
  type ZoneDiff,
} from './zone-diff.ts';
import { createZoneFingerprints, recordLine, type ZoneFingerprints } from './zone-fingerprints.ts';
import { ensureZone } from './zone-setup.ts';
import { chunkEntries } from './zone-writer.ts';

/**
 * Makes PowerDNS equal to Postgres (docs/architecture.md, "The reconciler"): every rrset the
 * projection wants, and nothing else in the zone except the apex SOA/NS, the
 * name servers' own addresses and what the operator marks as theirs. It reads
 * the whole zone and every host without holding anything; then, holding the
 * zone writer's lock, it re-reads the hosts that differ and writes their
 * current state, so it can never undo a change the writer made meanwhile.
 * The first read keeps a fingerprint per host (zone-fingerprints.ts); only
 * the hosts whose fingerprint differs from Postgres's are read again, from a
 * second export, and compared record by record.
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
  /** Sign the zone when the reconciler has to create it (after a wipe): MYDNS_DNSSEC. */
  dnssec?: boolean;
  relayAddresses: readonly string[];
  /** The API's public addresses (MYDNS_API_ADDRESS): `update`, `update4`, `update6` of the zone. */
  apiAddresses?: readonly string[];
  /** Names (relative to the zone, `@` for the apex, `*.x` for a subtree) the reconciler leaves alone. */
  operatorRecords: readonly string[];
  store: ReconcilerStore;
  dns: PowerDnsClient;
  logger: Logger;
  maxBodyBytes?: number;
  /**
   * The share of the time a pass may work (0 < share ≤ 1; 1: no pauses).
   * After each page of hosts, and each part of the zone export, it pauses
   * for what that took × (1 − share) ÷ share: updates keep the rest of the
   * machine, and a pass takes about 1 ÷ share times its work.
   */
  share?: number;
  /** The pauses' clock: tests pass their own. */
  pacing?: { now(): number; sleep(ms: number): Promise<void> };
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

/** How long to pause after `workMs` of work, so that work is `share` of the time. */
export function pauseAfter(workMs: number, share: number): number {
  return share >= 1 ? 0 : Math.max(0, workMs) * ((1 - share) / share);
}

const realPacing = {
  now: () => performance.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
};

/** Pauses, when called, for the work done since the last call (see ReconcilerOptions.share). */
function createPacer(share: number, pacing: { now(): number; sleep(ms: number): Promise<void> }) {
  let since = pacing.now();
  return {
    restart: () => {
      since = pacing.now();
    },
    async pause() {
      const ms = pauseAfter(pacing.now() - since, share);
      if (ms > 0) await pacing.sleep(ms);
      since = pacing.now();
    },
  };
}

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { zone, ttl, store, dns } = options;
  const log = options.logger.child({ component: 'reconciler', zone });
  const share = options.share ?? 1;
  if (!(share > 0 && share <= 1)) throw new Error(`the reconciler's share must be in (0, 1], not ${share}`);
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
      // Start and end of each pass at info: an operator (and the bench) sees how long a pass takes.
      const started = performance.now();
      log.info(`reconcile pass of ${zone} started`);
      const report = await pass(dryRun);
      log.info(
        `reconcile pass of ${zone} done in ${((performance.now() - started) / 1000).toFixed(1)} s: ${report.differences.length} differences`,
      );
      return report;
    },
  };

  async function pass(dryRun: boolean): Promise<ReconcileReport> {
    let zoneCreated = false;
    if (!(await dns.zoneExists(zone))) {
      if (dryRun) {
        log.warn(`zone ${zone} does not exist in PowerDNS`);
      } else {
        zoneCreated = await ensureZone(
          dns,
          {
            zone,
            nameservers: options.nameservers,
            secondaries: options.secondaries ?? [],
            dnssec: options.dnssec ?? false,
          },
          log,
        );
      }
    }
    // The export is paced for PowerDNS's work of building it too: it is the pass's cost as well.
    const pacer = createPacer(share, options.pacing ?? realPacing);
    const isProtected = isProtectedRrset({
      zone,
      nameservers: options.nameservers,
      operatorRecords: options.operatorRecords,
    });
    const exists = !zoneCreated && (await dns.zoneExists(zone));
    // The zone's own names (the relay's `mx`, the API's `update`) are compared whole, with the apex.
    const own = new Set(
      zoneRrsets(zone, [], ttl).flatMap((rrset) => hostOfName(zone, canonicalName(rrset.name)) ?? []),
    );
    const held = exists ? await fingerprintZone(dns, zone, own, isProtected, pacer.pause) : emptyHeld();
    pacer.restart();

    // Postgres page by page, each host's wanted records against its fingerprint: neither side
    // is ever in memory whole (a million hosts' records as objects would be gigabytes). What
    // differs is kept: the hosts' rows, and their records read again from a second export.
    const suspects = new Map<string, HostDnsState>();
    let reread = false;
    for (let after: string | undefined; ; ) {
      const page = await store.allHostStates(zone, after, PAGE);
      for (const state of page) {
        const lines = desiredRrsets(zone, ttl, [state], []).flatMap((rrset) =>
          rrset.records.map((content) => recordLine(rrset.name, rrset.type, rrset.ttl, content)),
        );
        const found = held.fingerprints.check(state.name, lines);
        if (found === 'same' || (found === 'absent' && lines.length === 0)) continue;
        suspects.set(state.name, state);
        if (found === 'differs') reread = true;
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]?.name;
      await pacer.pause();
    }
    // Hosts PowerDNS has and Postgres does not.
    if (held.fingerprints.markUnclaimed() > 0) reread = true;
    const records = reread ? await readSuspects(dns, zone, held.fingerprints, pacer.pause) : new Map();
    pacer.restart();

    const differences: Difference[] = [];
    const refused: Difference[] = [];
    const removals: Rrset[] = [];
    const writes: Rrset[] = [];
    /** What PowerDNS held for each host with a change (the writes are decided again under the lock). */
    const kept = new Map<string, Rrset[]>();
    const take = (found: ZoneDiff, actualOf: (label: string) => Rrset[]) => {
      differences.push(...found.differences);
      refused.push(...found.refused);
      for (const change of found.changes) {
        (change.records.length === 0 ? removals : writes).push(change);
        const label = hostOfName(zone, change.name);
        if (label !== undefined && !kept.has(label)) kept.set(label, actualOf(label));
      }
    };
    const heldOf = (label: string) => rrsetsOf(records.get(label) ?? []);
    const suspected = [...suspects.values()];
    for (let i = 0; i < suspected.length; i += PAGE) {
      const page = suspected.slice(i, i + PAGE);
      take(
        diff(
          desiredRrsets(zone, ttl, page, []),
          page.flatMap((state) => heldOf(state.name)),
        ),
        heldOf,
      );
      await pacer.pause();
    }
    // What no host in Postgres owns: the zone's own names, hosts Postgres no longer has, anything else.
    const rest = new Map<string, Rrset[]>();
    for (const [label, lines] of records) if (!suspects.has(label)) rest.set(label, rrsetsOf(lines));
    take(
      diff(desiredRrsets(zone, ttl, [], options.relayAddresses, options.apiAddresses ?? []), [
        ...held.others,
        ...[...rest.values()].flat(),
      ]),
      (label) => rest.get(label) ?? [],
    );

    for (const difference of differences) log.info(describeDifference(difference));
    for (const difference of refused)
      log.error(
        `not ours to change (an operator's or a name server's name): ${describeDifference(difference)}`,
      );
    if (dryRun || differences.length === 0) return { zoneCreated, differences, fixed: false, refused };

    // Write under the zone writer's lock, from the rows of the hosts concerned
    // read again under it: what the writer pushed meanwhile is never undone.
    // Changes at names no host owns (the zone's own, anything else) do not depend on any row.
    const unfixed: string[] = [];
    await store.withZoneLock(zone, async (tx) => {
      const concerned = [...kept.keys()];
      const fresh: HostDnsState[] = [];
      for (let i = 0; i < concerned.length; i += PAGE)
        fresh.push(...(await tx.hostStates(concerned.slice(i, i + PAGE))));
      const isConcerned = (name: string) => {
        const label = hostOfName(zone, name);
        return label !== undefined && kept.has(label);
      };
      const desired = [
        ...desiredRrsets(zone, ttl, fresh, []),
        ...desiredRrsets(zone, ttl, [], options.relayAddresses, options.apiAddresses ?? []).filter((rrset) =>
          isConcerned(rrset.name),
        ),
      ];
      const hostChanges = diff(desired, [...kept.values()].flat()).changes;
      const unowned = (list: Rrset[]) => list.filter((change) => !isConcerned(change.name));
      const changes = [
        ...unowned(removals),
        ...hostChanges.filter((change) => change.records.length === 0),
        ...unowned(writes),
        ...hostChanges.filter((change) => change.records.length > 0),
      ];
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
  }
}

/** Hosts per page of Postgres (and per lookup under the lock). */
const PAGE = 5000;

/**
 * The first read of the zone: a fingerprint per host label (zone-fingerprints.ts), and the
 * names that belong to no host (the apex, `own`: the relay's and the API's names) as rrsets,
 * since they are few and always compared.
 */
interface HeldZone {
  readonly fingerprints: ZoneFingerprints;
  readonly others: Rrset[];
}

const emptyHeld = (): HeldZone => ({ fingerprints: createZoneFingerprints(), others: [] });

async function fingerprintZone(
  dns: PowerDnsClient,
  zone: string,
  own: ReadonlySet<string>,
  isProtected: (name: string, type: string) => boolean,
  between: () => Promise<void>,
): Promise<HeldZone> {
  const fingerprints = createZoneFingerprints();
  const others: string[] = [];
  await dns.exportRecords(
    zone,
    (record) => {
      const label = hostOfName(zone, record.name);
      const line = recordLine(record.name, record.type, record.ttl, record.content);
      if (label === undefined || own.has(label)) others.push(line);
      else fingerprints.add(label, line, !isProtected(record.name, record.type));
    },
    { between },
  );
  return { fingerprints, others: rrsetsOf(others) };
}

/** The second read, only when something differs: the records of the suspect labels, as their lines. */
async function readSuspects(
  dns: PowerDnsClient,
  zone: string,
  fingerprints: ZoneFingerprints,
  between: () => Promise<void>,
): Promise<Map<string, string[]>> {
  const byHost = new Map<string, string[]>();
  await dns.exportRecords(
    zone,
    (record) => {
      const label = hostOfName(zone, record.name);
      if (label === undefined || !fingerprints.isSuspect(label)) return;
      const lines = byHost.get(label) ?? [];
      lines.push(recordLine(record.name, record.type, record.ttl, record.content));
      byHost.set(label, lines);
    },
    { between },
  );
  return byHost;
}

/** Record lines (zone-fingerprints.ts `recordLine`) back into rrsets. */
function rrsetsOf(lines: readonly string[]): Rrset[] {
  const sets = new Map<string, { name: string; type: string; ttl: number; records: string[] }>();
  for (const line of lines) {
    const [name = '', type = '', ttl = '0', ...content] = line.split('\t');
    const key = `${name}\u0000${type}`;
    const rrset = sets.get(key) ?? { name, type, ttl: Number(ttl), records: [] };
    rrset.records.push(content.join('\t'));
    sets.set(key, rrset);
  }
  return [...sets.values()];
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
