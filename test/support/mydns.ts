import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createPowerDnsClient, type PowerDnsClient } from '@mydns/powerdns';
import { createLogger, createShutdown } from '@mydns/runtime';
import pg from 'pg';
import { type Config, loadConfig } from '../../apps/api/src/config.ts';
import { type RunningMyDns, startMyDns } from '../../apps/api/src/server.ts';
import { createDnsQuery, type DnsQuery } from './dns.ts';
import { harness, TEMPLATE_DATABASE } from './harness.ts';
import { noteSecret, noteSecretsOf } from './secrets.ts';

export interface PowerDnsTarget {
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly dnsPort: number;
}

export interface TestMyDns extends RunningMyDns {
  readonly zone: string;
  readonly databaseUrl: string;
  readonly pdns: PowerDnsClient;
  readonly query: DnsQuery;
  /** Registers a host through the HTTP API. */
  createHost(name: string, password: string): Promise<void>;
  /** GET (or another method) on the API with optional Basic credentials. */
  request(
    path: string,
    options?: RequestOptions,
  ): Promise<{ status: number; body: string; headers: Headers }>;
  /** The records PowerDNS holds for `<label>.<zone>` of `type`. */
  records(label: string, type: 'A' | 'AAAA' | 'MX'): Promise<string[]>;
  stop(): Promise<void>;
}

export interface RequestOptions {
  auth?: [string, string];
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A fresh database cloned from the migrated template. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const { postgresUrl } = harness();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create database ${name} template ${TEMPLATE_DATABASE}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

export function uniqueZone(): string {
  return `z${randomBytes(5).toString('hex')}.test`;
}

/**
 * A MyDNS API in this process, on a free loopback port, with its own database
 * and zone, against the run's shared PowerDNS (or the one given). Settings
 * can be overridden by name, exactly as an operator would set them.
 */
export async function startTestMyDns(
  options: {
    env?: Record<string, string>;
    powerdns?: PowerDnsTarget;
    /**
     * A database the test owns (a restart on the same data): then stop() leaves
     * it and the zones in PowerDNS alone, for the next start to find.
     */
    database?: { url: string };
  } = {},
): Promise<TestMyDns> {
  const h = harness();
  const target = options.powerdns ?? { apiUrl: h.pdnsApiUrl, apiKey: h.pdnsApiKey, dnsPort: h.dnsPort };
  const owned = options.database === undefined;
  const database = options.database ?? (await createTestDatabase());
  // The default zone: MYDNS_ZONE's, or the first of MYDNS_ZONES, or a fresh one.
  const zones = options.env?.MYDNS_ZONES;
  const zone = options.env?.MYDNS_ZONE ?? zones?.split(',')[0]?.trim() ?? uniqueZone();
  const loaded = loadConfig({
    DATABASE_URL: database.url,
    ...(zones === undefined ? { MYDNS_ZONE: zone } : {}),
    MYDNS_PDNS_API_URL: target.apiUrl,
    MYDNS_PDNS_API_KEY: target.apiKey,
    MYDNS_BCRYPT_COST: '4',
    MYDNS_BCRYPT_THREADS: '2',
    MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true',
    MYDNS_DB_POOL_SIZE: '5',
    MYDNS_REGISTRATION_LIMIT: '10000/1h',
    // Tests send many cold logins at once from 127.0.0.1; the tests of the limits set their own.
    MYDNS_LOGIN_FAILURE_LIMIT: '100000/10m',
    MYDNS_LOGIN_HOST_FAILURE_LIMIT: '100000/10m',
    MYDNS_BCRYPT_QUEUE: '10000',
    // A loaded test machine can hold a PATCH for seconds: an update that is not about push
    // timeouts should not answer dnserr for that. The tests of the timeout set their own.
    MYDNS_PUSH_TIMEOUT: '15s',
    MYDNS_DATA_DIR: h.workDir,
    ...options.env,
  });
  const config: Config = { ...loaded, http: { port: 0, address: '127.0.0.1' } };
  // Everything at debug level goes to the run's log file, which test/run.ts
  // searches for secrets afterwards.
  const logFile = process.env.MYDNS_TEST_LOG_FILE;
  const logger = createLogger({
    level: process.env.TEST_LOG || logFile ? 'debug' : 'error',
    format: 'pretty',
    silent: !process.env.TEST_LOG,
    ...(logFile ? { file: logFile } : {}),
  });
  const shutdown = createShutdown(logger);
  let running: RunningMyDns;
  try {
    running = await startMyDns(config, logger, shutdown);
  } catch (error) {
    // A refused start stops what it had started; a database of our own goes with it.
    await shutdown.run('start failed');
    if (owned) await (database as unknown as { drop(): Promise<void> }).drop();
    throw error;
  }
  const pdns = createPowerDnsClient({ apiUrl: target.apiUrl, apiKey: target.apiKey });
  noteSecret(target.apiKey);
  const query = createDnsQuery(target.dnsPort);

  const request: TestMyDns['request'] = async (path, requestOptions = {}) => {
    const headers: Record<string, string> = { ...requestOptions.headers };
    if (requestOptions.auth) headers.authorization = basic(...requestOptions.auth);
    noteSecretsOf(path, requestOptions.auth, requestOptions.body);
    const response = await fetch(`${running.url}${path}`, {
      method: requestOptions.method ?? 'GET',
      headers,
      ...(requestOptions.body === undefined ? {} : { body: requestOptions.body }),
    });
    return { status: response.status, body: await response.text(), headers: response.headers };
  };

  return {
    ...running,
    zone,
    databaseUrl: database.url,
    pdns,
    query,
    request,
    async createHost(name, password) {
      const response = await request('/api/v1/hosts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hostname: name, password }),
      });
      if (response.status !== 201) throw new Error(`creating ${name}: ${response.status} ${response.body}`);
    },
    async records(label, type) {
      const rrsets = await pdns.listRrsets(zone, { name: `${label}.${zone}`, type });
      return rrsets
        .filter((r) => r.type === type)
        .flatMap((r) => r.records)
        .sort();
    },
    async stop() {
      await shutdown.run('test finished');
      if (!owned) return;
      for (const served of running.config.zones) await pdns.deleteZone(served).catch(() => undefined);
      await (database as unknown as { drop(): Promise<void> }).drop();
    },
  };
}

/** Sends `request` as raw bytes and reads the reply until the server closes (as ddclient 3.10 and inadyn do). */
export function rawHttp(port: number, request: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of reply within ${timeoutMs} ms; got: ${Buffer.concat(chunks).toString()}`));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.write(request);
  });
}
