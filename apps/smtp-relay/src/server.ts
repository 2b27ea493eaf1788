/**
 * The relay process: listener, admission (global, per-client), shared
 * backend slots (per host, per client and host), and the graceful stop (no new sessions; running
 * ones finish their transaction or get 421 when the grace period ends).
 * `npm start` calls `startRelay` next to the API; main.ts runs it alone.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { createDatabase } from '@mydns/db';
import { parseIpAddress } from '@mydns/domain';
import { errorMessage, type Logger, type Shutdown, StartupError } from '@mydns/runtime';
import { formatReply } from '@mydns/smtp-client';
import type { Registry } from 'prom-client';
import { createBackendSlots } from './backend-pool.ts';
import { createBackendShare } from './backend-share.ts';
import { createClientLimits } from './client-limits.ts';
import type { RelayConfig } from './config.ts';
import { createPostgresHostDirectory, type HostDirectory } from './hosts.ts';
import { createRelayMetrics, serveMetrics } from './metrics.ts';
import { replies } from './protocol/replies.ts';
import { createMxLookup, createRouter, type MxLookup } from './routing.ts';
import { Session } from './session.ts';
import { createTargetPolicy } from './target-policy.ts';

export interface RunningRelay {
  readonly port: number;
  readonly address: string;
  /** Sessions open now. */
  sessions(): number;
  /** Stops accepting, lets sessions finish (up to the grace period), then closes the rest with 421. */
  stop(): Promise<void>;
}

export interface RelayDeps {
  /** Hosts from somewhere else than Postgres (tests). */
  readonly hosts?: HostDirectory;
  /** MX lookups from somewhere else than DNS (tests). */
  readonly lookupMx?: MxLookup;
  /** Where the relay's metrics go (the API's registry under `npm start`). */
  readonly metricsRegistry?: Registry;
}

function loadTls(config: RelayConfig): SecureContext | undefined {
  if (!config.tls) return undefined;
  try {
    return createSecureContext({
      cert: readFileSync(config.tls.certFile),
      key: readFileSync(config.tls.keyFile),
      minVersion: 'TLSv1.2',
    });
  } catch (error) {
    throw new StartupError(
      `cannot use the relay certificate (MYDNS_RELAY_TLS_CERT / MYDNS_RELAY_TLS_KEY): ${errorMessage(error)}`,
    );
  }
}

function listen(server: Server, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE')
        reject(new StartupError(`port ${port} is in use: set MYDNS_SMTP_PORT to a free port`));
      else if (error.code === 'EACCES') {
        reject(
          new StartupError(
            `no permission to listen on port ${port}: ports below 1024 need CAP_NET_BIND_SERVICE`,
          ),
        );
      } else reject(error);
    });
    server.listen(port, address, () => resolve());
  });
}

