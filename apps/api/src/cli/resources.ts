import { join, resolve } from 'node:path';
import {
  createDatabase,
  type Database,
  findRunningEmbeddedPostgres,
  hasEmbeddedPostgres,
  isMigrated,
  migrateLatest,
  startEmbeddedPostgres,
} from '@mydns/db';
import {
  createPowerDnsClient,
  findRunningManagedPowerDns,
  type PowerDnsClient,
  startManagedPowerDns,
} from '@mydns/powerdns';
import { type Logger, StartupError } from '@mydns/runtime';
import type { Config } from '../config.ts';

/**
 * The Postgres and the PowerDNS a CLI command works on: the ones `npm start`
 * runs on the same data folder when it runs (found through the files there),
 * the external ones the settings name, or the data folder's own, started for
 * the command and stopped after it.
 */

/** Where DATABASE_URL points, without its credentials (it is said in an error line). */
function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

function noDatabase(config: Config, dataDir: string): StartupError {
  return new StartupError(
    config.databaseUrl
      ? `the database at ${describeDatabaseUrl(config.databaseUrl)} (DATABASE_URL) holds no MyDNS tables: run \`npm run cli -- migrate\` or \`npm start\` first, or check DATABASE_URL`
      : `the data folder ${dataDir} holds no MyDNS database: run \`npm start\` there first, or set MYDNS_DATA_DIR to the data folder in use (or DATABASE_URL)`,
  );
}

export interface DatabaseUse {
  /**
   * Only `migrate` creates a database. Every other command refuses a data
   * folder (or database) without one, instead of creating an empty one and
   * answering "no host" from it: the folder was most likely the wrong one.
   */
  readonly mayCreate: boolean;
}

export async function withDatabase<T>(
  config: Config,
  logger: Logger,
  use: DatabaseUse,
  work: (db: Database) => Promise<T>,
): Promise<T> {
  const dataDir = resolve(config.dataDir);
  let url = config.databaseUrl ?? findRunningEmbeddedPostgres(dataDir);
  let stopPostgres: (() => Promise<void>) | undefined;
  if (!url) {
    if (!use.mayCreate && !hasEmbeddedPostgres(dataDir)) throw noDatabase(config, dataDir);
    const postgres = await startEmbeddedPostgres({ dataDir, logger });
    url = postgres.url;
    stopPostgres = postgres.stop;
  }
  const db = createDatabase({ url, poolMax: 2, logger });
  try {
    if (!use.mayCreate && !(await isMigrated(db))) throw noDatabase(config, dataDir);
    // A CLI newer than the database brings it up to date, as `npm start` would
    // (rows from before zones go to the default zone: migration 20261204100000).
    await migrateLatest(db, { defaultZone: config.zone });
    return await work(db);
  } finally {
    await db.destroy();
    await stopPostgres?.();
  }
}

/** The external PowerDNS, the managed one `npm start` runs, or a managed one started for this command. */
export async function withPowerDns<T>(
  config: Config,
  logger: Logger,
  work: (dns: PowerDnsClient) => Promise<T>,
): Promise<T> {
  if (config.powerdns.mode === 'external') {
    const { apiUrl, apiKey, serverId } = config.powerdns;
    return work(createPowerDnsClient({ apiUrl, apiKey, serverId }));
  }
  const dir = join(resolve(config.dataDir), 'pdns');
  const running = findRunningManagedPowerDns({ dir, apiPort: config.powerdns.apiPort });
  if (running) return work(createPowerDnsClient({ apiUrl: running.apiUrl, apiKey: running.apiKey }));
  const pdns = await startManagedPowerDns({
    dir,
    dnsPort: config.powerdns.dnsPort,
    apiPort: config.powerdns.apiPort,
    ...(config.powerdns.binary ? { binary: config.powerdns.binary } : {}),
    logger,
  });
  try {
    return await work(createPowerDnsClient({ apiUrl: pdns.apiUrl, apiKey: pdns.apiKey }));
  } finally {
    await pdns.stop();
  }
}
