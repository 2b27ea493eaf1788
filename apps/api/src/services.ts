import { randomBytes } from 'node:crypto';
import {
  type AccountCache,
  type AccountsRepository,
  type AcmeRepository,
  type AddressCommitter,
  type AddressNoticesRepository,
  commitAddressChanges,
  createAccountCache,
  createAccountsRepository,
  createAcmeRepository,
  createAddressCommitter,
  createAddressNoticesRepository,
  createDnsOutboxStore,
  createDormancyNoticesRepository,
  createHistoryRepository,
  createHostCache,
  createHostsRepository,
  createRecordsRepository,
  createSecretsRepository,
  createSessionsRepository,
  createSharedFailures,
  createTokensRepository,
  createWebhooksRepository,
  type Database,
  type HistoryRepository,
  type HostCache,
  type HostsRepository,
  isAddressChangeError,
  type RecordsRepository,
  type SessionsRepository,
  type TokensRepository,
} from '@mydns/db';
import { labelFromUsername, limitKey } from '@mydns/domain';
import {
  combineReconcilers,
  createReconciler,
  createZoneWriter,
  createZoneWriters,
  ensureZone,
  type PowerDnsClient,
  type Reconciler,
  type ZoneWriters,
  zoneRrsets,
} from '@mydns/powerdns';
import { errorMessage, type Logger, oneAtATimePerKey } from '@mydns/runtime';
import { type AccountsService, createAccountsService } from './accounts/accounts-service.ts';
import { type BackgroundTasks, createBackgroundTasks } from './accounts/background.ts';
import { createAccountSecondFactor } from './accounts/second-factor.ts';
import { type Authenticator, createAuthenticator } from './auth/authenticator.ts';
import { type BcryptPool, createBcryptPool } from './auth/bcrypt-pool.ts';
import { type CredentialCache, createCredentialCache } from './auth/credential-cache.ts';
import { createLoginGuard, type LoginGuard } from './auth/login-guard.ts';
import { createRateLimiter, type RateLimiter } from './auth/rate-limiter.ts';
import type { Config } from './config.ts';
import { createUpdateService, type UpdateService } from './dyndns/update-service.ts';
import { createHistoryRecorder, type HistoryRecorder } from './history/history-recorder.ts';
import { createHostsService, type HostsService } from './hosts/hosts-service.ts';
import { createRecordsService, type RecordsService } from './hosts/records-service.ts';
import { createZonesService, pushPendingChanges, type ZonesService } from './hosts/zones-service.ts';
import { createMaintenance, type Maintenance } from './lifecycle/maintenance.ts';
import { createMail, type Mail, type MailOutbox } from './mail/index.ts';
import { createMailLinks } from './mail/links.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { type AddressNotices, createAddressNotices } from './notifications/address-notices.ts';
import { createDormancyNotices } from './notifications/dormancy-notices.ts';
import { createWebSessions, type WebSessions } from './web/sessions.ts';
import { resolveWithSystem } from './webhooks/target.ts';
import { createWebhooksService, type WebhooksService } from './webhooks/webhooks-service.ts';
import { createWebhookWorker, type WebhookWorker } from './webhooks/worker.ts';

