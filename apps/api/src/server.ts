import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import {
  createDatabase,
  createHostsRepository,
  type Database,
  type EmbeddedPostgres,
  migrateLatest,
  pingDatabase,
  startEmbeddedPostgres,
} from '@mydns/db';
import {
  createPowerDnsClient,
  type ManagedPowerDns,
  type PowerDnsClient,
  startManagedPowerDns,
} from '@mydns/powerdns';
import { type ChildStatus, isProcessAlive, type Logger, type Shutdown, StartupError } from '@mydns/runtime';
import { createApp } from './app.ts';
import type { Config } from './config.ts';
import { createZonesService, refuseStrandedHosts } from './hosts/zones-service.ts';
import { createServices, type Services, setUpZone } from './services.ts';

export interface RunningMyDns {
  readonly url: string;
  /** The Postgres in use (embedded or DATABASE_URL), for the relay beside the API. */
  readonly databaseUrl: string;
  readonly port: number;
  readonly config: Config;
  readonly db: Database;
  readonly dns: PowerDnsClient;
  readonly services: Services;
  readonly server: Server;
}

/** One `npm start` per data folder: two would fight over Postgres and PowerDNS. */
function lockDataDir(dataDir: string, shutdown: Shutdown): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const file = join(dataDir, 'mydns.pid');
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid !== process.pid && isProcessAlive(pid)) {
      throw new StartupError(
        `MyDNS is already running on the data folder ${dataDir} (pid ${pid}); stop it first`,
      );
    }
  }
  writeFileSync(file, `${process.pid}\n`);
  shutdown.add('data folder lock', () => rmSync(file, { force: true }));
}

function listen(server: Server, port: number, address: string): Promise<AddressInfo> {
  return new Promise((resolveListen, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new StartupError(`port ${port} is in use: set MYDNS_HTTP_PORT to a free port`)
          : error,
      );
    });
    server.listen(port, address, () => resolveListen(server.address() as AddressInfo));
  });
}

/** Readiness of a part we run as a child process: down while it is being restarted. */
function requireUp(part: { status(): ChildStatus } | undefined): void {
  const status = part?.status() ?? 'up';
  if (status !== 'up') throw new Error(`down: ${status}`);
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolveClose) => {
    // Every reply from now on says `Connection: close`, so keep-alive clients
    // move to another replica instead of sending more requests here; idle
    // connections close at once; requests in flight get graceMs to finish.
    server.prependListener('request', (_req, res: ServerResponse) => {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    });
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolveClose();
    });
    server.closeIdleConnections();
  });
}

/** The embedded Postgres (unless DATABASE_URL), migrated to the latest schema. */
async function startDatabase(
  config: Config,
  dataDir: string,
  logger: Logger,
  shutdown: Shutdown,
): Promise<{ databaseUrl: string; postgres?: EmbeddedPostgres }> {
  let databaseUrl = config.databaseUrl;
  let postgres: EmbeddedPostgres | undefined;
  if (!databaseUrl) {
    const started = await startEmbeddedPostgres({ dataDir, logger, restart: true });
    shutdown.add(
      'postgres',
      () => started.stop(),
      () => started.kill(),
    );
    postgres = started;
    databaseUrl = started.url;
    logger.info(
      `Postgres (embedded) listens on 127.0.0.1:${started.port}, data in ${join(dataDir, 'postgres')}`,
    );
  }
  // Migrations may take their time: a connection of their own, without the request pool's query timeout.
  const migrator = createDatabase({ url: databaseUrl, poolMax: 1, logger });
  try {
    // Rows from before zones go to the default zone (migration 20261204100000).
    const applied = await migrateLatest(migrator, { defaultZone: config.zone });
    if (applied.length > 0) logger.info(`applied migrations: ${applied.join(', ')}`);
    // Hosts in a zone the settings dropped would stay in DNS, stale: stop here and say how to move them.
    await refuseStrandedHosts(
      createZonesService({ zones: config.zones, hosts: createHostsRepository(migrator) }),
      config.zone,
    );
  } finally {
    await migrator.destroy();
  }
  return { databaseUrl, ...(postgres ? { postgres } : {}) };
}

/** The managed pdns_server (unless MYDNS_PDNS_API_URL) or the external one, answering. */
async function startPowerDns(
  config: Config,
  dataDir: string,
  logger: Logger,
  shutdown: Shutdown,
  onRestart: () => void,
): Promise<{ dns: PowerDnsClient; pdns?: ManagedPowerDns }> {
  if (config.powerdns.mode === 'managed') {
    const pdns = await startManagedPowerDns({
      dir: join(dataDir, 'pdns'),
      dnsPort: config.powerdns.dnsPort,
      apiPort: config.powerdns.apiPort,
      ...(config.powerdns.binary ? { binary: config.powerdns.binary } : {}),
      logger,
      restart: true,
      onRestart,
    });
    shutdown.add(
      'powerdns',
      () => pdns.stop(),
      () => pdns.kill(),
    );
    logger.info(
      `PowerDNS (managed) answers DNS on 127.0.0.1:${pdns.dnsPort}, API on ${pdns.apiUrl}, data in ${join(dataDir, 'pdns')}`,
    );
    return { dns: createPowerDnsClient({ apiUrl: pdns.apiUrl, apiKey: pdns.apiKey }), pdns };
  }
  const { apiUrl, apiKey, serverId } = config.powerdns;
  const dns = createPowerDnsClient({ apiUrl, apiKey, serverId });
  await dns.serverInfo().catch((error: Error) => {
    throw new StartupError(`the PowerDNS API at ${apiUrl} does not answer: ${error.message}`);
  });
  return { dns };
}

