/**
 * Hosts as the relay sees them: address, status and mail-forwarding settings,
 * read from Postgres (read-only; the relay never writes the database). Kept
 * for a few seconds at most, and dropped at once when Postgres announces a
 * change of the host on the channel `mydns_hosts` (the trigger of migration
 * 20261127130000, which the API's host cache listens to as well; its payload
 * is the full name, `label.zone`, since 20261204100000). So an
 * address change through /nic/update reaches the next session within
 * milliseconds, and within the TTL even while the notifications are down.
 */
import { type Database, listenForHostChanges, preparedQuery } from '@mydns/db';
import type { Logger } from '@mydns/runtime';

export type ClientAddressMode = 'xclient' | 'proxy-v1' | 'proxy-v2' | 'none';
export type BackendTlsMode = 'opportunistic' | 'fingerprint' | 'verify' | 'none';

export interface MailHost {
  /** The label; the host is `<name>.<zone>`, and the same label may exist in another zone. */
  readonly name: string;
  readonly zone: string;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  readonly status: string;
  readonly mail: {
    readonly enabled: boolean;
    readonly port: number | null;
    readonly clientAddress: ClientAddressMode;
    readonly tls: BackendTlsMode;
    /** SHA-256 of the home server's certificate, hex (for `fingerprint`). */
    readonly tlsFingerprint: string | null;
  };
}

export interface HostDirectory {
  /** The host `<label>.<zone>`, or undefined. Throws when Postgres cannot answer. */
  find(label: string, zone: string): Promise<MailHost | undefined>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface HostRow {
  name: string;
  zone: string;
  ipv4: string | null;
  ipv6: string | null;
  status: string;
  mail_enabled: boolean;
  mail_port: number | null;
  mail_client_address: string;
  mail_tls: string;
  mail_tls_fingerprint: string | null;
}

// mail_tls_fingerprint: migration 20261127150000.
// zone: migration 20261204100000.
const FIND_MAIL_HOST = `
  select name, zone, ipv4, ipv6, status, mail_enabled, mail_port, mail_client_address, mail_tls, mail_tls_fingerprint
    from hosts where zone = $1 and name = $2`;

const CLIENT_ADDRESS_MODES: readonly string[] = ['xclient', 'proxy-v1', 'proxy-v2', 'none'];
const TLS_MODES: readonly string[] = ['opportunistic', 'fingerprint', 'verify', 'none'];

function toMailHost(row: HostRow): MailHost {
  return {
    name: row.name,
    zone: row.zone,
    ipv4: row.ipv4,
    ipv6: row.ipv6,
    status: row.status,
    mail: {
      enabled: row.mail_enabled,
      port: row.mail_port,
      clientAddress: (CLIENT_ADDRESS_MODES.includes(row.mail_client_address)
        ? row.mail_client_address
        : 'none') as ClientAddressMode,
      tls: (TLS_MODES.includes(row.mail_tls) ? row.mail_tls : 'opportunistic') as BackendTlsMode,
      tlsFingerprint: row.mail_tls_fingerprint,
    },
  };
}

export interface PostgresHostDirectoryOptions {
  readonly db: Database;
  /** For the LISTEN connection. */
  readonly url: string;
  readonly ttlMs: number;
  readonly logger: Logger;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

export function createPostgresHostDirectory(options: PostgresHostDirectoryOptions): HostDirectory {
  const log = options.logger.child({ component: 'relay-hosts' });
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 100_000;
  /** Keyed by the full name, `label.zone`, as the change notifications name a host. */
  const entries = new Map<string, { host: MailHost | undefined; expiresAt: number }>();
  /** Loads in flight; a notification marks them so their (older) answer is not kept. */
  const loading = new Map<string, Set<{ stale: boolean }>>();
  const invalidate = (name: string) => {
    entries.delete(name);
    for (const load of loading.get(name) ?? []) load.stale = true;
  };

  // Without notifications the TTL alone bounds staleness; the relay still works.
  const changes = listenForHostChanges({
    url: options.url,
    applicationName: 'mydns-smtp-relay',
    logger: log,
    onChange: invalidate,
    onGap: () => entries.clear(),
  });

  return {
    async find(label, zone) {
      const name = `${label}.${zone}`;
      const entry = entries.get(name);
      if (entry && entry.expiresAt > now()) return entry.host;
      const load = { stale: false };
      const loads = loading.get(name) ?? new Set();
      loads.add(load);
      loading.set(name, loads);
      try {
        const [row] = await preparedQuery<HostRow>(options.db, 'mydns_relay_find_host', FIND_MAIL_HOST, [
          zone,
          label,
        ]);
        const host = row ? toMailHost(row) : undefined;
        if (!load.stale && options.ttlMs > 0) {
          if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
          entries.set(name, { host, expiresAt: now() + options.ttlMs });
        }
        return host;
      } finally {
        loads.delete(load);
        if (loads.size === 0) loading.delete(name);
      }
    },
    async start() {
      await changes
        .start()
        .catch((error: Error) =>
          log.warn(`host change notifications unavailable (${error.message}); retrying in the background`),
        );
    },
    async stop() {
      await changes.stop();
      entries.clear();
    },
  };
}

/** A fixed set of hosts (unit tests, and the benchmark's direct runs). */
export function createStaticHostDirectory(
  hosts: Iterable<MailHost>,
): HostDirectory & { set(host: MailHost): void } {
  const byName = new Map<string, MailHost>();
  const set = (host: MailHost) => byName.set(`${host.name}.${host.zone}`, host);
  for (const host of hosts) set(host);
  return {
    find: async (label, zone) => byName.get(`${label}.${zone}`),
    start: async () => undefined,
    stop: async () => undefined,
    set,
  };
}
