import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type ChildStatus,
  errorMessage,
  executableSearchPath,
  isProcessAlive,
  type KeptRunning,
  keepRunning,
  type Logger,
  readCommandLine,
  StartupError,
  stopProcess,
  supervise,
  waitUntilReady,
} from '@mydns/runtime';
import initSqlJs from 'sql.js';
import { createPowerDnsClient } from './client.ts';

/**
 * PowerDNS Authoritative as a child process with a gsqlite3 database under the
 * data folder: what `npm start` and the tests run when no external PowerDNS
 * (MYDNS_PDNS_API_URL) is configured.
 */

export const SQLITE_SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql';
const TEMPLATE = new URL('../../../pdns/managed.conf', import.meta.url);
/** MyDNS's triggers that keep NSEC3 order names across a PATCH (docs/dnssec.md, "Kept order names"). */
export const KEEP_ORDERNAMES_SQL = new URL('../../../pdns/keep-ordernames.sqlite3.sql', import.meta.url);
const INSTALL_HINT =
  'install PowerDNS (apt-get install pdns-server pdns-backend-sqlite3) or set MYDNS_PDNS_API_URL and MYDNS_PDNS_API_KEY to use an external PowerDNS';

export interface ManagedPowerDnsOptions {
  /** Folder for pdns.conf, the sqlite database, the API key and the control socket. */
  dir: string;
  dnsPort: number;
  apiPort: number;
  dnsAddress?: string;
  /** Path of pdns_server; found on PATH (and in /usr/sbin) when not given. */
  binary?: string;
  /** More pdns.conf lines (tests: a secondary). */
  extraConfig?: readonly string[];
  logger: Logger;
  /**
   * Start it again (same configuration, ports and key) when it dies: what
   * `npm start` wants. Off for tests that stop or kill it on purpose.
   */
  restart?: boolean;
  /** Called each time a pdns_server that died serves again (changes may be waiting for it). */
  onRestart?: () => void;
}

export interface ManagedPowerDns {
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly dnsPort: number;
  /** The PID now (a new one after a restart). */
  readonly pid: number;
  /** Whether it is up, or being restarted (`restart`) after it died. */
  status(): ChildStatus;
  stop(): Promise<void>;
  /** SIGKILL now, for an exit that cannot wait. */
  kill(): void;
}

export function findPdnsServer(): string | undefined {
  const dirs = [...executableSearchPath(), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, 'pdns_server')).find((path) => existsSync(path));
}

async function createSqliteDatabase(path: string): Promise<void> {
  if (!existsSync(SQLITE_SCHEMA)) {
    throw new StartupError(`the PowerDNS sqlite schema (${SQLITE_SCHEMA}) is missing: ${INSTALL_HINT}`);
  }
  // sql.js is SQLite compiled to WebAssembly: no sqlite3 binary or native addon needed.
  // A journal left beside a removed database would be replayed into the new one.
  for (const leftover of [`${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(leftover, { force: true });
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.exec(readFileSync(SQLITE_SCHEMA, 'utf8'));
  db.exec(readFileSync(KEEP_ORDERNAMES_SQL, 'utf8'));
  writeFileSync(path, db.export());
  db.close();
}

function readOrCreateKey(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(32).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** A pdns_server left behind by a run that was killed would hold our ports: stop it. */
async function stopLeftover(pidFile: string, configDir: string, log: Logger): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || !isProcessAlive(pid)) return;
  const command = readCommandLine(pid) ?? [];
  if (command.some((part) => part.endsWith('pdns_server')) && command.includes(`--config-dir=${configDir}`)) {
    log.info(`stopping a PowerDNS left running by an earlier run (pid ${pid})`);
    await stopProcess(pid, 'SIGTERM', 10_000);
  }
}

export async function startManagedPowerDns(options: ManagedPowerDnsOptions): Promise<ManagedPowerDns> {
  const log = options.logger.child({ component: 'pdns' });
  const binary = options.binary ?? findPdnsServer();
  if (!binary || !existsSync(binary)) {
    throw new StartupError(`pdns_server was not found${binary ? ` at ${binary}` : ''}: ${INSTALL_HINT}`);
  }
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const database = join(dir, 'pdns.sqlite3');
  if (!existsSync(database)) await createSqliteDatabase(database);
  const apiKey = readOrCreateKey(join(dir, 'api-key'));
  const values: Record<string, string> = {
    dir,
    dnsAddress: options.dnsAddress ?? '127.0.0.1',
    dnsPort: String(options.dnsPort),
    apiPort: String(options.apiPort),
    apiKey,
    extra: (options.extraConfig ?? []).join('\n'),
  };
  const config = readFileSync(TEMPLATE, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`pdns/managed.conf: unknown placeholder ${key}`);
    return value;
  });
  writeFileSync(join(dir, 'pdns.conf'), config, { mode: 0o600 });

  const pidFile = join(dir, 'pdns_server.pid');
  await stopLeftover(pidFile, dir, log);
  const apiUrl = `http://127.0.0.1:${options.apiPort}`;
  const client = createPowerDnsClient({ apiUrl, apiKey, timeoutMs: 2000 });
  let server: KeptRunning;
  try {
    server = await keepRunning({
      name: 'pdns_server',
      logger: options.logger,
      spawn: () => {
        const child = supervise(binary, [`--config-dir=${dir}`], {
          name: 'pdns',
          logger: options.logger,
          parentDeathSignal: 'SIGTERM',
        });
        // For the CLI, and for the next start should this one be killed along with us.
        writeFileSync(pidFile, `${child.pid}\n`);
        return child;
      },
      ready: (child) =>
        waitUntilReady(async () => Boolean(await client.serverInfo()), {
          timeoutMs: 30_000,
          process: child,
          what: 'pdns_server',
        }),
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 15_000,
      restart: options.restart ?? false,
      ...(options.onRestart ? { onRestart: options.onRestart } : {}),
    });
  } catch (error) {
    throw new StartupError(errorMessage(error));
  }
  return {
    apiUrl,
    apiKey,
    dnsPort: options.dnsPort,
    get pid() {
      return server.pid;
    },
    status: () => server.status(),
    stop: () => server.stop(),
    kill: () => server.kill(),
  };
}
