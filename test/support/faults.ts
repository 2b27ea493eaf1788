import type { ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { createPowerDnsClient } from '@mydns/powerdns';
import { isProcessAlive, readCommandLine } from '@mydns/runtime';
import pg from 'pg';
import { harness } from './harness.ts';
import { basic } from './mydns.ts';
import { freePort } from './ports.ts';
import { type Exit, type StartedProgram, startProgram } from './programs.ts';
import { noteSecret } from './secrets.ts';
import { waitFor } from './wait.ts';

/**
 * Fault-test support: the API as a real separate process
 * (`node --import tsx apps/api/src/main.ts`, so that its PID is the API
 * itself, not a tsx wrapper, and signals reach it directly), a TCP proxy that
 * can cut a path between two processes, and direct reads of Postgres and
 * PowerDNS for the "three ways" comparison. Every process started here is
 * stopped by its PID; every wait is bounded.
 */

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** A folder of the test run (0755: an embedded Postgres running as `postgres` must reach it). */
export function workFolder(prefix: string): string {
  const dir = mkdtempSync(join(harness().workDir, `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export interface ApiProcess {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited: its code, or the signal that ended it. */
  readonly exited: Promise<Exit>;
  isAlive(): boolean;
  /** What it printed (the last 200 kB). */
  output(): string;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with how it exited. */
  stop(timeoutMs?: number): Promise<Exit>;
}

export interface ApiProcessOptions {
  readonly name: string;
  readonly databaseUrl: string;
  readonly zone: string;
  readonly powerdns: { readonly apiUrl: string; readonly apiKey: string };
  /** More settings, exactly as an operator sets them. */
  readonly env?: Record<string, string>;
  /** Reuse a port (a restart on the same address). */
  readonly port?: number;
}

const started = new Set<StartedProgram>();

/**
 * Starts `apps/api/src/main.ts` as a separate process on a free loopback
 * port and waits until /healthz answers. Its log lines (JSON, debug level)
 * go to the run's log file, which test/run.ts checks for secrets.
 */
export async function startApiProcess(options: ApiProcessOptions): Promise<ApiProcess> {
  const port = options.port ?? (await freePort());
  noteSecret(options.powerdns.apiKey);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    DATABASE_URL: options.databaseUrl,
    MYDNS_ZONE: options.zone,
    MYDNS_PDNS_API_URL: options.powerdns.apiUrl,
    MYDNS_PDNS_API_KEY: options.powerdns.apiKey,
    MYDNS_HTTP_PORT: String(port),
    MYDNS_HTTP_ADDRESS: '127.0.0.1',
    MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true',
    MYDNS_BCRYPT_COST: '4',
    MYDNS_BCRYPT_THREADS: '2',
    MYDNS_REGISTRATION_LIMIT: '100000/1h',
    // Tests send many cold logins at once from 127.0.0.1; the tests of the limits set their own.
    MYDNS_LOGIN_FAILURE_LIMIT: '100000/10m',
    MYDNS_LOGIN_HOST_FAILURE_LIMIT: '100000/10m',
    MYDNS_BCRYPT_QUEUE: '10000',
    MYDNS_DATA_DIR: workFolder(`api-${options.name}`),
    // The API alone: `npm start` also runs the SMTP relay, on a fixed port by default.
    MYDNS_RELAY_ENABLED: 'false',
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'json',
    ...options.env,
  };
  const logFile = process.env.MYDNS_TEST_LOG_FILE;
  const program = startProgram(process.execPath, ['--import', 'tsx', 'apps/api/src/main.ts'], {
    cwd: REPO_ROOT,
    env,
    ...(logFile ? { onOutput: (text: string) => appendFileSync(logFile, text) } : {}),
  });
  if (program.pid < 0) throw new Error(`could not start the API process ${options.name}`);
  const url = `http://127.0.0.1:${port}`;
  const api: ApiProcess = {
    name: options.name,
    pid: program.pid,
    port,
    url,
    child: program.child,
    exited: program.exited,
    isAlive: () => !program.hasExited(),
    output: program.output,
    signal: program.signal,
    async stop(timeoutMs = 30_000) {
      started.delete(program);
      return program.stop({ timeoutMs });
    },
  };
  started.add(program);
  try {
    await waitFor(
      () => fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then((response) => response.ok),
      {
        timeoutMs: 60_000,
        message: () => `the API process ${options.name} to answer /healthz:\n${program.output()}`,
        giveUp: () => (program.hasExited() ? 'it exited during startup' : undefined),
      },
    );
  } catch (error) {
    await api.stop(5000);
    throw error;
  }
  return api;
}

/** Stops every API process this file started and has not stopped yet (for `after` hooks). */
export async function stopAllApiProcesses(): Promise<void> {
  await Promise.all([...started].map((program) => program.stop({ timeoutMs: 10_000 })));
  started.clear();
}

/** One query on a short-lived connection. */
export async function sql<R extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function pendingPushes(url: string): Promise<number> {
  const [row] = await sql<{ count: string }>(url, 'select count(*) from dns_outbox');
  return Number(row?.count);
}

export interface HostAddresses {
  readonly ipv4: string | null;
  readonly ipv6: string | null;
}

/** What Postgres holds for each host: the source of truth. */
export async function postgresAddresses(url: string): Promise<Map<string, HostAddresses>> {
  const rows = await sql<{ name: string; ipv4: string | null; ipv6: string | null }>(
    url,
    'select name, ipv4, ipv6 from hosts order by name',
  );
  return new Map(rows.map((row) => [row.name, { ipv4: row.ipv4, ipv6: row.ipv6 }]));
}

/** Every host row, every column, as text: a snapshot to compare before and after. */
export async function hostsSnapshot(url: string): Promise<string[]> {
  const rows = await sql<{ row: string }>(url, 'select h::text as row from hosts h order by id');
  return rows.map((row) => row.row);
}

/** The A (or AAAA) records PowerDNS holds for each name of the zone, keyed by the bare label. */
export async function powerDnsRecords(
  target: { apiUrl: string; apiKey: string },
  zone: string,
  type: 'A' | 'AAAA' = 'A',
): Promise<Map<string, string[]>> {
  const client = createPowerDnsClient({ apiUrl: target.apiUrl, apiKey: target.apiKey, timeoutMs: 5000 });
  const suffix = `.${zone}.`;
  const records = new Map<string, string[]>();
  for (const rrset of await client.listRrsets(zone)) {
    if (rrset.type !== type || !rrset.name.endsWith(suffix)) continue;
    const label = rrset.name.slice(0, -suffix.length);
    records.set(label, [...(records.get(label) ?? []), ...rrset.records].sort());
  }
  return records;
}

/** The whole zone as PowerDNS holds it, SOA aside (its serial moves with every PATCH). */
export async function zoneSnapshot(
  target: { apiUrl: string; apiKey: string },
  zone: string,
): Promise<string[]> {
  const client = createPowerDnsClient({ apiUrl: target.apiUrl, apiKey: target.apiKey, timeoutMs: 5000 });
  return (await client.listRrsets(zone))
    .filter((rrset) => rrset.type !== 'SOA')
    .map((rrset) => `${rrset.name} ${rrset.type} ${rrset.ttl} ${[...rrset.records].sort().join(' ')}`)
    .sort();
}

/**
 * The PID of the pdns_server that serves `apiUrl`, among those the tests
 * started under the work folder (startPrivatePowerDns does not expose it):
 * the folder whose pdns.conf names the API port, and its pid file.
 */
export function powerDnsPid(apiUrl: string): number {
  const port = new URL(apiUrl).port;
  const root = harness().workDir;
  for (const entry of readdirSync(root)) {
    const conf = join(root, entry, 'pdns.conf');
    if (!existsSync(conf) || !readFileSync(conf, 'utf8').includes(`\nwebserver-port=${port}\n`)) continue;
    const pid = Number(readFileSync(join(root, entry, 'pdns_server.pid'), 'utf8').trim());
    const command = readCommandLine(pid) ?? [];
    if (isProcessAlive(pid) && command.some((part) => part.endsWith('pdns_server'))) return pid;
  }
  throw new Error(`no running pdns_server with its API on port ${port} under ${root}`);
}

export type ProxyMode = 'pass' | 'reset' | 'blackhole';

/**
 * A TCP proxy in front of a server, to break one process's path to it:
 * `pass` forwards, `reset` drops every connection at once (the server looks
 * down to that client only), `blackhole` accepts and never answers.
 * Switching mode also cuts the connections already open.
 */
export interface FaultProxy {
  readonly port: number;
  readonly url: string;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: ProxyMode = 'pass';
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server: Server = createServer((client) => {
    track(client);
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      client.resume(); // read and drop whatever it sends
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    setMode(next) {
      mode = next;
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

export interface UpdateReply {
  readonly status: number;
  readonly body: string;
  /** Set when no complete HTTP reply came (connection refused, reset, timeout). */
  readonly error?: string;
}

/**
 * One DynDNS update with Basic credentials; never throws (a transport failure is `error`).
 * A connection of its own per update, as a router makes: a kept-alive connection that the
 * server closes as the next request goes out (a busy machine) fails that request, and that
 * failure would be the client's reuse, not the service's.
 */
export function sendUpdate(
  baseUrl: string,
  host: string,
  password: string,
  myip: string,
  timeoutMs = 30_000,
): Promise<UpdateReply> {
  return new Promise((resolveReply) => {
    const request = httpGet(
      `${baseUrl}/nic/update?hostname=${host}&myip=${myip}`,
      { agent: false, headers: { authorization: basic(host, password) }, timeout: timeoutMs },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolveReply({ status: response.statusCode ?? 0, body }));
        response.on('error', (error: NodeJS.ErrnoException) =>
          resolveReply({ status: 0, body: '', error: error.code ?? error.name }),
        );
      },
    );
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error('timed out'), { code: 'TimeoutError' })),
    );
    request.on('error', (error: NodeJS.ErrnoException) =>
      resolveReply({ status: 0, body: '', error: error.code ?? error.name }),
    );
  });
}

/** Registers hosts through the JSON API (the registration limit is raised by startApiProcess). */
export async function registerHosts(
  baseUrl: string,
  names: readonly string[],
  password: string,
): Promise<void> {
  noteSecret(password);
  for (const name of names) {
    const response = await fetch(`${baseUrl}/api/v1/hosts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hostname: name, password }),
    });
    if (response.status !== 201)
      throw new Error(`registering ${name}: ${response.status} ${await response.text()}`);
  }
}

/** Runs `work` for each item with at most `concurrency` in flight; results in item order. */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
