import { type Logger, repeatLimited } from '@mydns/runtime';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { type MigrationContext, migrationSource, migrationSourceFor } from './migrations/index.ts';

// `timestamptz` as Date (pg's default) and bigint ids as numbers: our ids stay
// far below 2^53, and numbers are what the rest of the code compares.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Database = Knex;
export { type MigrationContext, migrationSourceFor } from './migrations/index.ts';

export interface DatabaseOptions {
  url: string;
  poolMax?: number;
  /** A query Postgres does not answer within this time fails (client side: also when Postgres is frozen). */
  queryTimeoutMs?: number;
  /** knex's own warnings and errors go here instead of straight to stdout. */
  logger?: Logger;
}

export function createDatabase(options: DatabaseOptions): Database {
  const logger = options.logger?.child({ component: 'db' });
  const log = logger ? repeatLimited(logger) : undefined;
  return knex({
    client: 'pg',
    connection: {
      connectionString: options.url,
      application_name: 'mydns',
      connectionTimeoutMillis: 5_000,
      ...(options.queryTimeoutMs ? { query_timeout: options.queryTimeoutMs } : {}),
    },
    pool: { min: 0, max: options.poolMax ?? 10 },
    // Fail fast when Postgres is down: the update path answers 911 instead of hanging.
    acquireConnectionTimeout: 5_000,
    ...(log
      ? {
          log: {
            warn: (message: unknown) => log('warn', String(message)),
            error: (message: unknown) => log('error', String(message)),
            deprecate: (message: unknown) => log('debug', String(message)),
            debug: (message: unknown) => log('debug', String(message)),
          },
        }
      : {}),
  });
}

const migrationConfig = { migrationSource, tableName: 'knex_migrations' };

/**
 * Applies every pending migration. `context` is what the migrations cannot
 * know themselves (migrations/context.ts): `npm start` and the CLI pass the
 * default zone, which rows from before zones move into.
 */
export async function migrateLatest(db: Database, context: MigrationContext = {}): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({
    ...migrationConfig,
    migrationSource: migrationSourceFor(context),
  })) as [number, string[]];
  return applied;
}

/** Whether MyDNS's migrations ever ran on this database (an empty one has no migrations table). */
export async function isMigrated(db: Database): Promise<boolean> {
  return db.schema.hasTable(migrationConfig.tableName);
}

export async function rollbackAll(db: Database): Promise<string[]> {
  const [, reverted] = (await db.migrate.rollback(migrationConfig, true)) as [number, string[]];
  return reverted;
}

export async function pingDatabase(db: Database): Promise<void> {
  await db.raw('select 1');
}

interface PgConnection {
  query<R>(config: {
    name?: string;
    text: string;
    values: readonly unknown[];
  }): Promise<{ rows: R[] } | { rows: R[] }[]>;
}

/** Runs a named (server-side prepared) statement on one connection; see preparedQuery. */
export type PreparedQuery = <R>(name: string, text: string, values: readonly unknown[]) => Promise<R[]>;

/**
 * Runs a named (server-side prepared) statement on a connection of knex's
 * pool: Postgres parses and plans it once per connection instead of once per
 * call. Only for the hot path's few statements; everything else uses knex.
 */
export async function preparedQuery<R>(
  db: Database,
  name: string,
  text: string,
  values: readonly unknown[],
): Promise<R[]> {
  // A single statement is its own transaction: safe to run again on a fresh
  // connection if the first one was found dead (see onConnection).
  return onConnection(db, (query) => query<R>(name, text, values), { retryLostFirst: true });
}

/**
 * Runs `work` (named statements) in one transaction on one connection of
 * knex's pool: BEGIN, the statements, COMMIT; ROLLBACK if any fails.
 */
export async function preparedTransaction<T>(
  db: Database,
  work: (query: PreparedQuery) => Promise<T>,
): Promise<T> {
  return onConnection(
    db,
    async (query) => {
      // BEGIN is the first statement on the connection: if the connection is
      // found dead there, nothing has been sent, and it runs again on a fresh one.
      await query('', 'begin', []);
      try {
        const result = await work(query);
        await query('', 'commit', []);
        return result;
      } catch (error) {
        await query('', 'rollback', []).catch(() => undefined);
        throw error;
      }
    },
    { retryLostFirst: true },
  );
}

/**
 * Like preparedTransaction, but BEGIN goes to Postgres together with the
 * transaction's first statements, in one round trip: `opening` is several
 * statements (`begin; …; …`) in the simple query protocol, so it takes no
 * parameters (quote values with pg's escapeLiteral). Each statement of it
 * runs after the one before has finished, with a snapshot of its own (read
 * committed), so a read placed after a lock sees what the lock's last holder
 * committed. `work` gets the rows of each statement of `opening` and runs
 * the rest; COMMIT after it, ROLLBACK if it throws.
 */
export async function transactionOpenedWith<T>(
  db: Database,
  opening: string,
  work: (opened: readonly unknown[][], query: PreparedQuery) => Promise<T>,
): Promise<T> {
  return onConnection(
    db,
    async (query, several) => {
      const opened = await several(opening);
      try {
        const result = await work(opened, query);
        await query('', 'commit', []);
        return result;
      } catch (error) {
        await query('', 'rollback', []).catch(() => undefined);
        throw error;
      }
    },
    { retryLostFirst: true },
  );
}

async function onConnection<T>(
  db: Database,
  work: (query: PreparedQuery, several: (text: string) => Promise<unknown[][]>) => Promise<T>,
  options: { retryLostFirst: boolean },
): Promise<T> {
  const client = db.client as {
    acquireConnection(): Promise<PgConnection>;
    releaseConnection(connection: PgConnection): Promise<void>;
  };
  for (let attempt = 1; ; attempt++) {
    const connection = await client.acquireConnection();
    let first = true;
    const send = async <R>(name: string, text: string, values: readonly unknown[]) => {
      try {
        return await connection.query<R>(name ? { name, text, values } : { text, values });
      } catch (error) {
        // A pooled connection Postgres has just ended (restart, pg_terminate_backend)
        // fails its next statement before the pool notices: once more on a fresh one.
        if (first && attempt === 1 && options.retryLostFirst && isLostConnection(error))
          throw new LostBeforeStart(error);
        throw error;
      } finally {
        first = false;
      }
    };
    const query: PreparedQuery = async <R>(name: string, text: string, values: readonly unknown[]) => {
      const result = await send<R>(name, text, values);
      return Array.isArray(result) ? (result.at(-1)?.rows ?? []) : result.rows;
    };
    // Several statements in one text: pg answers with one result each (one alone: not in an array).
    const several = async (text: string) => {
      const result = await send<unknown>('', text, []);
      return (Array.isArray(result) ? result : [result]).map((each) => each.rows);
    };
    try {
      return await work(query, several);
    } catch (error) {
      if (!(error instanceof LostBeforeStart)) throw error;
    } finally {
      await client.releaseConnection(connection);
    }
  }
}

/** The connection was found dead at the first statement: nothing of `work` reached Postgres. */
class LostBeforeStart extends Error {
  constructor(cause: unknown) {
    super('the connection was lost before the first statement', { cause });
  }
}

/** The connection died under the statement (as opposed to an error of the statement itself). */
export function isLostConnection(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return (
    e?.code === '57P01' || // admin_shutdown: terminated by an administrator or a restart
    e?.code === 'ECONNRESET' ||
    e?.code === 'EPIPE' ||
    /Connection terminated|connection is closed|Client has encountered a connection error/i.test(
      e?.message ?? '',
    )
  );
}
