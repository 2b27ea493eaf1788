import type { Logger } from '@mydns/runtime';
import { listenForHostChanges } from './host-changes.ts';
import type { HostKey, HostRecord, HostsRepository, MailSettings } from './hosts-repository.ts';

/** Entries are keyed by the full name, `label.zone`: what the change notifications carry. */
const keyOf = (host: HostKey) => `${host.name}.${host.zone}`;

/**
 * The few strings every row repeats (its zone, status, mail modes) are held
 * once, not once per entry. Bounded: an odd value past the bound is kept as is.
 */
const sharedStrings = new Map<string, string>();
function shared<T extends string | null>(value: T): T {
  if (value === null) return value;
  const known = sharedStrings.get(value);
  if (known !== undefined) return known as T;
  if (sharedStrings.size < 1024) sharedStrings.set(value, value);
  return value;
}

const timeOf = (date: Date | null) => (date === null ? null : date.getTime());
const dateOf = (time: number | null) => (time === null ? null : new Date(time));

/**
 * One cached row, flat: times as numbers, the repeated strings shared, no
 * nested object. About half the heap of the HostRecord it was made from
 * (0.6 kB against 1.1 kB an entry, measured with 200,000 of them; the cache's
 * bound is what an API replica's memory is mostly made of, docs/architecture.md
 * "Memory"). The record is rebuilt on every hit, a handful of small objects.
 */
export class CachedHost {
  readonly id: number;
  readonly zone: string;
  readonly name: string;
  readonly passwordHash: string;
  readonly contactEmail: string | null;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  readonly ipv6Prefix: string | null;
  readonly wildcard: boolean;
  readonly status: HostRecord['status'];
  readonly createdAt: number;
  readonly addressChangedAt: number | null;
  readonly lastSeenAt: number | null;
  readonly passwordChangedAt: number;
  readonly credentialVersion: number;
  readonly mailEnabled: boolean;
  readonly mailPort: number | null;
  readonly mailClientAddress: MailSettings['clientAddress'];
  readonly mailTls: MailSettings['tls'];
  readonly mailFingerprint: string | null;
  readonly accountId: number | null;

  constructor(
    host: HostRecord,
    readonly expiresAt: number,
  ) {
    this.id = host.id;
    this.zone = shared(host.zone);
    this.name = host.name;
    this.passwordHash = host.passwordHash;
    this.contactEmail = host.contactEmail;
    this.ipv4 = host.ipv4;
    this.ipv6 = host.ipv6;
    this.ipv6Prefix = host.ipv6Prefix;
    this.wildcard = host.wildcard;
    this.status = shared(host.status);
    this.createdAt = host.createdAt.getTime();
    this.addressChangedAt = timeOf(host.addressChangedAt);
    this.lastSeenAt = timeOf(host.lastSeenAt);
    this.passwordChangedAt = host.passwordChangedAt.getTime();
    this.credentialVersion = host.credentialVersion;
    this.mailEnabled = host.mail.enabled;
    this.mailPort = host.mail.port;
    this.mailClientAddress = shared(host.mail.clientAddress);
    this.mailTls = shared(host.mail.tls);
    this.mailFingerprint = host.mail.fingerprint;
    this.accountId = host.accountId ?? null;
  }

  record(): HostRecord {
    return {
      id: this.id,
      zone: this.zone,
      name: this.name,
      passwordHash: this.passwordHash,
      contactEmail: this.contactEmail,
      ipv4: this.ipv4,
      ipv6: this.ipv6,
      ipv6Prefix: this.ipv6Prefix,
      wildcard: this.wildcard,
      status: this.status,
      createdAt: new Date(this.createdAt),
      addressChangedAt: dateOf(this.addressChangedAt),
      lastSeenAt: dateOf(this.lastSeenAt),
      passwordChangedAt: new Date(this.passwordChangedAt),
      credentialVersion: this.credentialVersion,
      mail: {
        enabled: this.mailEnabled,
        port: this.mailPort,
        clientAddress: this.mailClientAddress,
        tls: this.mailTls,
        fingerprint: this.mailFingerprint,
      },
      accountId: this.accountId,
    };
  }
}

/**
 * Host rows in memory, so a repeated update (`nochg`, the bulk of all traffic)
 * needs no Postgres round trip at all. Correctness comes from invalidation,
 * not from expiry: every change to a host row is announced by a trigger on the
 * channel `mydns_hosts` (migrations 20261127130000 and 20261204100000: the
 * payload is the full name, `label.zone`), and every replica drops the name
 * when it hears it. While the listening connection is down, nothing
 * is cached and every read goes to Postgres.
 *
 * Only reads are served from here. Writes always go to Postgres, which decides
 * under the row lock whether anything changed, so a stale entry can at worst
 * answer `nochg` for a request that repeats an address another replica changed
 * in the same few milliseconds.
 */
