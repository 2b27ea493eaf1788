import type { ZoneWriter, ZoneWriterStats } from './zone-writer.ts';

/**
 * One zone writer per zone (docs/architecture.md, "The outbox and the zone writer"),
 * each with its own loop and its own advisory lock (keyed by the zone), so a
 * busy or failing zone never holds up another. A change goes to the writer of
 * its host's zone; everything else (start, flush, wake, stop) goes to all.
 */
export interface ZoneWriters {
  readonly zones: readonly string[];
  writer(zone: string): ZoneWriter | undefined;
  /** Waits until outbox row `id` of `zone` is in PowerDNS (see ZoneWriter.push); false for a zone not served. */
  push(zone: string, id: number, timeoutMs: number): Promise<boolean>;
  start(): void;
  /** Pushes everything pending in every zone; rejects if PowerDNS fails. */
  flush(): Promise<void>;
  wake(): void;
  stop(): Promise<void>;
  /** All zones together: the waiting requests summed, the worst failure streak and its error. */
  stats(): ZoneWriterStats;
}

export function createZoneWriters(
  zones: readonly string[],
  create: (zone: string) => ZoneWriter,
): ZoneWriters {
  const writers = new Map(zones.map((zone) => [zone, create(zone)]));
  const all = () => [...writers.values()];
  return {
    zones: [...zones],
    writer: (zone) => writers.get(zone),
    push: async (zone, id, timeoutMs) => (await writers.get(zone)?.push(id, timeoutMs)) ?? false,
    start: () => {
      for (const writer of all()) writer.start();
    },
    flush: async () => {
      await Promise.all(all().map((writer) => writer.flush()));
    },
    wake: () => {
      for (const writer of all()) writer.wake();
    },
    stop: async () => {
      await Promise.all(all().map((writer) => writer.stop()));
    },
    stats() {
      const stats = all().map((writer) => writer.stats());
      const worst = stats.reduce<ZoneWriterStats | undefined>(
        (found, next) =>
          found === undefined || next.consecutiveFailures > found.consecutiveFailures ? next : found,
        undefined,
      );
      return {
        waiting: stats.reduce((sum, next) => sum + next.waiting, 0),
        consecutiveFailures: worst?.consecutiveFailures ?? 0,
        lastError: worst?.lastError,
      };
    },
  };
}
