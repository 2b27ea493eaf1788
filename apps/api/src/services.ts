import { randomBytes } from 'node:crypto';
import {
  type AccountsRepository,
  type AcmeRepository,
  createAccountsRepository,
  createAcmeRepository,
  createDnsOutboxStore,
  createHistoryRepository,
  createHostCache,
  createHostsRepository,
  createSecretsRepository,
  createSessionsRepository,
  createTokensRepository,
  type Database,
  type HistoryRepository,
  type HostCache,
  type HostsRepository,
  type SessionsRepository,
  type TokensRepository,
} from '@mydns/db';
import { labelFromUsername, limitKey } from '@mydns/domain';
import {
  createReconciler,
  createZoneWriter,
  type PowerDnsClient,
  type Reconciler,
  type ZoneWriter,
} from '@mydns/powerdns';
import { errorMessage, type Logger } from '@mydns/runtime';
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
import { createMaintenance, type Maintenance } from './lifecycle/maintenance.ts';
import { createMail, type Mail, type MailOutbox } from './mail/index.ts';
import { createMailLinks } from './mail/links.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { createWebSessions, type WebSessions } from './web/sessions.ts';

/** Everything the HTTP layer and the CLI call, wired from explicit dependencies. */
export interface Services {
  readonly updates: UpdateService;
  readonly hosts: HostsService;
  readonly accounts: AccountsService;
  /** Work done after the reply (a password reset's mail): see accounts/background.ts. */
  readonly background: BackgroundTasks;
  readonly zoneWriter: ZoneWriter;
  readonly hostCache: HostCache;
  readonly history: HistoryRecorder;
  readonly maintenance: Maintenance;
  readonly sessions: WebSessions;
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
  /** Starts the background parts: change notifications, the zone writer, history, maintenance. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceDeps {
  db: Database;
  /** For the host cache's LISTEN connection. */
  databaseUrl: string;
  /** A small pool of its own for the zone writer (see server.ts). */
  writerDb: Database;
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
  };
  readonly hosts: HostsService;
  readonly accounts: AccountsService;
  readonly maintenance: Maintenance;
}

export interface HostServiceDeps {
  db: Database;
  logger: Logger;
  bcrypt: BcryptPool;
  /**
   * Where the DNS changes queued in Postgres go out. The service's zone writer
   * pushes them; the CLI passes one that waits for nothing, and the running
   * service's writer picks the changes up from the outbox.
   */
  zoneWriter: Pick<ZoneWriter, 'push' | 'wake'>;
  /** Wraps the hosts repository (the service's host cache); used as it is when not given. */
  wrapHosts?: (repository: HostsRepository) => HostsRepository;
  /** Writes the history entries still in memory, so a history read right after an update lists it. */
  flushHistory?: () => Promise<void>;
  /** The mail outbox accounts queue their mails in; none: no mail (links are printed by the CLI). */
  mail?: Pick<MailOutbox, 'enabled' | 'links' | 'enqueue'>;
}

export function createHostServices(config: Config, deps: HostServiceDeps): HostServices {
  const plain = createHostsRepository(deps.db);
  const repositories = {
    hosts: deps.wrapHosts ? deps.wrapHosts(plain) : plain,
    tokens: createTokensRepository(deps.db),
    acme: createAcmeRepository(deps.db),
    history: createHistoryRepository(deps.db),
    sessions: createSessionsRepository(deps.db),
    accounts: createAccountsRepository(deps.db),
  };
  const hosts = createHostsService({
    zone: config.zone,
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
    zoneWriter: deps.zoneWriter,
    pushTimeoutMs: config.pushTimeoutMs,
  });
  const accounts = createAccountsService({
    zone: config.zone,
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
    secondFactor: createAccountSecondFactor({ accounts: repositories.accounts, issuer: `MyDNS ${config.zone}` }),
  });
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
    onQueued: () => deps.zoneWriter.wake(),
  });
  return { repositories, hosts, accounts, maintenance };
}

export function createServices(config: Config, deps: ServiceDeps): Services {
  const hostCache = createHostCache({
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
  // The zone writer reports to the metrics, and the metrics read the zone writer: tie the knot lazily.
  let zoneWriterRef: ZoneWriter | undefined;
  const metrics = createMetrics({
    zoneWriterWaiting: () => zoneWriterRef?.stats().waiting ?? 0,
    pendingPushes: () => dnsStore.pendingCount(),
    bcrypt: () => bcrypt.stats(),
    credentialCache: () => credentialCache.stats(),
    hostCache: () => hostCache.stats(),
  });
  const zoneWriter = createZoneWriter({
    zone: config.zone,
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
  });
  zoneWriterRef = zoneWriter;
  const mail = createMail(config, { db: deps.db, logger: deps.logger, registry: metrics.registry });
  onBlock = (scope) => metrics.loginBlocks.inc({ scope });
  const { repositories, hosts, accounts, maintenance } = createHostServices(config, {
    db: deps.db,
    logger: deps.logger,
    bcrypt,
    mail,
    zoneWriter,
    wrapHosts: (repository) => hostCache.wrap(repository),
    // The recorder is made below, from these repositories; it exists before anyone reads history.
    flushHistory: () => history.flush(),
  });
  const hostsRepository = repositories.hosts;
  let dummyHash: Promise<string> | undefined;
  const authenticator = createAuthenticator({
    findHost: async (username) => {
      const label = labelFromUsername(username, config.zone);
      return label === undefined ? undefined : hostsRepository.findByName(label);
    },
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
  const reconciler = createMyDnsReconciler(config, { store: dnsStore, dns: deps.dns, logger: deps.logger });
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
    zoneWriter,
    history,
    hostLimiter: limiters.hostUpdates,
    pushTimeoutMs: config.pushTimeoutMs,
    blockedUserAgents: config.blockedUserAgents,
  });
  // Loaded from Postgres in start(): every replica signs with the same key.
  let csrfKey: Buffer | undefined;
  const sessions = createWebSessions({
    repository: repositories.sessions,
    findHost: (name) => hostsRepository.findByName(name),
    findAccount: (id) => repositories.accounts.findById(id),
    csrfKey: () => {
      if (!csrfKey) throw new Error('the web sessions are used before the services started');
      return csrfKey;
    },
  });
  const background = createBackgroundTasks(deps.logger);
  return {
    updates,
    hosts,
    accounts,
    background,
    zoneWriter,
    hostCache,
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
      zoneWriter.start();
      history.start();
      maintenance.start();
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
      await background.drain();
      await mail.stop();
      await history.stop();
      await zoneWriter.stop();
      await hostCache.stop();
      await bcrypt.close();
    },
  };
}

/** The reconciler with this deployment's zone, records and exceptions (also used by the CLI). */
export function createMyDnsReconciler(
  config: Config,
  deps: { store: ReturnType<typeof createDnsOutboxStore>; dns: PowerDnsClient; logger: Logger },
): Reconciler {
  return createReconciler({
    zone: config.zone,
    ttl: config.recordTtl,
    nameservers: config.nameservers,
    secondaries: config.secondaries,
    relayAddresses: config.relayAddresses,
    operatorRecords: config.reconcile.operatorRecords,
    store: deps.store,
    dns: deps.dns,
    logger: deps.logger,
  });
}
