import type { HostDnsState } from '@mydns/domain';
import { type Clock, errorMessage, type Logger, systemClock } from '@mydns/runtime';
import { type PowerDnsClient, PowerDnsError, patchEntry } from './client.ts';
import { createNotifyCoalescer } from './notify-coalescer.ts';
import { hostRrsets } from './projection.ts';

/**
 * The only thing that PATCHes a zone (docs/architecture.md, "The outbox and the zone writer").
 *
 * PowerDNS takes no zone lock: parallel PATCHes fail on gsqlite3 ("database is
 * locked") or leave duplicate records on gpgsql (pdns#7128). So writes to a
 * zone are serialised: in one process by this loop, across replicas by a
 * Postgres advisory lock held for the whole read → PATCH → mark cycle.
 *
 * Group commit: while a PATCH is in flight, new changes wait in the outbox and
 * go out together in the next PATCH. The rrsets are computed from the rows as
 * they are when the batch is read, never from the request, so the last
 * committed value always wins.
 */

export interface OutboxEntry {
  readonly id: number;
  readonly name: string;
  /** Owner rrsets (`TYPE:subname`) the host's rows held before this change (a set replaced, a host deleted). */
  readonly stale?: readonly string[];
}

/** What one cycle pushes: the oldest pending rows and the current state of their hosts. */
export interface PendingBatch {
  readonly entries: readonly OutboxEntry[];
  /** One per host of the entries that still has a row (none: the host is gone). */
  readonly states: readonly HostDnsState[];
}

export interface ZoneWriterStore {
  /**
   * Runs `work` in one transaction that holds the zone's advisory lock, with
   * `limit` pending rows and their hosts' states read after the lock was
   * taken: the rows `first` names that are still pending, then the oldest;
   * `complete` marks rows done in that transaction.
   */
  withPendingBatch<T>(
    zone: string,
    which: { limit: number; first?: readonly number[] },
    work: (batch: PendingBatch, tx: { complete(ids: readonly number[]): Promise<void> }) => Promise<T>,
  ): Promise<T>;
  /** Which of these outbox ids are still pending. */
  stillPending(ids: readonly number[]): Promise<Set<number>>;
}

export interface ZoneWriterOptions {
  zone: string;
  ttl: number;
  store: ZoneWriterStore;
  dns: PowerDnsClient;
  logger: Logger;
  /** Outbox rows read per cycle. */
  maxBatch?: number;
  /** PowerDNS refuses bodies over 2 MiB (webserver-max-bodysize); stay well under. */
  maxBodyBytes?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Picks up changes left pending by a crash, another replica, or an outage. */
  sweepIntervalMs?: number;
  /** Called after every PATCH, for metrics. */
  onPatch?: (rrsets: number, ms: number) => void;
  /**
   * Hidden primary: after each batch, ask PowerDNS to NOTIFY the secondaries
   * at once (a PATCH sends none; they would hear only after xfr-cycle-interval).
   */
  notifySecondaries?: boolean;
  /**
   * At most one NOTIFY per this many ms (notify-coalescer.ts): the first change
   * after a quiet interval at once, the rest together at its end. 0: after
   * every batch.
   */
  notifyIntervalMs?: number;
  /** Called when a push attempt fails (PowerDNS down or refusing), for metrics. */
  onError?: (error: unknown) => void;
  /** Backoff, push deadlines and the sweep wait on this clock (tests pass a fake one). */
  clock?: Clock;
}

export interface ZoneWriterStats {
  readonly waiting: number;
  readonly consecutiveFailures: number;
  readonly lastError: string | undefined;
}

export interface ZoneWriter {
  start(): void;
  /** Waits until outbox row `id` is in PowerDNS (true) or `timeoutMs` passed (false; it stays pending). */
  push(id: number, timeoutMs: number): Promise<boolean>;
  /** Pushes everything pending now; rejects if PowerDNS fails. For the CLI and tests. */
  flush(): Promise<void>;
  /**
   * Look at the outbox now (something was queued without a waiting request,
   * or PowerDNS is back): like a waiting request, this cuts a backoff short.
   */
  wake(): void;
  stop(): Promise<void>;
  stats(): ZoneWriterStats;
}

type Resolve = (pushed: boolean) => void;

/** See `backOff` in createZoneWriter. */
const HURRY_AFTER_MS = 1000;

