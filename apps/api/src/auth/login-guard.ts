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
 * Checks in flight are counted in memory (per replica). Failures are counted
 * in memory and, with `shared`, also in Postgres, so every API replica sees
 * every replica's failures and N replicas do not multiply the limit by N;
 * only failures are written there, so a cached credential (the nochg path)
 * costs no round trip. The keys in memory are bounded (`maxKeys`).
 */
export interface LoginGuard {
  /** Admits one password check, or says which counter refuses it. */
  admit(source: string, host: string): Promise<Admission>;
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
  /** The secret was wrong: the check stays counted (in Postgres too, with `shared`: awaited). */
  failed(): Promise<void>;
  /** No check ran after all (the bcrypt queue refused it): given back. */
  cancelled(): void;
}

/** The failures every replica counts (packages/db login-failures-repository.ts). */
export interface SharedFailureStore {
  read(
    keys: readonly string[],
  ): Promise<Map<string, { failures: number; windowStart: Date; blockedUntil: Date | null }>>;
  record(
    failures: readonly { key: string; limit: number; windowMs: number }[],
    blockMs: number,
  ): Promise<{ key: string; blockedUntil: Date }[]>;
}

export interface LoginGuardOptions {
  readonly source: RateLimit;
  readonly sourceHost: RateLimit;
  readonly blockMs: number;
  readonly maxKeys?: number;
  readonly now?: () => number;
  /** Failures shared with the other replicas; without it, this replica counts alone. */
  readonly shared?: SharedFailureStore;
  /** A shared store that fails (Postgres away): the login goes on with this replica's counts. */
  readonly onSharedError?: (error: unknown) => void;
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

  // A space between: a source key holds none, and the name (as a stranger typed it) is
  // reduced to printable ASCII without spaces and bounded (Postgres text holds no NUL).
  const pairKey = (source: string, host: string) =>
    `${source} ${host.replace(/[^\x21-\x7e]/g, '?').slice(0, 253)}`;

  /** Failures other replicas counted, as Postgres has them now (0 for a window that is over). */
  const sharedFailures = async (source: string, pair: string, at: number) => {
    const none = { source: 0, pair: 0, blocked: false };
    if (!options.shared) return none;
    try {
      const rows = await options.shared.read([source, pair]);
      const current = (key: string, limit: RateLimit) => {
        const row = rows.get(key);
        if (!row) return 0;
        return row.windowStart.getTime() + limit.windowMs > at ? row.failures : 0;
      };
      const blocked = [source, pair].some((key) => (rows.get(key)?.blockedUntil?.getTime() ?? 0) > at);
      return { source: current(source, options.source), pair: current(pair, options.sourceHost), blocked };
    } catch (error) {
      options.onSharedError?.(error);
      return none;
    }
  };

  return {
    async admit(source, host) {
      const at = now();
      const bySource = counterOf(source, options.source, at);
      if (refuses(bySource, options.source, at)) return { admitted: false, scope: 'source' };
      const pair = pairKey(source, host);
      const byPair = counterOf(pair, options.sourceHost, at);
      if (refuses(byPair, options.sourceHost, at)) return { admitted: false, scope: 'source_host' };
      // Reserved before the shared read: checks arriving meanwhile see this one in flight.
      bySource.inFlight++;
      byPair.inFlight++;
      let settled = false;
      const release = () => {
        settled = true;
        bySource.inFlight--;
        byPair.inFlight--;
      };
      if (options.shared) {
        const elsewhere = await sharedFailures(source, pair, at);
        const over = (counter: Counter, failures: number, limit: RateLimit) =>
          Math.max(counter.failures, failures) + counter.inFlight > limit.count;
        if (elsewhere.blocked || over(bySource, elsewhere.source, options.source)) {
          release();
          return { admitted: false, scope: 'source' };
        }
        if (over(byPair, elsewhere.pair, options.sourceHost)) {
          release();
          return { admitted: false, scope: 'source_host' };
        }
      }
      const fail = async () => {
        const when = now();
        const started: BlockScope[] = [];
        for (const [counter, limit, scope] of [
          [bySource, options.source, 'source'],
          [byPair, options.sourceHost, 'source_host'],
        ] as const) {
          counter.failures++;
          if (counter.failures >= limit.count && counter.blockedUntil <= when) {
            counter.blockedUntil = when + options.blockMs;
            started.push(scope);
          }
        }
        if (options.shared) {
          try {
            const blocks = await options.shared.record(
              [
                { key: source, limit: options.source.count, windowMs: options.source.windowMs },
                { key: pair, limit: options.sourceHost.count, windowMs: options.sourceHost.windowMs },
              ],
              options.blockMs,
            );
            for (const block of blocks) {
              const scope = block.key === source ? 'source' : 'source_host';
              const counter = scope === 'source' ? bySource : byPair;
              counter.blockedUntil = Math.max(counter.blockedUntil, block.blockedUntil.getTime());
              if (!started.includes(scope)) started.push(scope);
            }
          } catch (error) {
            options.onSharedError?.(error);
          }
        }
        for (const scope of started) {
          const counter = scope === 'source' ? bySource : byPair;
          options.onBlock?.({ scope, source, host, until: new Date(counter.blockedUntil) });
        }
      };
      return {
        admitted: true,
        attempt: {
          succeeded: () => {
            if (!settled) release();
          },
          failed: async () => {
            if (settled) return;
            release();
            await fail();
          },
          cancelled: () => {
            if (!settled) release();
          },
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
