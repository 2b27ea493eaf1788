/**
 * A steady rate of address changes through the API, and how long each
 * follower (a replica, a secondary) takes to answer a sample of them: what
 * benchmark 8 (replica.ts) and the AXFR part (axfr.ts) measure.
 *
 * The load is open loop and bounded: change i is due at i / rate seconds and
 * leaves then, whatever the earlier ones are doing, unless `maxInFlight` are
 * outstanding (then as soon as one is answered); the run ends after `seconds`
 * whatever was reached. Change i goes to host (i mod hosts) + 1, so with
 * hosts ≥ rate × seconds every change is to a host of its own.
 *
 * A follower is watched, not hammered: its SOA serial is asked every
 * WATCH_INTERVAL_MS, and when it moves, each followed change still pending
 * there is asked once for its address (and every FALLBACK_MS whatever the
 * serial does, in case a change arrives without one or a serial query
 * fails). So the queries a follower gets do not grow with its lag, and the
 * lag is measured to within one watch interval plus one query. The serial
 * queries' round trips are the baseline: what a query to the follower takes
 * on this machine at this moment, change or not.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DnsQuery } from '../support/dns.ts';
import { authHeader } from './stack.ts';

const WATCH_INTERVAL_MS = 10;
const FALLBACK_MS = 250;

export interface SteadyOptions {
  apiPort: number;
  zone: string;
  /** Hosts are `<prefix>1` … `<prefix><hosts>`. */
  prefix: string;
  hosts: number;
  rate: number;
  seconds: number;
  /** Every sampleEvery-th change is followed. */
  sampleEvery: number;
  maxInFlight: number;
  /** A followed change its follower has not answered after this long counts as never answered. */
  followTimeoutMs: number;
  /** The addresses of this run: change i gets the i-th of them (different runs, different `firstOctet`). */
  firstOctet: number;
  /** The primary, asked once right after each followed `good`: the baseline a follower cannot beat. */
  primary: DnsQuery;
  followers: Readonly<Record<string, DnsQuery>>;
}

export interface SteadyResult {
  sent: number;
  seconds: number;
  /** Reply times of the API, ms. */
  replies: number[];
  notGood: number;
  /** Followed changes whose host changed again before a follower answered (they have no lag). */
  superseded: number;
  followed: number;
  /** Followed changes the primary answered right after their `good`. */
  primaryAnswered: number;
  /**
   * From `good` to the primary's answer, ms: the baseline of every lag, the
   * same measurement with no replication in it (a loaded machine, this
   * process's own event loop during a burst of replies, a query).
   */
  primaryMs: number[];
  lags: Record<string, FollowerLags>;
}

export interface FollowerLags {
  ms: number[];
  neverAnswered: number;
  withoutSerialChange: number;
  /** Round trips of the serial queries to this follower, ms. */
  queryMs: number[];
}

interface Pending {
  host: string;
  ip: string;
  repliedAt: number;
  done: (lagMs: number | undefined, bySerial: boolean) => void;
}

