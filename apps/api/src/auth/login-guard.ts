import type { RateLimit } from '@mydns/runtime';

/**
 * The password-guessing limit. A check is counted when it is admitted, before
 * its bcrypt runs, and stays counted while it runs: a failure keeps it, a
 * success gives it back. So however many guesses arrive at once, at most the
 * limit's worth of password checks ever run per source in a window; the rest
 * are refused at once, without bcrypt. (Counting after bcrypt, as a plain
 * rate limiter does, lets 300 parallel guesses all be checked.)
 *
 * Two counters: per source (an IPv4 address or an IPv6 /64, see `limitKey`)
 * and per (source, host), so guessing at one host from a shared address (CGNAT,
 * a Docker gateway) is stopped sooner than the whole address is. Reaching
 * either limit blocks that key for `blockMs`.
 *
 * In memory, per replica; the keys are bounded (`maxKeys`).
 */
export interface LoginGuard {
  /** Admits one password check, or says which counter refuses it. */
  admit(source: string, host: string): Admission;
  /** True while the source, or the (source, host) pair, is refused. */
  isBlocked(source: string, host?: string): boolean;
  size(): number;
}

export type BlockScope = 'source' | 'source_host';

export type Admission =
  | { readonly admitted: true; readonly attempt: Attempt }
  | { readonly admitted: false; readonly scope: BlockScope };

/** The outcome of an admitted check; the first call counts, later ones are ignored. */
export interface Attempt {
  /** The secret was right: the check is given back. */
  succeeded(): void;
  /** The secret was wrong: the check stays counted. */
  failed(): void;
  /** No check ran after all (the bcrypt queue refused it): given back. */
  cancelled(): void;
}

export interface LoginGuardOptions {
  readonly source: RateLimit;
  readonly sourceHost: RateLimit;
  readonly blockMs: number;
  readonly maxKeys?: number;
  readonly now?: () => number;
  /** A key has just been blocked (for the log and the metrics). */
  readonly onBlock?: (block: { scope: BlockScope; source: string; host: string; until: Date }) => void;
}

interface Counter {
  start: number;
  failures: number;
  inFlight: number;
  blockedUntil: number;
}

export function createLoginGuard(options: LoginGuardOptions): LoginGuard {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 200_000;
  const counters = new Map<string, Counter>();

  const isIdle = (counter: Counter, at: number, windowMs: number) =>
    counter.inFlight === 0 && counter.blockedUntil <= at && at - counter.start >= windowMs;

  const prune = (at: number) => {
    const window = Math.max(options.source.windowMs, options.sourceHost.windowMs);
    for (const [key, counter] of counters) if (isIdle(counter, at, window)) counters.delete(key);
    // Still full (a flood of distinct keys): drop the oldest that holds no check in flight.
    for (const [key, counter] of counters) {
      if (counters.size < maxKeys) break;
      if (counter.inFlight === 0) counters.delete(key);
    }
  };

  const counterOf = (key: string, limit: RateLimit, at: number): Counter => {
    let counter = counters.get(key);
    if (!counter) {
      if (counters.size >= maxKeys) prune(at);
      counter = { start: at, failures: 0, inFlight: 0, blockedUntil: 0 };
      counters.set(key, counter);
    } else if (counter.blockedUntil <= at && at - counter.start >= limit.windowMs) {
      // A new window; checks still in flight stay counted.
      counter.start = at;
      counter.failures = 0;
    }
    return counter;
  };

  const refuses = (counter: Counter, limit: RateLimit, at: number) =>
    counter.blockedUntil > at || counter.failures + counter.inFlight >= limit.count;

  const pairKey = (source: string, host: string) => `${source}\0${host}`;

  return {
    admit(source, host) {
      const at = now();
      const bySource = counterOf(source, options.source, at);
      if (refuses(bySource, options.source, at)) return { admitted: false, scope: 'source' };
      const byPair = counterOf(pairKey(source, host), options.sourceHost, at);
      if (refuses(byPair, options.sourceHost, at)) return { admitted: false, scope: 'source_host' };
      bySource.inFlight++;
      byPair.inFlight++;
      let settled = false;
      const settle = (failed: boolean) => {
        if (settled) return;
        settled = true;
        bySource.inFlight--;
        byPair.inFlight--;
        if (!failed) return;
        const when = now();
        for (const [counter, limit, scope] of [
          [bySource, options.source, 'source'],
          [byPair, options.sourceHost, 'source_host'],
        ] as const) {
          counter.failures++;
          if (counter.failures >= limit.count && counter.blockedUntil <= when) {
            counter.blockedUntil = when + options.blockMs;
            options.onBlock?.({ scope, source, host, until: new Date(counter.blockedUntil) });
          }
        }
      };
      return {
        admitted: true,
        attempt: {
          succeeded: () => settle(false),
          failed: () => settle(true),
          cancelled: () => settle(false),
        },
      };
    },
    isBlocked(source, host) {
      const at = now();
      if ((counters.get(source)?.blockedUntil ?? 0) > at) return true;
      return host !== undefined && (counters.get(pairKey(source, host))?.blockedUntil ?? 0) > at;
    },
    size: () => counters.size,
  };
}
