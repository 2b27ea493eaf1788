import {
  commitAddressChanges,
  createAcmeRepository,
  createAddressCommitter,
  createDnsOutboxStore,
  createHistoryRepository,
  createHostCache,
  createHostsRepository,
  createSessionsRepository,
  createTokensRepository,
  type Database,
  type HostCache,
  isAddressChangeError,
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
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { createWebSessions, type WebSessions } from './web/sessions.ts';

/** Everything the HTTP layer and the CLI call, wired from explicit dependencies. */
export interface Services {
  readonly updates: UpdateService;
  readonly hosts: HostsService;
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
  /** The connection of the group commit of address changes (see server.ts); `db` when absent. */
  commitDb?: Database;
  dns: PowerDnsClient;
  logger: Logger;
  bcryptThreads?: number;
}

export function createServices(config: Config, deps: ServiceDeps): Services {
  const hostCache = createHostCache({
    url: deps.databaseUrl,
    ttlMs: config.hostCacheTtlMs,
    logger: deps.logger,
  });
  const tokens = createTokensRepository(deps.db);
  const acme = createAcmeRepository(deps.db);
  const historyRepository = createHistoryRepository(deps.db);
  const sessionsRepository = createSessionsRepository(deps.db);
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
  // Address changes that arrive while a commit is in flight go to Postgres together in the next one.
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
  const hostsRepository = hostCache.wrap(createHostsRepository(deps.db, { addressChanges }));
  onBlock = (scope) => metrics.loginBlocks.inc({ scope });
  const authenticator = createAuthenticator({
    findHost: async (username) => {
      const label = labelFromUsername(username, config.zone);
      return label === undefined ? undefined : hostsRepository.findByName(label);
    },
    tokens,
    bcrypt,
    cache: credentialCache,
    guard: limiters.logins,
    limitKey: (source) => limitKey(source, config.limits.ipv6Prefix),
    events: {
      onFailure: ({ edge, source, host }) => {
        metrics.loginFailures.inc({ edge });
        authLog.warn('login failed', { edge, source, host });
      },
      onRefused: ({ edge, source, host, reason }) => {
        metrics.loginRefusals.inc({ edge, reason });
        authLog.debug('login refused without a check', { edge, source, host, reason });
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
    repository: historyRepository,
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
  const hosts = createHostsService({
    zone: config.zone,
    hosts: hostsRepository,
    tokens,
    acme,
    history: historyRepository,
    flushHistory: () => history.flush(),
    bcrypt,
    bcryptCost: config.bcrypt.cost,
    registration: config.registration,
    sessions: sessionsRepository,
    quarantineDays: config.nameQuarantineDays,
    zoneWriter,
    pushTimeoutMs: config.pushTimeoutMs,
  });
  const sessions = createWebSessions({
    repository: sessionsRepository,
    findHost: (name) => hostsRepository.findByName(name),
  });
  const maintenance = createMaintenance({
    db: deps.db,
    sessions: sessionsRepository,
    hosts: hostsRepository,
    acme,
    history: historyRepository,
    logger: deps.logger,
    inactivityDays: config.lifecycle.inactivityDays,
    historyMaxPerHost: config.lifecycle.historyMaxPerHost,
    historyMaxAgeMs: config.lifecycle.historyMaxAgeMs,
    intervalMs: config.lifecycle.maintenanceIntervalMs,
    onQueued: () => zoneWriter.wake(),
  });
  return {
    updates,
    hosts,
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
    limiters,
    async start() {
      await hostCache.start();
      zoneWriter.start();
      history.start();
      maintenance.start();
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
