import type { AccountRecord, AccountsRepository, AccountTokenRecord } from './accounts-repository.ts';
import type { HostCache, HostCacheOptions } from './host-cache.ts';
import { listenForHostChanges } from './host-changes.ts';
import type { HostKey, HostRecord, HostsRepository } from './hosts-repository.ts';

/** Announces, with the account's id as payload, every change of migration 20261207110000's list. */
export const ACCOUNT_CHANGES_CHANNEL = 'mydns_accounts';

/**
 * Accounts in memory, so an update with an account's credentials (the
 * address and a token, a token alone) costs no Postgres round trip, like one
 * with a host's own (host-cache.ts, which this follows). Held per account:
 * the row (found by id, or by the address exactly as it was typed: Postgres
 * compares it in any case, and a lower-casing here could differ from
 * Postgres's), its live tokens that were looked up (by their SHA-256), and
 * the names of its hosts (the rows themselves come from the host cache,
 * which follows every change of a host).
 *
 * Correctness comes from invalidation: a trigger announces every change that
 * matters (password, credential version, TOTP, tokens, hosts joining or
 * leaving, the account deleted) on `mydns_accounts`, and every replica drops
 * the account when it hears it; this replica's own writes drop it at once,
 * through `wrap`. Only positive answers are kept (an unknown address or token
 * is asked again), and while the listening connection is down nothing is kept.
 */
export interface AccountCache extends Pick<HostCache, 'start' | 'stop' | 'stats'> {
  /** The repository: its reads served from memory when possible, its writes forgetting the account at once. */
  wrap(repository: AccountsRepository): AccountsRepository;
  /** `listByAccount` from the account's remembered host names, each row read through `repository` (the host cache). */
  wrapHosts(repository: HostsRepository): HostsRepository;
  /** Whether a usable row of the account is held (for tests and diagnostics). */
  holds(accountId: number): boolean;
}

/** As the host cache's; `maxEntries` counts accounts (each with its addresses, tokens and host names). */
export type AccountCacheOptions = HostCacheOptions;

/** Spellings of one address, and looked-up tokens, kept per account at most: enough for real clients, bounded. */
const MAX_PER_ACCOUNT = 16;

interface Held {
  account?: AccountRecord;
  /** The spellings of the address that found the row. */
  readonly emails: Set<string>;
  /** Live tokens that were looked up, by their hash (base64). */
  readonly tokens: Map<string, AccountTokenRecord>;
  hosts?: readonly HostKey[];
  readonly expiresAt: number;
}