export interface HostCache {
  /** A repository whose `findByName` is served from memory when possible. */
  wrap(repository: HostsRepository): HostsRepository;
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): { size: number; hits: number; misses: number; listening: boolean };
  /** Whether a usable entry for the host is held (for tests and diagnostics). */
  holds(host: HostKey): boolean;
}

export interface HostCacheOptions {
  url: string;
  logger: Logger;
  /** A safety net only; invalidation is what keeps entries right. 0 disables the cache. */
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}

export function createHostCache(options: HostCacheOptions): HostCache {
  const log = options.logger.child({ component: 'host-cache' });
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 200_000;
  const entries = new Map<string, CachedHost>();
  const nameOfId = new Map<number, string>();
  /** Loads in flight per name; an invalidation marks them so their (older) result is not stored. */
  const loading = new Map<string, Set<{ stale: boolean }>>();
  let hits = 0;
  let misses = 0;

  const invalidate = (name: string) => {
    const entry = entries.get(name);
    if (entry) nameOfId.delete(entry.id);
    entries.delete(name);
    for (const load of loading.get(name) ?? []) load.stale = true;
  };
  const clear = () => {
    entries.clear();
    nameOfId.clear();
    for (const loads of loading.values()) for (const load of loads) load.stale = true;
  };
  const store = (host: HostRecord) => {
    while (entries.size >= maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done) break;
      invalidate(oldest.value);
    }
    const key = keyOf(host);
    entries.set(key, new CachedHost(host, now() + options.ttlMs));
    nameOfId.set(host.id, key);
  };

  const changes = listenForHostChanges({
    url: options.url,
    applicationName: 'mydns-host-cache',
    logger: log,
    onChange: invalidate,
    onGap: clear,
  });

  return {
    wrap(repository) {
      const forget = (id: number) => {
        const name = nameOfId.get(id);
        if (name !== undefined) invalidate(name);
      };
      return {
        ...repository,
        async findByName(zone, label) {
          const name = keyOf({ zone, name: label });
          if (changes.listening) {
            const entry = entries.get(name);
            if (entry && entry.expiresAt > now()) {
              hits++;
              return entry.record();
            }
          }
          misses++;
          const load = { stale: false };
          const loads = loading.get(name) ?? new Set();
          loads.add(load);
          loading.set(name, loads);
          try {
            const host = await repository.findByName(zone, label);
            if (host && changes.listening && !load.stale && options.ttlMs > 0) store(host);
            return host;
          } finally {
            loads.delete(load);
            if (loads.size === 0) loading.delete(name);
          }
        },
        async applyAddressChange(id, v4, v6, lan) {
          forget(id);
          try {
            return await repository.applyAddressChange(id, v4, v6, lan);
          } finally {
            forget(id);
          }
        },
        async setWildcard(id, wildcard) {
          try {
            return await repository.setWildcard(id, wildcard);
          } finally {
            forget(id);
          }
        },
        async touchLastSeen(id) {
          await repository.touchLastSeen(id);
          forget(id);
        },
        // Every other change to a row: forget it here at once (other replicas
        // hear the notification a moment later).
        async changePassword(id, hash) {
          await repository.changePassword(id, hash);
          forget(id);
        },
        async updateMail(id, mail) {
          try {
            return await repository.updateMail(id, mail);
          } finally {
            forget(id);
          }
        },
        async setStatus(host, status) {
          try {
            return await repository.setStatus(host, status);
          } finally {
            invalidate(keyOf(host));
          }
        },
        async remove(host, options) {
          try {
            return await repository.remove(host, options);
          } finally {
            invalidate(keyOf(host));
          }
        },
        async moveZone(from, to) {
          try {
            return await repository.moveZone(from, to);
          } finally {
            clear();
          }
        },
        forget: (host) => invalidate(keyOf(host)),
      };
    },
    async start() {
      if (options.ttlMs > 0) await changes.start();
    },
    async stop() {
      await changes.stop();
      clear();
    },
    stats: () => ({ size: entries.size, hits, misses, listening: changes.listening }),
    holds: (host) => changes.listening && (entries.get(keyOf(host))?.expiresAt ?? 0) > now(),
  };
}