/** Splits PATCH entries into bodies under `maxBytes`. */
export function chunkEntries<T>(entries: readonly T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 16; // {"rrsets":[]}
  for (const entry of entries) {
    const entrySize = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (current.length > 0 && size + entrySize > maxBytes) {
      chunks.push(current);
      current = [];
      size = 16;
    }
    current.push(entry);
    size += entrySize;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function createZoneWriter(options: ZoneWriterOptions): ZoneWriter {
  const { zone, ttl, store, dns } = options;
  const log = options.logger.child({ component: 'zone-writer', zone });
  const maxBatch = options.maxBatch ?? 5000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const retryMinMs = options.retryMinMs ?? 250;
  const retryMaxMs = options.retryMaxMs ?? 10_000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 5000;
  const clock = options.clock ?? systemClock;
  const waiters = new Map<number, Set<Resolve>>();
  const abort = new AbortController();
  let dirty = false;
  let running: Promise<void> | undefined;
  let failures = 0;
  let lastError: string | undefined;
  let backoff: AbortController | undefined;
  const notifier = options.notifySecondaries
    ? createNotifyCoalescer({
        intervalMs: options.notifyIntervalMs ?? 0,
        clock,
        // The change is in; a failed NOTIFY only delays the secondaries until their next check.
        send: () => dns.notify(zone),
        onError: (error) => log.warn(`NOTIFY failed: ${errorMessage(error)}`),
      })
    : undefined;

  const settle = (id: number, pushed: boolean) => {
    const resolvers = waiters.get(id);
    if (!resolvers) return;
    waiters.delete(id);
    for (const resolve of resolvers) resolve(pushed);
  };

  /** One read → PATCH → mark cycle. Returns whether more rows are waiting. */
  const flushOnce = async (): Promise<boolean> => {
    const waitingBefore = [...waiters.keys()];
    const started = performance.now();
    let patchMs = 0;
    const send = async (entries: ReturnType<typeof patchEntry>[]) => {
      const patchStarted = performance.now();
      await dns.patchZoneEntries(zone, entries);
      const ms = performance.now() - patchStarted;
      patchMs += ms;
      options.onPatch?.(entries.length, ms);
    };
    // What requests wait for goes first, so an update is not answered after a
    // backlog nobody waits for (the dormancy job's, an import's); at most half
    // a batch of it, so that backlog still moves under a herd of waiters.
    const first = waitingBefore.toSorted((a, b) => a - b).slice(0, Math.max(1, Math.floor(maxBatch / 2)));
    const which = { limit: maxBatch, first };
    const { ids, names, more } = await store.withPendingBatch(zone, which, async (batch, tx) => {
      const { entries } = batch;
      if (entries.length === 0) return { ids: [] as number[], names: 0, more: false };
      const names = [...new Set(entries.map((entry) => entry.name))];
      const states = new Map(batch.states.map((state) => [state.name, state]));
      const stale = new Map<string, Set<string>>();
      for (const entry of entries) {
        if (!entry.stale) continue;
        const subnames = stale.get(entry.name) ?? new Set<string>();
        for (const subname of entry.stale) subnames.add(subname);
        stale.set(entry.name, subnames);
      }
      const rrsetsOf = (name: string) =>
        hostRrsets(zone, name, states.get(name), ttl, [...(stale.get(name) ?? [])]).map(patchEntry);
      const refusedNames = new Set<string>();
      try {
        for (const chunk of chunkEntries(names.flatMap(rrsetsOf), maxBodyBytes)) await send(chunk);
      } catch (error) {
        // PowerDNS refuses the batch's content (422), e.g. an operator's CNAME at a
        // host's name. Retrying cannot help, and one host must not block the zone:
        // push host by host and give up on those PowerDNS refuses.
        if (!(error instanceof PowerDnsError && error.httpStatus === 422)) throw error;
        for (const name of names) {
          try {
            await send(rrsetsOf(name));
          } catch (hostError) {
            if (!(hostError instanceof PowerDnsError && hostError.httpStatus === 422)) throw hostError;
            refusedNames.add(name);
            options.onError?.(hostError);
            log.error(
              `PowerDNS refuses the records of ${name}; left for the reconciler: ${hostError.message}`,
            );
          }
        }
      }
      const isRefused = (entry: OutboxEntry) => refusedNames.has(entry.name);
      const ids = entries.filter((entry) => !isRefused(entry)).map((entry) => entry.id);
      const refused = entries.filter(isRefused).map((entry) => entry.id);
      // PowerDNS has the changes: their requests are answered now, not after
      // the rows are marked done. That is bookkeeping: if it is lost (this
      // transaction fails, a crash), the rows are pushed again, which changes
      // nothing (every rrset is sent in full).
      for (const id of ids) settle(id, true);
      for (const id of refused) settle(id, false);
      await tx.complete(entries.map((entry) => entry.id));
      return { ids, names: names.length, more: entries.length === maxBatch };
    });
    if (ids.length > 0) {
      log.debug(
        `pushed ${names} hosts (${ids.length} changes) in ${Math.round(performance.now() - started)} ms`,
        {
          patchMs: Math.round(patchMs),
        },
      );
    }
    if (ids.length > 0) notifier?.changed();
    // Rows another replica pushed never show up in our batch: ask once for the
    // waiters that were already waiting when this cycle began.
    const pushedElsewhere = more ? [] : waitingBefore.filter((id) => waiters.has(id));
    if (pushedElsewhere.length > 0) {
      const pending = await store.stillPending(pushedElsewhere);
      for (const id of pushedElsewhere) if (!pending.has(id)) settle(id, true);
    }
    return more;
  };

  const loop = async () => {
    while (dirty && !abort.signal.aborted) {
      dirty = false;
      try {
        if (await flushOnce()) dirty = true;
        if (failures > 0) log.info(`PowerDNS accepts changes again after ${failures} failed attempts`);
        failures = 0;
        lastError = undefined;
      } catch (error) {
        failures++;
        lastError = errorMessage(error);
        options.onError?.(error);
        dirty = true;
        const delay = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(failures - 1, 16));
        log.warn(`push failed (attempt ${failures}), retrying in ${delay} ms: ${lastError}`);
        const failedAt = clock.now();
        await backOff(failedAt + delay, failedAt + HURRY_AFTER_MS);
      }
    }
  };

  /**
   * Waits until `until`, the end of the backoff; while a request waits for
   * PowerDNS, only until `hurried`. A waiting request cuts a long backoff
   * short, so updates turn good soon after PowerDNS is back, whether the
   * request came before the failed attempt or during the backoff; attempts
   * stay at least a second apart, so a PowerDNS that stays down is not
   * hammered at the request rate.
   */
  const backOff = async (until: number, hurried: number) => {
    while (!abort.signal.aborted) {
      const end = waiters.size > 0 ? Math.min(until, hurried) : until;
      const now = clock.now();
      if (now >= end) return;
      backoff = new AbortController();
      await clock.sleep(end - now, { signal: AbortSignal.any([abort.signal, backoff.signal]) });
      backoff = undefined;
    }
  };

  /** A new waiting request: the backoff looks again at when to end. */
  const hurry = () => backoff?.abort();

  const kick = () => {
    dirty = true;
    if (running || abort.signal.aborted) return;
    running = loop().finally(() => {
      running = undefined;
      if (dirty && !abort.signal.aborted) kick();
    });
  };

  return {
    start() {
      kick();
      void (async () => {
        // The sweep never keeps the process alive by itself (an unref'd interval).
        while (!abort.signal.aborted) {
          await clock.sleep(sweepIntervalMs, { signal: abort.signal, keepAlive: false });
          kick();
        }
      })();
    },
    push(id, timeoutMs) {
      return new Promise<boolean>((resolve) => {
        const cancel = clock.after(timeoutMs, () => {
          waiters.get(id)?.delete(done);
          if (waiters.get(id)?.size === 0) waiters.delete(id);
          resolve(false);
        });
        const done: Resolve = (pushed) => {
          cancel();
          resolve(pushed);
        };
        const resolvers = waiters.get(id) ?? new Set<Resolve>();
        resolvers.add(done);
        waiters.set(id, resolvers);
        kick();
        hurry();
      });
    },
    async flush() {
      await running;
      while (await flushOnce()) {
        // keep going until the outbox is empty
      }
      await notifier?.idle();
    },
    wake() {
      kick();
      hurry();
    },
    async stop() {
      abort.abort();
      await running;
      for (const id of [...waiters.keys()]) settle(id, false);
      await notifier?.stop();
    },
    stats: () => ({ waiting: waiters.size, consecutiveFailures: failures, lastError }),
  };
}