/** Everything the HTTP layer and the CLI call, wired from explicit dependencies. */
export interface Services {
  readonly updates: UpdateService;
  readonly hosts: HostsService;
  readonly accounts: AccountsService;
  /** Work done after the reply (a password reset's mail): see accounts/background.ts. */
  readonly background: BackgroundTasks;
  /** Address-change mails, off the update's path (notifications/address-notices.ts). */
  readonly addressNotices: AddressNotices;
  /** Which hosts have address-change notices on. */
  readonly notices: AddressNoticesRepository;
  /** The owner's records and the wildcard. */
  readonly records: RecordsService;
  /** Host webhooks: their settings, and the worker that delivers their events (README "Webhooks"). */
  readonly webhooks: WebhooksService;
  readonly webhookWorker: WebhookWorker;
  readonly zones: ZonesService;
  /** One zone writer per zone of MYDNS_ZONES. */
  readonly zoneWriters: ZoneWriters;
  readonly hostCache: HostCache;
  readonly accountCache: AccountCache;
  readonly history: HistoryRecorder;
  readonly maintenance: Maintenance;
  readonly sessions: WebSessions;
  /** Every zone's reconciler, one after the other. */
  readonly reconciler: Reconciler;
  readonly metrics: Metrics;
  readonly bcrypt: BcryptPool;
  readonly credentialCache: CredentialCache;
  readonly authenticator: Authenticator;
  /** Outbound mail: the outbox to queue into, its limits, its worker (README "Mail"). */
  readonly mail: Mail;
  readonly limiters: {
    readonly hostUpdates: RateLimiter;
    /** Failed logins, per source and per (source, host); see auth/login-guard.ts. */
    readonly logins: LoginGuard;
    /** Registrations per source (its limit key: an IPv4 address or an IPv6 /64). */
    readonly registrations: RateLimiter;
  };
  /** Starts the background parts: change notifications, the zone writers, history, maintenance. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceDeps {
  db: Database;
  /** For the LISTEN connections of the host and account caches. */
  databaseUrl: string;
  /** A small pool of its own for the zone writer (see server.ts). */
  writerDb: Database;
  /** The connection of the group commit of address changes (see server.ts); `db` when absent. */
  commitDb?: Database;
  dns: PowerDnsClient;
  logger: Logger;
  bcryptThreads?: number;
}

/** What `npm start` and the operator CLI both build: the repositories, the hosts service, maintenance. */
export interface HostServices {
  readonly repositories: {
    readonly hosts: HostsRepository;
    readonly tokens: TokensRepository;
    readonly acme: AcmeRepository;
    readonly history: HistoryRepository;
    readonly sessions: SessionsRepository;
    readonly accounts: AccountsRepository;
    readonly records: RecordsRepository;
  };
  readonly hosts: HostsService;
  readonly accounts: AccountsService;
  readonly records: RecordsService;
  readonly maintenance: Maintenance;
}

export interface HostServiceDeps {
  db: Database;
  logger: Logger;
  bcrypt: BcryptPool;
  /**
   * Where the DNS changes queued in Postgres go out. The service's zone writers
   * (one per zone) push them; the CLI passes one that waits for nothing, and the
   * running service's writers pick the changes up from the outbox.
   */
  zoneWriters: Pick<ZoneWriters, 'push' | 'wake'>;
  /**
   * Zones that still hold hosts but are no longer served: their hosts can be
   * found (to show, move or delete them: the operator CLI), never registered.
   */
  retiredZones?: readonly string[];
  /** Group commit of address changes (the service's); without it, each change is committed alone (the CLI). */
  addressChanges?: Pick<AddressCommitter, 'apply'>;
  /** Wraps the hosts repository (the service's host cache); used as it is when not given. */
  wrapHosts?: (repository: HostsRepository) => HostsRepository;
  /** Wraps the accounts repository (the service's account cache); used as it is when not given. */
  wrapAccounts?: (repository: AccountsRepository) => AccountsRepository;
  /** Writes the history entries still in memory, so a history read right after an update lists it. */
  flushHistory?: () => Promise<void>;
  /** The mail outbox accounts queue their mails in; none: no mail (links are printed by the CLI). */
  mail?: Pick<MailOutbox, 'enabled' | 'links' | 'enqueue'>;
}