export function createAccountCache(options: AccountCacheOptions): AccountCache {
  const log = options.logger.child({ component: 'account-cache' });
  const now = options.now ?? Date.now;
  const maxAccounts = options.maxEntries ?? 100_000;
  const held = new Map<number, Held>();
  const byEmail = new Map<string, number>();
  const byToken = new Map<string, number>();
  /**
   * Bumped by every invalidation: a load that began before one does not store
   * what it read (it may be older than the change). Changes to accounts are
   * rare, so one counter for all costs nothing worth a finer one.
   */
  let generation = 0;
  let hits = 0;
  let misses = 0;

  /** Forgets the account and everything that leads to it. */
  const drop = (id: number) => {
    const entry = held.get(id);
    if (!entry) return;
    held.delete(id);
    for (const email of entry.emails) byEmail.delete(email);
    for (const hash of entry.tokens.keys()) byToken.delete(hash);
  };
  const invalidate = (id: number) => {
    generation++;
    drop(id);
  };
  const clear = () => {
    generation++;
    held.clear();
    byEmail.clear();
    byToken.clear();
  };

  const changes = listenForHostChanges({
    url: options.url,
    applicationName: 'mydns-account-cache',
    channel: ACCOUNT_CHANGES_CHANNEL,
    logger: log,
    onChange: (payload) => {
      const id = Number(payload);
      if (Number.isSafeInteger(id)) invalidate(id);
      else clear();
    },
    onGap: clear,
  });

  const usable = (id: number | undefined): Held | undefined => {
    if (id === undefined || !changes.listening) return undefined;
    const entry = held.get(id);
    return entry && entry.expiresAt > now() ? entry : undefined;
  };
  /** The account's entry to add to, made if need be; undefined when what was read is stale. */
  const entryFor = (id: number, since: number): Held | undefined => {
    if (since !== generation || !changes.listening || options.ttlMs <= 0) return undefined;
    const existing = usable(id);
    if (existing) return existing;
    drop(id);
    while (held.size >= maxAccounts) {
      const oldest = held.keys().next();
      if (oldest.done) break;
      drop(oldest.value);
    }
    const entry: Held = { emails: new Set(), tokens: new Map(), expiresAt: now() + options.ttlMs };
    held.set(id, entry);
    return entry;
  };
  const storeAccount = (account: AccountRecord, since: number, email?: string) => {
    const entry = entryFor(account.id, since);
    if (!entry) return;
    entry.account = account;
    if (email !== undefined && entry.emails.size < MAX_PER_ACCOUNT) {
      entry.emails.add(email);
      byEmail.set(email, account.id);
    }
  };
  /** A read: from memory when held, else from Postgres, kept unless a change came meanwhile. */
  const read = async <T>(
    cached: () => T | undefined,
    load: () => Promise<T | undefined>,
    store: (value: T, since: number) => void,
  ): Promise<T | undefined> => {
    const hit = cached();
    if (hit !== undefined) {
      hits++;
      return hit;
    }
    misses++;
    const since = generation;
    const value = await load();
    if (value !== undefined) store(value, since);
    return value;
  };

  return {
    wrap(repository) {
      /** After a write: this replica forgets at once (the others hear the notification). */
      const forgetting =
        <A extends unknown[], R>(write: (...args: A) => Promise<R>, idOf: (...args: A) => number) =>
        async (...args: A): Promise<R> => {
          try {
            return await write(...args);
          } finally {
            invalidate(idOf(...args));
          }
        };
      return {
        ...repository,
        findByEmail: (email) =>
          read(
            () => usable(byEmail.get(email))?.account,
            () => repository.findByEmail(email),
            (account, since) => storeAccount(account, since, email),
          ),
        findById: (id) =>
          read(
            () => usable(id)?.account,
            () => repository.findById(id),
            (account, since) => storeAccount(account, since),
          ),
        findToken: (hash) => {
          const key = hash.toString('base64');
          return read(
            () => usable(byToken.get(key))?.tokens.get(key),
            () => repository.findToken(hash),
            (token, since) => {
              const entry = entryFor(token.accountId, since);
              if (!entry || entry.tokens.size >= MAX_PER_ACCOUNT) return;
              entry.tokens.set(key, token);
              byToken.set(key, token.accountId);
            },
          );
        },
        addHost: forgetting(repository.addHost, (id) => id),
        claimHost: forgetting(repository.claimHost, (id) => id),
        changePassword: forgetting(repository.changePassword, (id) => id),
        markVerified: forgetting(repository.markVerified, (id) => id),
        setPendingTotp: forgetting(repository.setPendingTotp, (id) => id),
        enableTotp: forgetting(repository.enableTotp, (id) => id),
        useTotpStep: forgetting(repository.useTotpStep, (id) => id),
        createToken: forgetting(repository.createToken, (input) => input.accountId),
        revokeToken: forgetting(repository.revokeToken, (id) => id),
        remove: forgetting(repository.remove, (id) => id),
      };
    },
    wrapHosts(repository) {
      return {
        ...repository,
        async listByAccount(accountId) {
          const names = usable(accountId)?.hosts;
          if (names) {
            hits++;
            const rows = await Promise.all(names.map((host) => repository.findByName(host.zone, host.name)));
            // A host deleted or moved out meanwhile is left out; one that joined is announced.
            return rows.filter((host): host is HostRecord => host?.accountId === accountId);
          }
          misses++;
          const since = generation;
          const rows = await repository.listByAccount(accountId);
          const entry = entryFor(accountId, since);
          if (entry) entry.hosts = rows.map((host) => ({ zone: host.zone, name: host.name }));
          return rows;
        },
      };
    },
    async start() {
      if (options.ttlMs > 0) await changes.start();
    },
    async stop() {
      await changes.stop();
      clear();
    },
    stats: () => ({ size: held.size, hits, misses, listening: changes.listening }),
    holds: (accountId) => usable(accountId)?.account !== undefined,
  };
}
