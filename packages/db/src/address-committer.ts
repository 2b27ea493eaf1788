import type { AddressChange, FamilyChange } from './hosts-repository.ts';

/**
 * Group commit of address changes (docs/architecture.md, "The update path", step 6).
 *
 * A change alone is committed at once. Changes that arrive while a commit is
 * in flight wait, and all of them go to Postgres together in the next one:
 * one transaction, one WAL flush, one round trip for the lot, instead of one
 * each. Under load a group is as large as what arrived during one commit;
 * at light load nothing waits.
 *
 * The guarantees stay those of a change alone: each caller is answered after
 * its change is committed (or with the error that kept it from being
 * committed); changes of one host are applied in arrival order, each seeing
 * the one before (`commit` takes care of that); a group that fails as a whole
 * (Postgres down) fails every caller in it, as each alone would have failed;
 * and a failure that may be one change's own (bad data, a constraint) makes
 * each change of the group try again alone, so it fails only its own caller.
 */

export interface PendingChange {
  readonly id: number;
  readonly v4: FamilyChange;
  readonly v6: FamilyChange;
}

export interface AddressCommitterOptions {
  /**
   * Commits every change in one transaction, in order, and returns one result
   * per change (undefined: nothing to change under the row lock, or the host
   * is gone or disabled). Rejects if nothing was committed.
   */
  commit(changes: readonly PendingChange[]): Promise<readonly (AddressChange | undefined)[]>;
  /** Whether a failed group may have failed for one change's sake (then each is tried alone). */
  isChangeError(error: unknown): boolean;
  /** Changes per transaction at most. */
  maxGroup?: number;
  /** After every commit attempt, for metrics. */
  onGroup?: (changes: number, ms: number) => void;
}

export interface AddressCommitterStats {
  /** Changes waiting for the commit in flight to finish. */
  readonly waiting: number;
  /** Changes in the commit in flight. */
  readonly committing: number;
}

export interface AddressCommitter {
  apply(id: number, v4: FamilyChange, v6: FamilyChange): Promise<AddressChange | undefined>;
  stats(): AddressCommitterStats;
}

interface Waiter {
  readonly change: PendingChange;
  resolve(result: AddressChange | undefined): void;
  reject(error: unknown): void;
}

export function createAddressCommitter(options: AddressCommitterOptions): AddressCommitter {
  const maxGroup = options.maxGroup ?? 1000;
  const queue: Waiter[] = [];
  let committing = 0;
  let running = false;

  /** Commits `group`; every waiter in it is settled when this returns, and it never throws. */
  const commitGroup = async (group: readonly Waiter[]): Promise<void> => {
    const started = performance.now();
    committing = group.length;
    let outcome:
      | { ok: true; results: readonly (AddressChange | undefined)[] }
      | { ok: false; error: unknown };
    try {
      const results = await options.commit(group.map((waiter) => waiter.change));
      if (results.length !== group.length)
        throw new Error(`a group of ${group.length} changes came back with ${results.length} results`);
      outcome = { ok: true, results };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      committing = 0;
    }
    try {
      options.onGroup?.(group.length, performance.now() - started);
    } catch {
      // A metrics hook must not turn a commit into a failure, nor leave waiters unanswered.
    }
    if (outcome.ok) {
      for (const [i, waiter] of group.entries()) waiter.resolve(outcome.results[i]);
    } else if (group.length === 1 || !options.isChangeError(outcome.error)) {
      for (const waiter of group) waiter.reject(outcome.error);
    } else {
      // Nothing of the group was committed; alone, in arrival order, each
      // change commits or fails for its own reason.
      for (const waiter of group) await commitGroup([waiter]);
    }
  };

  const drain = async () => {
    running = true;
    try {
      while (queue.length > 0) await commitGroup(queue.splice(0, maxGroup));
    } finally {
      running = false;
    }
  };

  return {
    apply(id, v4, v6) {
      return new Promise((resolve, reject) => {
        queue.push({ change: { id, v4, v6 }, resolve, reject });
        if (!running) void drain();
      });
    },
    stats: () => ({ waiting: queue.length, committing }),
  };
}