/** Follows changes at one follower until stopped. */
function watch(
  dns: DnsQuery,
  zone: string,
  isLatest: (host: string, ip: string) => boolean,
  queryMs: number[],
) {
  const pending = new Set<Pending>();
  let serial: number | undefined;
  let lastFull = 0;
  let running = true;
  const check = async (bySerial: boolean) => {
    await Promise.all(
      [...pending].map(async (item) => {
        const answer = await dns.a(`${item.host}.${zone}`).catch(() => [] as string[]);
        if (!pending.has(item)) return;
        if (answer[0] === item.ip) {
          pending.delete(item);
          item.done(performance.now() - item.repliedAt, bySerial);
        } else if (!isLatest(item.host, item.ip)) {
          pending.delete(item);
          item.done(undefined, bySerial);
        }
      }),
    );
  };
  const loop = (async () => {
    while (running) {
      const asked = performance.now();
      const now = await dns.soaSerial(zone).catch(() => serial);
      queryMs.push(performance.now() - asked);
      const moved = now !== serial;
      serial = now;
      if (pending.size > 0 && (moved || performance.now() - lastFull > FALLBACK_MS)) {
        lastFull = performance.now();
        await check(moved);
      }
      await sleep(WATCH_INTERVAL_MS);
    }
  })();
  return {
    /** Resolves with the lag, or undefined when superseded; rejects after `timeoutMs`. */
    follow(host: string, ip: string, repliedAt: number, timeoutMs: number) {
      return new Promise<{ lagMs: number | undefined; bySerial: boolean } | 'timeout'>((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(item);
          resolve('timeout');
        }, timeoutMs);
        const item: Pending = {
          host,
          ip,
          repliedAt,
          done: (lagMs, bySerial) => {
            clearTimeout(timer);
            resolve({ lagMs, bySerial });
          },
        };
        pending.add(item);
        // It may be there already (a replica a few ms behind): asked once at once.
        void dns.a(`${host}.${zone}`).then(
          (answer) => {
            if (pending.has(item) && answer[0] === ip) {
              pending.delete(item);
              item.done(performance.now() - repliedAt, true);
            }
          },
          () => undefined,
        );
      });
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

export async function runSteadyChanges(options: SteadyOptions): Promise<SteadyResult> {
  const latest = new Map<string, string>();
  const isLatest = (host: string, ip: string) => latest.get(host) === ip;
  const lags: Record<string, FollowerLags> = {};
  const watchers = Object.entries(options.followers).map(([name, dns]) => {
    const followerLags: FollowerLags = { ms: [], neverAnswered: 0, withoutSerialChange: 0, queryMs: [] };
    lags[name] = followerLags;
    return [name, watch(dns, options.zone, isLatest, followerLags.queryMs)] as const;
  });
  const result: SteadyResult = {
    sent: 0,
    seconds: 0,
    replies: [],
    notGood: 0,
    superseded: 0,
    followed: 0,
    primaryAnswered: 0,
    primaryMs: [],
    lags,
  };
  const total = options.rate * options.seconds;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  /** Changes and their follows; only the requests count towards maxInFlight. */
  const inFlight = new Set<Promise<void>>();
  let requests = 0;
  let freed: (() => void) | undefined;
  try {
    for (let i = 0; i < total && performance.now() < deadline; i++) {
      const wait = started + (i * 1000) / options.rate - performance.now();
      if (wait > 0) await sleep(wait);
      while (requests >= options.maxInFlight)
        await new Promise<void>((resolve) => {
          freed = resolve;
        });
      requests++;
      const host = `${options.prefix}${(i % options.hosts) + 1}`;
      const ip = `10.${options.firstOctet + Math.floor(i / 65_536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
      latest.set(host, ip);
      result.sent++;
      const change = (async () => {
        const sent = performance.now();
        // A request the loaded machine could not even connect counts as not good, not as a crash.
        const body = await fetch(
          `http://127.0.0.1:${options.apiPort}/nic/update?hostname=${host}&myip=${ip}`,
          { headers: authHeader(host), signal: AbortSignal.timeout(60_000) },
        ).then(
          (response) => response.text(),
          (error: unknown) => `failed: ${String(error)}`,
        );
        const repliedAt = performance.now();
        requests--;
        freed?.();
        freed = undefined;
        result.replies.push(repliedAt - sent);
        if (body !== `good ${ip}`) {
          result.notGood++;
          return;
        }
        if (i % options.sampleEvery !== 0) return;
        if (!isLatest(host, ip)) {
          result.superseded++;
          return;
        }
        result.followed++;
        const outcomes = watchers.map(([name, watcher]) =>
          watcher.follow(host, ip, repliedAt, options.followTimeoutMs).then((outcome) => {
            const lags = result.lags[name];
            if (!lags) return;
            if (outcome === 'timeout') lags.neverAnswered++;
            else if (outcome.lagMs === undefined) result.superseded++;
            else {
              lags.ms.push(outcome.lagMs);
              if (!outcome.bySerial) lags.withoutSerialChange++;
            }
          }),
        );
        const onPrimary = await options.primary.a(`${host}.${options.zone}`).catch(() => [] as string[]);
        if (onPrimary[0] === ip) {
          result.primaryAnswered++;
          result.primaryMs.push(performance.now() - repliedAt);
        }
        await Promise.all(outcomes);
      })();
      inFlight.add(change);
      void change.finally(() => inFlight.delete(change));
    }
    result.seconds = (performance.now() - started) / 1000;
    // Each change and each follow has its own timeout: this ends.
    await Promise.all(inFlight);
  } finally {
    for (const [, watcher] of watchers) await watcher.stop();
  }
  return result;
}

export const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
};
export const ms = (n: number) => `${n.toFixed(1)} ms`;
