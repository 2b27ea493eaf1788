import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@mydns/db';
import { createLogger, isProcessAlive } from '@mydns/runtime';
import pg from 'pg';
import { freePort } from './ports.ts';

/**
 * A Postgres of a test file's own, to stop, restart, freeze and disconnect
 * while an API process uses it (the run's shared Postgres is never touched).
 *
 * A restart comes back on the SAME port and folder, because the running API
 * keeps its DATABASE_URL.
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
  // A reserved port (support/ports.ts): it stays ours while Postgres is down between restarts.
  const first = await startEmbeddedPostgres({ dataDir, logger, durability: 'fast', port: await freePort() });
  const pgdata = join(dataDir, 'postgres');
  const { port, url } = first;
  let current: EmbeddedPostgres | undefined = first;
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';

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
      await current?.stop();
      current = undefined;
    },
    async start() {
      if (postmasterPid(pgdata) !== undefined) throw new Error('this Postgres still runs');
      current = await startEmbeddedPostgres({ dataDir, logger, durability: 'fast', port });
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