export function createHostServices(config: Config, deps: HostServiceDeps): HostServices {
  const plain = createHostsRepository(
    deps.db,
    deps.addressChanges ? { addressChanges: deps.addressChanges } : {},
  );
  const repositories = {
    hosts: deps.wrapHosts ? deps.wrapHosts(plain) : plain,
    tokens: createTokensRepository(deps.db),
    acme: createAcmeRepository(deps.db),
    history: createHistoryRepository(deps.db),
    sessions: createSessionsRepository(deps.db),
    accounts: deps.wrapAccounts
      ? deps.wrapAccounts(createAccountsRepository(deps.db))
      : createAccountsRepository(deps.db),
    records: createRecordsRepository(deps.db),
  };
  const hosts = createHostsService({
    zones: config.zones,
    ...(deps.retiredZones ? { retiredZones: deps.retiredZones } : {}),
    hosts: repositories.hosts,
    tokens: repositories.tokens,
    acme: repositories.acme,
    history: repositories.history,
    ...(deps.flushHistory ? { flushHistory: deps.flushHistory } : {}),
    bcrypt: deps.bcrypt,
    bcryptCost: config.bcrypt.cost,
    registration: config.registration,
    sessions: repositories.sessions,
    quarantineDays: config.nameQuarantineDays,
    zoneWriters: deps.zoneWriters,
    pushTimeoutMs: config.pushTimeoutMs,
  });
  const accounts = createAccountsService({
    zones: config.zones,
    accounts: repositories.accounts,
    hostsRepository: repositories.hosts,
    hosts,
    sessions: repositories.sessions,
    bcrypt: deps.bcrypt,
    bcryptCost: config.bcrypt.cost,
    mail: deps.mail ?? {
      enabled: false,
      links: createMailLinks(config.mail.publicUrl),
      enqueue: async () => ({ queued: false, reason: 'disabled' }),
    },
    hostsPerAccount: config.accounts.hostsPerAccount,
    secondFactor: createAccountSecondFactor({
      accounts: repositories.accounts,
      issuer: `MyDNS ${config.zones[0] ?? ''}`,
    }),
  });
  const dormancyMails = deps.mail
    ? createDormancyNotices({
        db: deps.db,
        notices: createDormancyNoticesRepository(),
        mail: deps.mail,
        inactivityDays: config.lifecycle.inactivityDays,
        warningDays: config.lifecycle.dormancyWarningDays,
      })
    : undefined;
  const maintenance = createMaintenance({
    db: deps.db,
    sessions: repositories.sessions,
    hosts: repositories.hosts,
    acme: repositories.acme,
    history: repositories.history,
    logger: deps.logger,
    inactivityDays: config.lifecycle.inactivityDays,
    historyMaxPerHost: config.lifecycle.historyMaxPerHost,
    historyMaxAgeMs: config.lifecycle.historyMaxAgeMs,
    intervalMs: config.lifecycle.maintenanceIntervalMs,
    onQueued: () => deps.zoneWriters.wake(),
    loginFailures: createSharedFailures(deps.db),
    ...(dormancyMails ? { dormancyMails } : {}),
  });
  const records = createRecordsService({
    records: repositories.records,
    hosts: repositories.hosts,
    defaultTtl: config.recordTtl,
    zoneWriters: deps.zoneWriters,
    pushTimeoutMs: config.pushTimeoutMs,
  });
  return { repositories, hosts, accounts, records, maintenance };
}

