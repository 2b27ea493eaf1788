import type { HostDnsState } from '@mydns/domain';
import type { OutboxEntry, ReconcilerStore, ZoneWriterStore } from '@mydns/powerdns';

/**
 * Postgres's side of the zone writer and the reconciler in memory (what
 * packages/db dns-outbox-repository.ts does with SQL): host rows, the outbox,
 * and a zone lock under which work is all-or-nothing, as in a transaction.
 */
/** Serves as a ZoneWriterStore and as a ReconcilerStore (its zone lock hands out the wider transaction). */
export interface FakeDnsStore
  extends ZoneWriterStore,
    Pick<ReconcilerStore, 'allHostStates' | 'withZoneLock'> {
  /**
   * Sets a host's row (commits a change) and queues its push; returns the outbox id.
   * `stale`: the owner rrsets its rows held before (a PUT of records, see records-repository.ts).
   */
  change(state: HostDnsState, stale?: readonly string[]): number;
  /**
   * Runs `commit` once, as the writer's next batch is read: a change landing while the writer
   * works. The batch's rows and their states are read in one statement (one snapshot), so the
   * change is either wholly in that batch or wholly in the next.
   */
  beforeNextBatch(commit: () => void): void;
  /** Removes a host's row (a deleted host) and queues its push. */
  remove(name: string): number;
  /** Sets a host's row without queueing anything (a row the outbox never heard of). */
  put(state: HostDnsState): void;
  /** Outbox ids still pending, in order. */
  pendingIds(): number[];
  /** Another replica pushed these rows: they leave the outbox without us. */
  pushedElsewhere(ids: readonly number[]): void;
  /**
   * Holds the next `complete` (marking pushed rows done) until the returned
   * function is called; called with an error, `complete` fails with it.
   */
  holdComplete(): (error?: Error) => void;
}

export function host(name: string, fields: Partial<Omit<HostDnsState, 'name'>> = {}): HostDnsState {
  return { name, ipv4: null, ipv6: null, status: 'active', acme: [], mailEnabled: false, ...fields };
}

export function createFakeDnsStore(hosts: readonly HostDnsState[] = []): FakeDnsStore {
  const rows = new Map(hosts.map((state) => [state.name, state]));
  const outbox = new Map<number, OutboxEntry>();
  let nextId = 1;
  let lock: Promise<unknown> = Promise.resolve();
  let held: Promise<void> | undefined;
  let beforeBatch: (() => void) | undefined;
  const queue = (name: string, stale?: readonly string[]) => {
    const id = nextId++;
    outbox.set(id, stale ? { id, name, stale } : { id, name });
    return id;
  };
  const statesOf = (names: readonly string[]) =>
    names.flatMap((name) => {
      const state = rows.get(name);
      return state ? [state] : [];
    });

  /** Runs `work` under the zone lock, all-or-nothing: the rows it completes leave the outbox if it succeeds. */
  const locked = <T>(
    work: (tx: {
      hostStates(names: readonly string[]): Promise<HostDnsState[]>;
      complete(ids: readonly number[]): Promise<void>;
    }) => Promise<T>,
  ): Promise<T> => {
    const run = lock.then(async () => {
      const completed: number[] = [];
      const result = await work({
        hostStates: async (names) => statesOf(names),
        complete: async (ids) => {
          const gate = held;
          held = undefined;
          await gate;
          completed.push(...ids);
        },
      });
      // Committed only when the work succeeds: a failed PATCH leaves the rows pending.
      for (const id of completed) outbox.delete(id);
      return result;
    });
    lock = run.catch(() => undefined);
    return run;
  };

  return {
    withZoneLock: (_zone, work) => locked(work),
    withPendingBatch: (_zone, { limit, first = [] }, work) =>
      locked((tx) => {
        const commit = beforeBatch;
        beforeBatch = undefined;
        commit?.();
        const waited = new Set(first);
        const rank = (entry: OutboxEntry) => (waited.has(entry.id) ? 0 : 1);
        const entries = [...outbox.values()]
          .sort((a, b) => rank(a) - rank(b) || a.id - b.id)
          .slice(0, limit)
          .sort((a, b) => a.id - b.id);
        const states = statesOf([...new Set(entries.map((entry) => entry.name))]);
        return work({ entries, states }, tx);
      }),
    async stillPending(ids) {
      return new Set(ids.filter((id) => outbox.has(id)));
    },
    // One zone: the fake holds the hosts of the zone under test only.
    async allHostStates(_zone, after, limit) {
      return [...rows.values()]
        .filter((state) => after === undefined || state.name > after)
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .slice(0, limit);
    },
    change(state, stale) {
      rows.set(state.name, state);
      return queue(state.name, stale);
    },
    beforeNextBatch(commit) {
      beforeBatch = commit;
    },
    remove(name) {
      rows.delete(name);
      return queue(name);
    },
    put(state) {
      rows.set(state.name, state);
    },
    pendingIds: () => [...outbox.keys()].sort((a, b) => a - b),
    pushedElsewhere(ids) {
      for (const id of ids) outbox.delete(id);
    },
    holdComplete() {
      let open: (error?: Error) => void = () => undefined;
      held = new Promise<void>((resolve, reject) => {
        open = (error) => (error ? reject(error) : resolve());
      });
      held.catch(() => undefined);
      return (error) => open(error);
    },
  };
}
