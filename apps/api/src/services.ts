import {
  createDnsOutboxStore,
  createHostCache,
  createHostsRepository,
  type Database,
  type HostCache,
} from '@mydns/db';
import { createZoneWriter, type PowerDnsClient, type ZoneWriter } from '@mydns/powerdns';
import type { Logger } from '@mydns/runtime';
import { type Authenticator, createAuthenticator } from './auth/authenticator.ts';
import { type BcryptPool, createBcryptPool } from './auth/bcrypt-pool.ts';
import { type CredentialCache, createCredentialCache } from './auth/credential-cache.ts';
import { createRateLimiter, type RateLimiter } from './auth/rate-limiter.ts';
import type { Config } from './config.ts';
import { createUpdateService, type UpdateService } from './dyndns/update-service.ts';
import { createHostsService, type HostsService } from './hosts/hosts-service.ts';

/** Everything the HTTP layer and the CLI call, wired from explicit dependencies. */
export interface Services {
  readonly updates: UpdateService;
  readonly hosts: HostsService;
  readonly zoneWriter: ZoneWriter;
  readonly hostCache: HostCache;
  readonly bcrypt: BcryptPool;
  readonly credentialCache: CredentialCache;
  readonly authenticator: Authenticator;
  readonly limiters: {
    readonly hostUpdates: RateLimiter;
    readonly loginFailures: RateLimiter;
    readonly registrations: RateLimiter;
  };
  /** Starts the background parts: change notifications and the zone writer. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createServices(
  config: Config,
  deps: {
    db: Database;
    /** For the host cache's LISTEN connection. */
    databaseUrl: string;
    /** A small pool of its own for the zone writer (see server.ts). */
    writerDb: Database;
    dns: PowerDnsClient;
    logger: Logger;
  },
): Services {
  const hostCache = createHostCache({
    url: deps.databaseUrl,
    ttlMs: config.hostCacheTtlMs,
    logger: deps.logger,
  });
  const hostsRepository = hostCache.wrap(createHostsRepository(deps.db));
  const bcrypt = createBcryptPool(config.bcrypt.threads);
  const credentialCache = createCredentialCache({ ttlMs: config.credentialCacheTtlMs });
  const authenticator = createAuthenticator({ bcrypt, cache: credentialCache });
  const limiters = {
    hostUpdates: createRateLimiter(config.limits.hostUpdates),
    loginFailures: createRateLimiter({ ...config.limits.loginFailures, blockMs: config.limits.loginBlockMs }),
    registrations: createRateLimiter(config.limits.registrations),
  };
  const zoneWriter = createZoneWriter({
    zone: config.zone,
    ttl: config.recordTtl,
    store: createDnsOutboxStore(deps.writerDb),
    dns: deps.dns,
    logger: deps.logger,
  });
  const updates = createUpdateService({
    zone: config.zone,
    hosts: hostsRepository,
    authenticator,
    zoneWriter,
    hostLimiter: limiters.hostUpdates,
    failureLimiter: limiters.loginFailures,
    pushTimeoutMs: config.pushTimeoutMs,
    blockedUserAgents: config.blockedUserAgents,
  });
  const hosts = createHostsService({
    zone: config.zone,
    hosts: hostsRepository,
    bcrypt,
    bcryptCost: config.bcrypt.cost,
    registration: config.registration,
  });
  return {
    updates,
    hosts,
    zoneWriter,
    hostCache,
    bcrypt,
    credentialCache,
    authenticator,
    limiters,
    async start() {
      await hostCache.start();
      zoneWriter.start();
    },
    async close() {
      await zoneWriter.stop();
      await hostCache.stop();
      await bcrypt.close();
    },
  };
}