export function createServices(config: Config, deps: ServiceDeps): Services {
  const hostCache = createHostCache({
    url: deps.databaseUrl,
    ttlMs: config.hostCacheTtlMs,
    logger: deps.logger,
  });
  // Same safety-net TTL as the host cache: both are kept right by Postgres's notifications.
  const accountCache = createAccountCache({
    url: deps.databaseUrl,
    ttlMs: config.hostCacheTtlMs,
    logger: deps.logger,
  });
  const bcrypt = createBcryptPool({
    threads: deps.bcryptThreads ?? config.bcrypt.threads,
    maxQueued: config.bcrypt.queue,
  });
  const credentialCache = createCredentialCache({ ttlMs: config.credentialCacheTtlMs });
  const authLog = deps.logger.child({ component: 'auth' });
  // Metrics are created below; the guard reports blocks through this late-bound hook.
  let onBlock: (scope: 'source' | 'source_host') => void = () => undefined;
  const limiters = {
    hostUpdates: createRateLimiter(config.limits.hostUpdates),
    logins: createLoginGuard({
      source: config.limits.loginFailures,
      sourceHost: config.limits.loginHostFailures,
      blockMs: config.limits.loginBlockMs,
      // Every replica counts the others' failures too (only failures go to Postgres).
      shared: createSharedFailures(deps.db),
      onSharedError: (error) => authLog.warn(`failed logins could not be shared: ${errorMessage(error)}`),
      onBlock: (block) => {
        // One line per block, for operators and fail2ban: source and host, never a secret.
        authLog.warn('login block started', {
          scope: block.scope,
          source: block.source,
          host: block.host,
          until: block.until.toISOString(),
        });
        onBlock(block.scope);
      },
    }),
    registrations: createRateLimiter(config.limits.registrations),
  };
  const dnsStore = createDnsOutboxStore(deps.writerDb);
  // The zone writers report to the metrics, and the metrics read the zone writers: tie the knot lazily.
  let zoneWritersRef: ZoneWriters | undefined;
  // Address changes that arrive while a commit is in flight go to Postgres together in the
  // next one, whatever their zones: the outbox rows carry the zone, each zone's writer pushes its own.
  const addressChanges = createAddressCommitter({
    commit: (changes) => commitAddressChanges(deps.commitDb ?? deps.db, changes),
    isChangeError: isAddressChangeError,
    onGroup: (changes, ms) => {
      metrics.commitChanges.observe(changes);
      metrics.commitSeconds.observe(ms / 1000);
    },
  });
  const metrics = createMetrics({
    addressChangesWaiting: () => addressChanges.stats().waiting,
    zoneWriterWaiting: () => zoneWritersRef?.stats().waiting ?? 0,
    pendingPushes: () => dnsStore.pendingCount(),
    bcrypt: () => bcrypt.stats(),
    credentialCache: () => credentialCache.stats(),
    hostCache: () => hostCache.stats(),
  });
  const zoneWriters = createZoneWriters(config.zones, (zone) =>
    createZoneWriter({
      zone,
      ttl: config.recordTtl,
      store: dnsStore,
      dns: deps.dns,
      logger: deps.logger,
      onPatch: (rrsets, ms) => {
        metrics.patchRrsets.observe(rrsets);
        metrics.patchSeconds.observe(ms / 1000);
      },
      onError: () => metrics.powerdnsErrors.inc(),
      notifySecondaries: config.secondaries.length > 0,
      notifyIntervalMs: config.notifyIntervalMs,
    }),
  );
  zoneWritersRef = zoneWriters;
  const mail = createMail(config, { db: deps.db, logger: deps.logger, registry: metrics.registry });
  onBlock = (scope) => metrics.loginBlocks.inc({ scope });
  const { repositories, hosts, accounts, records, maintenance } = createHostServices(config, {
    db: deps.db,
    logger: deps.logger,
    bcrypt,
    mail,
    zoneWriters,
    addressChanges,
    // An account's list of hosts is kept as names, each row read through the host cache.
    wrapHosts: (repository) => accountCache.wrapHosts(hostCache.wrap(repository)),
    wrapAccounts: (repository) => accountCache.wrap(repository),
    // The recorder is made below, from these repositories; it exists before anyone reads history.
    flushHistory: () => history.flush(),
  });
  const hostsRepository = repositories.hosts;
  let dummyHash: Promise<string> | undefined;
  /** The host a username (or a token's, or a session's, full name) names, in any zone served. */
  const findHost = async (username: string) => {
    const host = labelFromUsername(username, config.zones);
    return host === undefined ? undefined : hostsRepository.findByName(host.zone, host.label);
  };
  const authenticator = createAuthenticator({
    findHost,
    tokens: repositories.tokens,
    bcrypt,
    cache: credentialCache,
    guard: limiters.logins,
    limitKey: (source) => limitKey(source, config.limits.ipv6Prefix),
    accounts: {
      findByEmail: (email) => repositories.accounts.findByEmail(email),
      findById: (id) => repositories.accounts.findById(id),
      findToken: (hash) => repositories.accounts.findToken(hash),
      touchToken: (id) => repositories.accounts.touchToken(id),
      // Made once, at the configured cost, from a secret nobody has.
      dummyHash: () => {
        dummyHash ??= bcrypt.hash(randomBytes(18).toString('base64url'), config.bcrypt.cost);
        return dummyHash;
      },
      checkSecondFactor: (account, code) => accounts.secondFactor.check(account, code),
    },
    events: {
      onFailure: ({ edge, source, host }) => {
        metrics.loginFailures.inc({ edge });
        authLog.warn('login failed', { edge, source, host });
      },
      onRefused: ({ edge, source, host, reason }) => {
        metrics.loginRefusals.inc({ edge, reason });
        // A flood is mostly these: no log object is built unless debug is on.
        if (authLog.isLevelEnabled('debug')) {
          authLog.debug('login refused without a check', { edge, source, host, reason });
        }
      },
    },
  });
  // One pass at a time in this process: a pass asked for while the background one runs (paced,
  // it can take minutes) waits for it instead of reading and repairing the same zones beside it.
  const passes = oneAtATimePerKey<'pass'>();
  const everyZone = createMyDnsReconciler(config, { store: dnsStore, dns: deps.dns, logger: deps.logger });
  const reconciler: Reconciler = { run: (options) => passes('pass', () => everyZone.run(options)) };
  let reconcileTimer: NodeJS.Timeout | undefined;
  let reconciling: Promise<unknown> | undefined;
  const reconcileInBackground = () => {
    reconciling ??= reconciler
      .run({ dryRun: false })
      .catch((error: unknown) => deps.logger.warn(`reconcile failed: ${errorMessage(error)}`))
      .finally(() => {
        reconciling = undefined;
      });
  };
  const history = createHistoryRecorder({
    repository: repositories.history,
    logger: deps.logger,
    // 0 keeps no history at all (an operator's privacy choice).
    enabled: config.lifecycle.historyMaxPerHost > 0,
  });
  const updates = createUpdateService({
    hosts: hostsRepository,
    authenticator,
    zoneWriters,
    history,
    hostLimiter: limiters.hostUpdates,
    pushTimeoutMs: config.pushTimeoutMs,
    blockedUserAgents: config.blockedUserAgents,
    accountHosts: {
      find: (zone, label) => hostsRepository.findByName(zone, label),
      list: (accountId) => hostsRepository.listByAccount(accountId),
    },
  });
  // Loaded from Postgres in start(): every replica signs with the same key.
  let csrfKey: Buffer | undefined;
  const sessions = createWebSessions({
    repository: repositories.sessions,
    findHost,
    findAccount: (id) => repositories.accounts.findById(id),
    csrfKey: () => {
      if (!csrfKey) throw new Error('the web sessions are used before the services started');
      return csrfKey;
    },
  });
  const background = createBackgroundTasks(deps.logger);
  const notices = createAddressNoticesRepository(deps.db);
  const addressNotices = createAddressNotices({
    db: deps.db,
    notices,
    mail,
    logger: deps.logger,
    // Checked at the maintenance cadence: a notice is never more urgent than a minute.
    everyMs: config.lifecycle.maintenanceIntervalMs,
  });
  const webhooksRepository = createWebhooksRepository(deps.db);
  const webhookTargets = { resolve: resolveWithSystem, allowPrivate: config.webhooks.allowPrivate };
  const webhooks = createWebhooksService({ repository: webhooksRepository, ...webhookTargets });
  const webhookWorker = createWebhookWorker({
    repository: webhooksRepository,
    ...webhookTargets,
    // For up to an hour (docs/interfaces.md, "Notifications"), the waits at most 10 minutes.
    policy: { retryMs: config.webhooks.retryMs, retryMaxMs: 10 * 60_000, giveUpMs: 3_600_000 },
    logger: deps.logger,
  });
  const zones = createZonesService({ zones: config.zones, hosts: hostsRepository });
  /**
   * Changes still pending for zones no writer here serves: the removals a
   * `zone move` or a `host delete` queued for a retired zone, when the CLI
   * could not push them itself. Nothing else writes there any more.
   */
  const drainRetiredZones = async () => {
    for (const zone of await dnsStore.pendingZones()) {
      if (config.zones.includes(zone)) continue;
      const done = await pushPendingChanges(zone, {
        store: dnsStore,
        dns: deps.dns,
        ttl: config.recordTtl,
        logger: deps.logger,
      });
      deps.logger.info(`pending changes of ${zone} (not served any more): ${done}`);
    }
  };
  return {
    updates,
    hosts,
    accounts,
    background,
    addressNotices,
    notices,
    records,
    webhooks,
    webhookWorker,
    zones,
    zoneWriters,
    hostCache,
    accountCache,
    history,
    maintenance,
    sessions,
    reconciler,
    metrics,
    bcrypt,
    credentialCache,
    authenticator,
    mail,
    limiters,
    async start() {
      csrfKey = await createSecretsRepository(deps.db).getOrCreate('csrf');
      await hostCache.start();
      await accountCache.start();
      zoneWriters.start();
      void drainRetiredZones().catch((error: unknown) =>
        deps.logger.warn(`pushing the changes of retired zones failed: ${errorMessage(error)}`),
      );
      history.start();
      maintenance.start();
      addressNotices.start();
      webhookWorker.start();
      mail.start();
      // At start (in the background: the service answers meanwhile), then periodically.
      reconcileInBackground();
      if (config.reconcile.intervalMs > 0) {
        reconcileTimer = setInterval(reconcileInBackground, config.reconcile.intervalMs);
        reconcileTimer.unref();
      }
    },
    async close() {
      if (reconcileTimer) clearInterval(reconcileTimer);
      await reconciling;
      await maintenance.stop();
      await addressNotices.stop();
      await webhookWorker.stop();
      await background.drain();
      await mail.stop();
      await history.stop();
      await zoneWriters.stop();
      await hostCache.stop();
      await accountCache.stop();
      await bcrypt.close();
    },
  };
}

