/**
 * Fixed-window counters in memory, per replica (docs/protocol.md, "Limits":
 * with several replicas the counters may be per replica; README says so).
 */
export interface RateLimiter {
  /** Counts one event for `key`; false when this event goes over the limit. */
  hit(key: string): boolean;
  /** True while `key` is over the limit, without counting. */
  isLimited(key: string): boolean;
  size(): number;
}

export interface RateLimiterOptions {
  count: number;
  windowMs: number;
  /** Once over the limit, stay limited this long (else: until the window ends). */
  blockMs?: number;
  maxKeys?: number;
  now?: () => number;
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 200_000;
  const windows = new Map<string, { start: number; count: number; blockedUntil: number }>();

  const current = (key: string, at: number) => {
    const entry = windows.get(key);
    if (!entry) return undefined;
    if (entry.blockedUntil > at || at - entry.start < options.windowMs) return entry;
    windows.delete(key);
    return undefined;
  };

  const prune = (at: number) => {
    for (const [key, entry] of windows) {
      if (entry.blockedUntil <= at && at - entry.start >= options.windowMs) windows.delete(key);
    }
    // Still full (a flood of distinct keys): drop the oldest rather than grow.
    while (windows.size >= maxKeys) {
      const oldest = windows.keys().next();
      if (oldest.done) break;
      windows.delete(oldest.value);
    }
  };

  return {
    hit(key) {
      const at = now();
      let entry = current(key, at);
      if (!entry) {
        if (windows.size >= maxKeys) prune(at);
        entry = { start: at, count: 0, blockedUntil: 0 };
        windows.set(key, entry);
      }
      entry.count++;
      if (entry.count > options.count) {
        if (options.blockMs !== undefined && entry.blockedUntil <= at)
          entry.blockedUntil = at + options.blockMs;
        return false;
      }
      return entry.blockedUntil <= at;
    },
    isLimited(key) {
      const at = now();
      const entry = current(key, at);
      if (!entry) return false;
      return entry.blockedUntil > at || entry.count > options.count;
    },
    size: () => windows.size,
  };
}
