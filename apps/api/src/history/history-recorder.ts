import { type HistoryEntry, type HistoryRepository, isRepeat } from '@mydns/db';
import { errorMessage, type Logger } from '@mydns/runtime';

/**
 * Update history off the hot path: entries are collected in memory and
 * written in one statement per interval, so recording a `nochg` costs an
 * array push, not a Postgres round trip. A repeated identical `nochg` is
 * counted on the entry it repeats (here, and on the host's latest row in
 * Postgres) instead of becoming a row of its own. The price: a crash loses at most
 * the last interval's history (never a DNS change: those are committed before
 * the reply). If Postgres is down, entries wait, up to `maxBuffer`; beyond
 * that new ones are dropped (in O(1), on the hot path) and the loss is logged.
 */
export interface HistoryRecorder {
  record(entry: HistoryEntry): void;
  flush(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function createHistoryRecorder(deps: {
  repository: HistoryRepository;
  logger: Logger;
  flushIntervalMs?: number;
  maxBuffer?: number;
  enabled?: boolean;
}): HistoryRecorder {
  const log = deps.logger.child({ component: 'history' });
  const maxBuffer = deps.maxBuffer ?? 20_000;
  let buffer: HistoryEntry[] = [];
  /** Where each host's latest buffered entry is, to count repeats on it. */
  let latestOf = new Map<number, number>();
  const reindex = () => {
    latestOf = new Map(buffer.map((entry, i) => [entry.hostId, i]));
  };
  /** The writes, one after the other (flushOnce never rejects). */
  let flushing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let dropped = 0;

  const flushOnce = async () => {
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    latestOf = new Map();
    try {
      await deps.repository.insertMany(batch);
    } catch (error) {
      // Put them back in front of what arrived meanwhile, within the bound.
      buffer = [...batch, ...buffer];
      const excess = buffer.length - maxBuffer;
      if (excess > 0) {
        buffer.splice(0, excess);
        dropped += excess;
      }
      reindex();
      log.warn(`could not write update history (${buffer.length} entries waiting): ${errorMessage(error)}`);
    }
    if (dropped > 0) {
      log.warn(`dropped ${dropped} update history entries while Postgres was unavailable`);
      dropped = 0;
    }
  };

  // Queued behind a write already running, never merged into it: that write took the
  // buffer as it was when it began, and a flush promises what was recorded before it.
  const flush = () => {
    flushing = flushing.then(flushOnce);
    return flushing;
  };

  return {
    record(entry) {
      if (deps.enabled === false) return;
      const at = latestOf.get(entry.hostId);
      const latest = at === undefined ? undefined : buffer[at];
      if (at !== undefined && latest && isRepeat(latest, entry)) {
        buffer[at] = { ...latest, count: (latest.count ?? 1) + 1, lastAt: entry.at };
        return;
      }
      if (buffer.length >= maxBuffer) {
        dropped++;
        return;
      }
      latestOf.set(entry.hostId, buffer.length);
      buffer.push(entry);
    },
    flush,
    start() {
      timer = setInterval(() => void flush(), deps.flushIntervalMs ?? 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await flush();
    },
  };
}