/** Every zone's reconciler, with this deployment's records and exceptions (also used by the CLI). */
export function createMyDnsReconciler(
  config: Config,
  deps: { store: ReturnType<typeof createDnsOutboxStore>; dns: PowerDnsClient; logger: Logger },
): Reconciler {
  return combineReconcilers(config.zones.map((zone) => createZoneReconciler(config, zone, deps)));
}

/** The reconciler of one zone. */
export function createZoneReconciler(
  config: Config,
  zone: string,
  deps: { store: ReturnType<typeof createDnsOutboxStore>; dns: PowerDnsClient; logger: Logger },
): Reconciler {
  return createReconciler({
    zone,
    ttl: config.recordTtl,
    nameservers: config.nameserversByZone[zone] ?? [`ns1.${zone}`],
    secondaries: config.secondaries,
    dnssec: config.dnssec,
    relayAddresses: config.relayAddresses,
    apiAddresses: config.apiAddresses,
    operatorRecords: config.reconcile.operatorRecords,
    share: config.reconcile.share,
    store: deps.store,
    dns: deps.dns,
    logger: deps.logger,
  });
}

/**
 * A served zone in PowerDNS: created with its SOA and NS when missing, and
 * the records that follow settings (the relay's `mx.<zone>`, `*.mx.<zone>`;
 * `update`, `update4`, `update6` from MYDNS_API_ADDRESS)
 * written, at every start (REPLACE is idempotent).
 */
export async function setUpZone(
  config: Config,
  dns: PowerDnsClient,
  zone: string,
  logger: Logger,
): Promise<void> {
  await ensureZone(
    dns,
    {
      zone,
      nameservers: config.nameserversByZone[zone] ?? [`ns1.${zone}`],
      secondaries: config.secondaries,
      dnssec: config.dnssec,
    },
    logger,
  );
  await dns.patchZone(zone, zoneRrsets(zone, config.relayAddresses, config.recordTtl, config.apiAddresses));
}