/**
 * Brings up the whole service: Postgres (embedded unless DATABASE_URL) with
 * its migrations and, beside it, PowerDNS (a child process unless
 * MYDNS_PDNS_API_URL); then the zone, the zone writer and the HTTP server.
 * Every part registers its own stop on `shutdown`, so they stop in reverse
 * order: HTTP first, databases last. The embedded Postgres and the managed
 * PowerDNS are restarted when they die; readiness says so meanwhile.
 */
export async function startMyDns(config: Config, logger: Logger, shutdown: Shutdown): Promise<RunningMyDns> {
  const dataDir = resolve(config.dataDir);
  const managesSomething = !config.databaseUrl || config.powerdns.mode === 'managed';
  if (managesSomething) lockDataDir(dataDir, shutdown);

  // Set once the services exist: a PowerDNS that is back gets the changes that waited for it at once.
  let onPowerDnsBack = () => {};
  // Postgres and PowerDNS do not need each other: they start side by side. Each
  // registers its stop as soon as it runs, so a failure of one stops the other.
  const [database, powerdns] = await Promise.allSettled([
    startDatabase(config, dataDir, logger, shutdown),
    startPowerDns(config, dataDir, logger, shutdown, () => onPowerDnsBack()),
  ]);
  if (database.status === 'rejected') throw database.reason;
  if (powerdns.status === 'rejected') throw powerdns.reason;
  const { databaseUrl, postgres } = database.value;
  const { dns, pdns } = powerdns.value;
  // Requests fail fast (911/503) when Postgres stops answering, instead of hanging.
  const db = createDatabase({ url: databaseUrl, poolMax: config.dbPoolSize, queryTimeoutMs: 5_000, logger });
  shutdown.add('database pool', () => db.destroy());
  // The zone writer gets connections of its own: queued behind hundreds of
  // update requests in the shared pool, every batch would wait its turn.
  const writerDb = createDatabase({ url: databaseUrl, poolMax: 2, logger });
  shutdown.add('zone writer database pool', () => writerDb.destroy());
  // Address changes are committed in groups, one group at a time (address-committer.ts): one
  // connection of their own, never queued behind the requests' reads in the shared pool.
  const commitDb = createDatabase({ url: databaseUrl, poolMax: 1, queryTimeoutMs: 5_000, logger });
  shutdown.add('address commit database pool', () => commitDb.destroy());

  for (const zone of config.zones) await setUpZone(config, dns, zone, logger);

  const services = createServices(config, { db, databaseUrl, writerDb, commitDb, dns, logger });
  shutdown.add('services', () => services.close());
  await services.start();
  onPowerDnsBack = () => services.zoneWriters.wake();

  const app = createApp({
    config,
    services,
    logger,
    readiness: {
      postgres: async () => {
        requireUp(postgres);
        await pingDatabase(db);
      },
      powerdns: async () => {
        requireUp(pdns);
        await dns.serverInfo();
      },
    },
  });
  const http = createServer(
    {
      // Slow or stuck clients cannot hold connections for long.
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      keepAliveTimeout: 5_000,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: 1_000,
    },
    (request, response) => {
      collapseLeadingSlashes(request);
      app(request, response);
    },
  );
  const address = await listen(http, config.http.port, config.http.address);
  shutdown.add('http server', () => closeServer(http, 10_000));
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const wildcard = host === '[::]' || host === '0.0.0.0';
  const url = `http://${wildcard ? '127.0.0.1' : host}:${address.port}`;
  const zones = config.zones.length === 1 ? `zone ${config.zone}` : `zones ${config.zones.join(', ')}`;
  logger.info(`HTTP API and update endpoints listen on ${host}:${address.port} (${zones})`);
  if (config.labMode) {
    logger.info(
      'lab mode: the API listens on loopback only, so loopback and private addresses are accepted as a host address; ' +
        'set MYDNS_HTTP_ADDRESS=:: for a public service (or MYDNS_ALLOW_PRIVATE_ADDRESSES=false to refuse them here too)',
    );
  }
  return { url, databaseUrl, port: address.port, config, db, dns, services, server: http };
}

/**
 * `//nic/update` is `/nic/update`, as nginx's `merge_slashes` has it (a client configured with a
 * base URL ending in `/` sends it). Express reads a path that starts with `//` as a host and
 * hands such a request straight to its default 404 page, before any of the app's own handlers
 * (its headers, its plain-text 404): found by `npm run bench -- fuzz`.
 */
export function collapseLeadingSlashes(request: { url?: string | undefined }): void {
  if (request.url?.startsWith('//')) request.url = request.url.replace(/^\/{2,}/, '/');
}