export async function startRelay(
  config: RelayConfig,
  logger: Logger,
  shutdown: Shutdown,
  deps: RelayDeps = {},
): Promise<RunningRelay> {
  const log = logger.child({ component: 'smtp-relay' });
  const secureContext = loadTls(config);
  let hosts = deps.hosts;
  if (!hosts) {
    if (!config.databaseUrl) throw new StartupError('DATABASE_URL is required for the SMTP relay');
    const db = createDatabase({ url: config.databaseUrl, poolMax: config.dbPoolSize });
    shutdown.add('relay database pool', () => db.destroy());
    hosts = createPostgresHostDirectory({
      db,
      url: config.databaseUrl,
      ttlMs: config.cache.hostTtlMs,
      logger,
    });
  }
  const directory = hosts;
  await directory.start();
  shutdown.add('relay host directory', () => directory.stop());
  const router = createRouter({
    zones: config.zones,
    hosts: directory,
    lookupMx: deps.lookupMx ?? createMxLookup(config.dnsServers),
    mxTtlMs: config.cache.mxTtlMs,
    mxNegativeTtlMs: config.cache.mxNegativeTtlMs,
  });
  const policy = createTargetPolicy({
    ownAddresses: config.relayAddresses,
    ownPort: config.listen.port,
    allowPrivate: config.allowPrivateTargets,
  });
  const slots = createBackendSlots({
    perHost: config.limits.hostSessions,
    perClientHost: config.limits.clientHostSessions,
    ipv6Prefix: config.limits.clientIpv6Prefix,
  });
  const share = config.backendShare
    ? createBackendShare({ idleMs: config.timeouts.backendIdleMs })
    : undefined;
  const clientLimits = createClientLimits({
    concurrent: config.limits.clientSessions,
    rate: config.limits.clientRate,
    ipv6Prefix: config.limits.clientIpv6Prefix,
  });
  const sessions = new Set<Session>();
  // The API's registry under `npm start`; a server of its own when the relay runs alone with a metrics port.
  let registry = deps.metricsRegistry;
  if (!registry && config.metricsPort !== undefined) {
    const served = await serveMetrics(config.metricsPort, config.metricsAddress, log);
    registry = served.registry;
    shutdown.add('relay metrics', () => new Promise<void>((resolve) => served.server.close(() => resolve())));
  }
  const metrics = registry ? createRelayMetrics(registry, () => sessions.size) : undefined;
  let stopping = false;
  const isBusy = () => sessions.size > config.limits.sessions * 0.8;

  const refuse = (socket: Socket, text: string) => {
    metrics?.record({ type: 'session', outcome: 'refused' });
    socket.on('error', () => undefined);
    socket.end(text);
    const timer = setTimeout(() => socket.destroy(), 2000);
    timer.unref();
  };

  const server = createServer({ noDelay: true }, (socket) => {
    const address = parseIpAddress(socket.remoteAddress ?? '');
    if (!address || stopping) {
      refuse(socket, formatReply(replies.shuttingDown(config.hostname)));
      return;
    }
    // Node's maxConnections would drop the socket silently; a 421 tells the sender to come back.
    if (sessions.size >= config.limits.sessions) {
      refuse(socket, formatReply(replies.tooManySessions(config.hostname)));
      return;
    }
    const admission = clientLimits.admit(address);
    if (admission !== 'ok') {
      log.info('client refused', { client: address.text, reason: admission });
      refuse(socket, formatReply(replies.tooManyConnections(config.hostname, address.text)));
      return;
    }
    metrics?.record({ type: 'session', outcome: 'accepted' });
    const session = new Session(
      socket,
      { address, port: socket.remotePort ?? 0 },
      {
        config,
        router,
        policy,
        secureContext,
        slots,
        ...(share ? { share } : {}),
        logger,
        isBusy,
        ...(metrics ? { onEvent: metrics.record } : {}),
      },
    );
    sessions.add(session);
    void session.closed.then(() => {
      sessions.delete(session);
      clientLimits.release(address);
    });
    session.start();
  });
  server.on('error', (error) => log.error('listener error', { reason: error.message }));
  await listen(server, config.listen.port, config.listen.address);
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : config.listen.port;
  log.info(
    `SMTP relay listens on ${config.listen.address}:${port} as ${config.hostname}${secureContext ? ' (STARTTLS)' : ''}`,
  );

  let stopped: Promise<void> | undefined;
  const running: RunningRelay = {
    port,
    address: config.listen.address,
    sessions: () => sessions.size,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const session of sessions) session.requestStop();
        const all = Promise.all([...sessions].map((s) => s.closed));
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<'grace'>((resolve) => {
          timer = setTimeout(() => resolve('grace'), config.timeouts.stopGraceMs);
        });
        if ((await Promise.race([all, grace])) === 'grace') {
          log.warn(`${sessions.size} SMTP sessions still open after the grace period; closing them with 421`);
          for (const session of sessions) session.forceStop();
          await all;
        }
        clearTimeout(timer);
        // The sessions are gone; so go the connections they parked for each other.
        share?.close();
        await closed;
      })();
      return stopped;
    },
  };
  shutdown.add('smtp relay', () => running.stop());
  return running;
}
