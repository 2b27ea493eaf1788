/**
 * Connection limits per client address (docs/smtp-relay.md, "Limits": 10
 * concurrent and 60 per minute per address). IPv6 clients are counted per
 * prefix (MYDNS_RELAY_CLIENT_IPV6_PREFIX, default /64), since one subscriber
 * usually holds a whole /64 and can take any address in it.
 */
import { type IpAddress, limitKey } from '@mydns/domain';
import type { RateLimit } from '@mydns/runtime';

/** Who counts as one client: an IPv4 address, or the IPv6 network of `ipv6Prefix` bits around it. */
export function clientKey(address: IpAddress, ipv6Prefix = 64): string {
  return limitKey(address, ipv6Prefix);
}

export type Admission = 'ok' | 'too-many-concurrent' | 'too-many-per-window';

export interface ClientLimits {
  /** Counts a new connection; call `release` when it ends (only after 'ok'). */
  admit(address: IpAddress): Admission;
  release(address: IpAddress): void;
}

export function createClientLimits(options: {
  concurrent: number;
  rate: RateLimit;
  ipv6Prefix?: number;
  now?: () => number;
}): ClientLimits {
  const now = options.now ?? Date.now;
  const active = new Map<string, number>();
  /** Start times of recent connections per client, oldest first. */
  const recent = new Map<string, number[]>();
  let lastSweep = now();

  const sweep = (at: number) => {
    // Drop idle clients' windows now and then, so the map does not grow for ever.
    if (at - lastSweep < options.rate.windowMs) return;
    lastSweep = at;
    for (const [key, times] of recent) {
      if ((times[times.length - 1] ?? 0) <= at - options.rate.windowMs) recent.delete(key);
    }
  };

  return {
    admit(address) {
      const key = clientKey(address, options.ipv6Prefix);
      const at = now();
      sweep(at);
      const times = (recent.get(key) ?? []).filter((t) => t > at - options.rate.windowMs);
      if ((active.get(key) ?? 0) >= options.concurrent) return 'too-many-concurrent';
      if (times.length >= options.rate.count) {
        recent.set(key, times);
        return 'too-many-per-window';
      }
      times.push(at);
      recent.set(key, times);
      active.set(key, (active.get(key) ?? 0) + 1);
      return 'ok';
    },
    release(address) {
      const key = clientKey(address, options.ipv6Prefix);
      const count = (active.get(key) ?? 1) - 1;
      if (count <= 0) active.delete(key);
      else active.set(key, count);
    },
  };
}
