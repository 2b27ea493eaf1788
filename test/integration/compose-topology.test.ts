import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPowerDnsClient, findPdnsServer, type PowerDnsClient } from '@mydns/powerdns';
import { createLogger, type Supervised, supervise, waitUntilReady } from '@mydns/runtime';
import pg from 'pg';
import {
  type ComposeConfig,
  commandOf,
  dotEnvFromExample,
  environmentOf,
  healthcheckOf,
  loadComposeConfig,
  mountSource,
  nativeCaddyConfig,
  parsePdnsSettings,
  REPO_ROOT,
  runCommand,
  runPsqlScript,
  service,
} from '../support/compose.ts';
import { createDnsQuery } from '../support/dns.ts';
import { harness } from '../support/harness.ts';
import { basic } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

/**
 * docker-compose.yml, run natively: every service of the file, each from what
 * the file itself says (command, environment, mounted configuration, health
 * check), on loopback and free ports. Only what cannot be the same outside a
 * container is overridden: host names and ports of the other services,
 * database and role names (the run's Postgres is shared), and wildcard listen
 * addresses, which here would expose the servers on every interface.
 *
 *   postgres    the run's Postgres, prepared by the init script's own SQL and
 *               PowerDNS schema; its health check (pg_isready) as written
 *   pdns        pdns_server on the very pdns/pdns.conf, with the compose
 *               command's --api-key and environment; its health check
 *               (pdns_control rping) with the socket folder
 *   migrate     its command, `npm run cli -- migrate`, on a fresh database
 *   api         its command and environment; its health check as written
 *   caddy       the Caddyfile, adapted by Caddy and run with Caddy
 *   smtp-relay  its command and environment; its health check as written
 */

/** The `replica` profile's two are run natively by test/integration/replica-path.test.ts. */
const SERVICES = [
  'api',
  'caddy',
  'migrate',
  'pdns',
  'pdns-replica',
  'postgres',
  'postgres-replica',
  'smtp-relay',
];
const ZONE_FROM_EXAMPLE = 'mydns.test';
const RELAY_MAIN = join(REPO_ROOT, 'apps/smtp-relay/src/main.ts');

interface HttpReply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP(S) request from a chosen local address (Caddy and PowerDNS see it as the client). */
function httpCall(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
    ca?: string;
    servername?: string;
  } = {},
): Promise<HttpReply> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolveCall, reject) => {
    const req = send(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        headers: options.headers,
        timeout: 5000,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        ...(options.ca ? { ca: options.ca } : {}),
        ...(options.servername ? { servername: options.servername } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolveCall({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The first bytes an SMTP server sends. */
function smtpGreeting(port: number): Promise<string> {
  return new Promise((resolveGreeting, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(5000, () => socket.destroy(new Error('no SMTP greeting within 5 s')));
    socket.once('data', (data) => {
      socket.end('QUIT\r\n');
      resolveGreeting(data.toString('utf8'));
    });
    socket.on('error', reject);
  });
}

/** Stops a wait at once when the service it waits for has exited. */
const unlessExited = (name: string, server: Supervised) => () =>
  server.child.exitCode === null && server.child.signalCode === null
    ? undefined
    : `${name} exited:\n${server.recentOutput()}`;

describe('the docker compose topology, run natively', { timeout: 240_000 }, () => {
  const logger = createLogger({ level: 'debug', format: 'pretty', silent: !process.env.TEST_LOG });
  const suffix = randomBytes(4).toString('hex');
  // The compose file's names are pdns/pdns and mydns/mydns; the run's Postgres is shared, so ours are unique.
  const names = {
    pdns_user: `pdns_${suffix}`,
    pdns_db: `pdns_${suffix}`,
    app_user: `mydns_${suffix}`,
    app_db: `mydns_${suffix}`,
  };
  const secrets = {
    POSTGRES_PASSWORD: randomBytes(16).toString('hex'),
    // Characters that would break a URL or a libpq connection string: PGPASSWORD carries them intact.
    MYDNS_DB_PASSWORD: `app ${randomBytes(8).toString('hex')} '"@/:?`,
    PDNS_DB_PASSWORD: `pdns ${randomBytes(8).toString('hex')} '"@/:?`,
    PDNS_API_KEY: randomBytes(24).toString('hex'),
  };
  const started: Supervised[] = [];
  let dir: string;
  let compose: ComposeConfig;
  let pgHost: string;
  let pgPort: string;
  let dnsPort: number;
  let pdnsApiPort: number;
  let pdnsClient: PowerDnsClient;
  let apiPort: number;

  /** The native environment of a compose service: its own, what the Dockerfile sets, and the overrides. */
  const nativeEnv = (name: string, overrides: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: dir,
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    ...environmentOf(service(compose, name)),
    ...overrides,
  });

  /** The compose DATABASE_URL, pointed at this run's Postgres and our role and database. */
  const nativeDatabaseUrl = (composeUrl: string | undefined): string => {
    assert.ok(composeUrl, 'the service has a DATABASE_URL');
    const url = new URL(composeUrl);
    assert.equal(url.password, '', 'the password travels in PGPASSWORD, not in the URL');
    assert.equal(`${url.hostname}:${url.port}${url.pathname}`, 'postgres:5432/mydns');
    url.hostname = pgHost;
    url.port = pgPort;
    url.username = names.app_user;
    url.pathname = `/${names.app_db}`;
    return url.toString();
  };

  const start = (name: string, command: string[], env: NodeJS.ProcessEnv): Supervised => {
    const [file, ...args] = command;
    assert.ok(file, `${name} has a command`);
    const child = supervise(file, args, { name, logger, env, cwd: REPO_ROOT });
    started.push(child);
    return child;
  };

  const adminClient = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: harness().postgresUrl });
    await client.connect();
    return client;
  };

  /** PowerDNS's database as the pdns role, with its password, as PowerDNS and the init script use it. */
  const pdnsDbClient = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      host: pgHost,
      port: Number(pgPort),
      user: names.pdns_user,
      password: secrets.PDNS_DB_PASSWORD,
      database: names.pdns_db,
    });
    await client.connect();
    return client;
  };

  /** One query in PowerDNS's database, as the pdns role. */
  const queryPdnsDb = async <T extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> => {
    const client = await pdnsDbClient();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };

  before(async () => {
    dir = mkdtempSync(join(harness().workDir, 'compose-'));
    compose = await loadComposeConfig(dotEnvFromExample(secrets), dir);
    const admin = new URL(harness().postgresUrl);
    pgHost = admin.hostname;
    pgPort = admin.port || '5432';
  });

  after(async () => {
    for (const child of started.reverse()) await child.stop('SIGTERM', 15_000);
    const admin = await adminClient();
    try {
      for (const db of [names.pdns_db, names.app_db]) {
        await admin.query(`drop database if exists ${admin.escapeIdentifier(db)} with (force)`);
      }
      for (const role of [names.pdns_user, names.app_user]) {
        await admin.query(`drop role if exists ${admin.escapeIdentifier(role)}`);
      }
    } finally {
      await admin.end();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the compose file has exactly the services this test runs', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), SERVICES);
    assert.deepEqual(service(compose, 'caddy').profiles, ['https']);
    assert.match(service(compose, 'pdns').image ?? '', /^powerdns\/pdns-auth-49:4\.9\.\d+$/);
    // The replica path: the same PowerDNS and Postgres images, on the file replica-path.test.ts runs.
    for (const name of ['pdns-replica', 'postgres-replica'])
      assert.deepEqual(service(compose, name).profiles, ['replica']);
    assert.equal(service(compose, 'pdns-replica').image, service(compose, 'pdns').image);
    assert.equal(service(compose, 'postgres-replica').image, service(compose, 'postgres').image);
    assert.equal(
      mountSource(service(compose, 'pdns-replica'), '/etc/powerdns/pdns.conf'),
      join(REPO_ROOT, 'pdns/pdns-replica.conf'),
    );
    const replicaConf = parsePdnsSettings(readFileSync(join(REPO_ROOT, 'pdns/pdns-replica.conf'), 'utf8'));
    assert.equal(replicaConf.get('gpgsql-host'), 'postgres-replica');
    assert.equal(
      replicaConf.get('gpgsql-dbname'),
      parsePdnsSettings(readFileSync(join(REPO_ROOT, 'pdns/pdns.conf'), 'utf8')).get('gpgsql-dbname'),
    );
  });

  test('postgres: the init script creates the roles and databases and loads the PowerDNS schema', async () => {
    const postgres = service(compose, 'postgres');
    const initdb = mountSource(postgres, '/docker-entrypoint-initdb.d');
    assert.equal(initdb, join(REPO_ROOT, 'deploy/postgres/initdb'));
    const script = readFileSync(join(initdb, '10-mydns.sh'), 'utf8');
    // The statements below are the files the script runs, in its order.
    const roles = script.indexOf('"$sql/roles.sql"');
    const schema = script.indexOf('"$sql/pdns-schema.pgsql.sql"');
    const triggers = script.indexOf('"$sql/pdns-keep-ordernames.pgsql.sql"');
    assert.ok(
      roles > 0 && schema > roles && triggers > schema,
      '10-mydns.sh runs sql/roles.sql, then sql/pdns-schema.pgsql.sql, then sql/pdns-keep-ordernames.pgsql.sql',
    );
    // Its names are the ones pdns/pdns.conf and the apps' DATABASE_URL use.
    const scriptNames = Object.fromEntries(
      [...script.matchAll(/--set (\w+_(?:user|db))=(\w+)/g)].map((match) => [match[1], match[2]]),
    );
    const pdnsConf = parsePdnsSettings(readFileSync(join(REPO_ROOT, 'pdns/pdns.conf'), 'utf8'));
    const appUrl = new URL(environmentOf(service(compose, 'api')).DATABASE_URL ?? '');
    assert.deepEqual(scriptNames, {
      pdns_user: pdnsConf.get('gpgsql-user'),
      pdns_db: pdnsConf.get('gpgsql-dbname'),
      app_user: appUrl.username,
      app_db: appUrl.pathname.slice(1),
    });
    const env = environmentOf(postgres);

    const admin = await adminClient();
    try {
      await runPsqlScript(admin, readFileSync(join(initdb, 'sql/roles.sql'), 'utf8'), {
        ...names,
        pdns_password: env.PDNS_DB_PASSWORD ?? '',
        app_password: env.MYDNS_DB_PASSWORD ?? '',
      });
    } finally {
      await admin.end();
    }
    assert.equal(env.PDNS_DB_PASSWORD, secrets.PDNS_DB_PASSWORD);

    // As the pdns role with its password, as the script does: PowerDNS owns its tables.
    const pdnsDb = await pdnsDbClient();
    try {
      for (const file of ['sql/pdns-schema.pgsql.sql', 'sql/pdns-keep-ordernames.pgsql.sql'])
        await pdnsDb.query(readFileSync(join(initdb, file), 'utf8'));
      const tables = await pdnsDb.query<{ tablename: string; tableowner: string }>(
        "select tablename, tableowner from pg_tables where schemaname = 'public' order by tablename",
      );
      assert.deepEqual(
        tables.rows.map((row) => row.tablename),
        [
          'comments',
          'cryptokeys',
          'domainmetadata',
          'domains',
          'mydns_kept_ordernames',
          'mydns_rectify_asked',
          'records',
          'supermasters',
          'tsigkeys',
        ],
      );
      assert.ok(tables.rows.every((row) => row.tableowner === names.pdns_user));
    } finally {
      await pdnsDb.end();
    }

    // Each role keeps to its own database.
    const stray = new pg.Client({
      host: pgHost,
      port: Number(pgPort),
      user: names.app_user,
      password: secrets.MYDNS_DB_PASSWORD,
      database: names.pdns_db,
    });
    await assert.rejects(stray.connect(), /permission denied/);
  });

  test('postgres: the health check (pg_isready) passes', async () => {
    const [file, ...args] = healthcheckOf(service(compose, 'postgres'));
    assert.equal(file, 'pg_isready');
    assert.ok(args.includes('--host=127.0.0.1'), 'checked over TCP');
    const nativeArgs = args.map((arg) => (arg === '--host=127.0.0.1' ? `--host=${pgHost}` : arg));
    const result = await runCommand(file, nativeArgs, { env: { PATH: process.env.PATH, PGPORT: pgPort } });
    assert.equal(
      result.code,
      0,
      `pg_isready (apt-get install postgresql-client): ${result.stdout}${result.stderr}`,
    );
  });

  test('pdns: pdns_server runs on pdns/pdns.conf itself; the health check (pdns_control rping) answers', async () => {
    const pdns = service(compose, 'pdns');
    const confFile = mountSource(pdns, '/etc/powerdns/pdns.conf');
    assert.equal(confFile, join(REPO_ROOT, 'pdns/pdns.conf'));
    const binary = findPdnsServer();
    assert.ok(binary, 'pdns_server is installed (apt-get install pdns-server pdns-backend-pgsql)');

    const pdnsDir = join(dir, 'pdns');
    mkdirSync(pdnsDir, { mode: 0o700 });
    writeFileSync(join(pdnsDir, 'pdns.conf'), readFileSync(confFile));
    dnsPort = await freePort();
    pdnsApiPort = await freePort();
    const command = commandOf(pdns);
    assert.deepEqual(command, [`--api-key=${secrets.PDNS_API_KEY}`]);
    const server = start(
      'pdns',
      [
        binary,
        `--config-dir=${pdnsDir}`,
        ...command,
        // What differs outside a container (every other line of the file stays as it is).
        `--gpgsql-host=${pgHost}`,
        `--gpgsql-port=${pgPort}`,
        `--gpgsql-dbname=${names.pdns_db}`,
        `--gpgsql-user=${names.pdns_user}`,
        '--local-address=127.0.0.1',
        `--local-port=${dnsPort}`,
        '--webserver-address=127.0.0.1',
        `--webserver-port=${pdnsApiPort}`,
        `--socket-dir=${pdnsDir}`,
      ],
      nativeEnv('pdns'),
    );
    pdnsClient = createPowerDnsClient({
      apiUrl: `http://127.0.0.1:${pdnsApiPort}`,
      apiKey: secrets.PDNS_API_KEY,
      timeoutMs: 2000,
    });
    await waitUntilReady(async () => Boolean(await pdnsClient.serverInfo()), {
      timeoutMs: 30_000,
      process: server,
      what: 'pdns_server',
    });

    const [file, ...args] = healthcheckOf(pdns);
    assert.deepEqual([file, ...args], ['pdns_control', 'rping']);
    const ping = await runCommand(file, [`--config-dir=${pdnsDir}`, `--socket-dir=${pdnsDir}`, ...args], {
      env: { PATH: `${process.env.PATH}:/usr/bin:/usr/sbin` },
    });
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal(ping.stdout.trim(), 'PONG');

    // Every setting of the file is in force, except the ones overridden above.
    const current = await runCommand(
      file,
      [`--config-dir=${pdnsDir}`, `--socket-dir=${pdnsDir}`, 'current-config'],
      { env: { PATH: `${process.env.PATH}:/usr/bin:/usr/sbin` } },
    );
    assert.equal(current.code, 0, current.stderr);
    const running = parsePdnsSettings(current.stdout);
    const overridden = new Set([
      'gpgsql-host',
      'gpgsql-port',
      'gpgsql-dbname',
      'gpgsql-user',
      'local-address',
      'local-port',
      'webserver-address',
      'webserver-port',
    ]);
    const fromFile = parsePdnsSettings(readFileSync(confFile, 'utf8'));
    assert.equal(fromFile.get('default-api-rectify'), 'no');
    assert.equal(fromFile.get('launch'), 'gpgsql');
    for (const [key, value] of fromFile) {
      if (!overridden.has(key)) assert.equal(running.get(key), value, `${key} from pdns/pdns.conf`);
    }
  });

  test('migrate: `npm run cli -- migrate` migrates the fresh database', async () => {
    const command = commandOf(service(compose, 'migrate'));
    assert.deepEqual(command, ['npm', 'run', 'cli', '--', 'migrate']);
    const env = nativeEnv('migrate');
    env.DATABASE_URL = nativeDatabaseUrl(env.DATABASE_URL);
    assert.equal(env.PGPASSWORD, secrets.MYDNS_DB_PASSWORD);
    const [file, ...args] = command;
    const result = await runCommand(file, args, { env, timeoutMs: 120_000 });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /migrations are up to date/);

    const app = new pg.Client({
      host: pgHost,
      port: Number(pgPort),
      user: names.app_user,
      password: secrets.MYDNS_DB_PASSWORD,
      database: names.app_db,
    });
    await app.connect();
    try {
      const applied = await app.query('select count(*)::int as n from knex_migrations');
      assert.ok((applied.rows[0] as { n: number }).n > 0, 'migrations were recorded');
      const hosts = await app.query<{ tableowner: string }>(
        "select tableowner from pg_tables where tablename = 'hosts'",
      );
      assert.equal(hosts.rows[0]?.tableowner, names.app_user);
    } finally {
      await app.end();
    }
  });

  test('api: starts with the compose environment, and its health check passes once it is ready', async () => {
    const api = service(compose, 'api');
    apiPort = await freePort();
    const composed = environmentOf(api);
    assert.equal(composed.MYDNS_PDNS_API_URL, 'http://pdns-api:8081');
    assert.equal(composed.MYDNS_PDNS_API_KEY, secrets.PDNS_API_KEY);
    assert.equal(composed.MYDNS_HTTP_PORT, '8080');
    assert.equal(composed.MYDNS_HTTP_ADDRESS, '0.0.0.0');
    assert.equal(composed.MYDNS_TRUSTED_PROXIES, '10.253.80.2');
    assert.equal(composed.NODE_ENV, 'production');
    const apiEnv = nativeEnv('api', {
      DATABASE_URL: nativeDatabaseUrl(composed.DATABASE_URL),
      MYDNS_PDNS_API_URL: `http://127.0.0.1:${pdnsApiPort}`,
      MYDNS_HTTP_PORT: String(apiPort),
      MYDNS_HTTP_ADDRESS: '127.0.0.1',
      // Caddy (below) reaches the api from loopback, not from its fixed container address.
      MYDNS_TRUSTED_PROXIES: '127.0.0.1',
    });

    const [checkFile, ...checkArgs] = healthcheckOf(api);
    assert.equal(checkFile, 'node', 'the image has node, not curl');
    const healthcheck = () => runCommand(checkFile, checkArgs, { env: apiEnv, timeoutMs: 10_000 });
    assert.notEqual((await healthcheck()).code, 0, 'unhealthy before the api listens');

    const server = start('api', commandOf(api), apiEnv);
    let last = { code: -1, stdout: '', stderr: '' };
    await waitFor(
      async () => {
        last = await healthcheck();
        return last.code === 0;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        message: () =>
          `the api health check to pass; last check: ${last.stderr}\napi output:\n${server.recentOutput()}`,
        giveUp: unlessExited('the api', server),
      },
    );
    const ready = await httpCall(`http://127.0.0.1:${apiPort}/readyz`);
    assert.equal(ready.status, 200);
  });

  test('an update end to end: register, /nic/update, and the answer from pdns_server', async () => {
    const base = `http://127.0.0.1:${apiPort}`;
    const registered = await httpCall(`${base}/api/v1/hosts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hostname: 'alice', password: 'compose-secret-1' }),
    });
    assert.equal(registered.status, 201, registered.body);

    const host = `alice.${ZONE_FROM_EXAMPLE}`;
    const update = await httpCall(`${base}/nic/update?hostname=${host}&myip=93.184.216.34`, {
      headers: { authorization: basic('alice', 'compose-secret-1') },
    });
    assert.equal(update.status, 200);
    assert.equal(update.body.trim(), 'good 93.184.216.34');
    assert.deepEqual(await createDnsQuery(dnsPort).a(host), ['93.184.216.34']);

    // gpgsql's triggers (sql/pdns-keep-ordernames.pgsql.sql): an address change of a name that
    // exists keeps its NSEC3 order name and is not rectified; every row has its order name.
    // (There and back: the Caddy test below expects the address above.)
    for (const address of ['93.184.216.33', '93.184.216.34']) {
      const again = await httpCall(`${base}/nic/update?hostname=${host}&myip=${address}`, {
        headers: { authorization: basic('alice', 'compose-secret-1') },
      });
      assert.equal(again.body.trim(), `good ${address}`);
    }
    const rows = await queryPdnsDb<{ unordered: number; rectify: string | null }>(
      `select (select count(*)::int from records r where r.domain_id = d.id and r.type is not null
                 and r.ordername is null) as unordered,
              (select content from domainmetadata m where m.domain_id = d.id
                 and m.kind = 'API-RECTIFY') as rectify
         from domains d where d.name = $1`,
      [ZONE_FROM_EXAMPLE],
    );
    assert.deepEqual(rows, [{ unordered: 0, rectify: '0' }]);
  });

  test('pdns.conf is in force: no rectify on API changes of an unsigned zone, DNSSEC in the database, and the API refuses other addresses', async () => {
    // gpgsql-dnssec: MyDNS's zone is signed (its own API-RECTIFY rectifies each of its PATCHes).
    assert.equal((await pdnsClient.zoneInfo(ZONE_FROM_EXAMPLE)).dnssec, true);
    assert.equal((await pdnsClient.cryptoKeys(ZONE_FROM_EXAMPLE)).length > 0, true);
    // Rectify would add an empty-non-terminal row for ent.<zone>; with default-api-rectify=no an
    // unsigned zone gets none.
    const unsigned = `unsigned-${ZONE_FROM_EXAMPLE}`;
    await pdnsClient.createZone({ name: unsigned, kind: 'Native', nameservers: [`ns1.${unsigned}`] });
    const name = `x.ent.${unsigned}`;
    await pdnsClient.patchZone(unsigned, [{ name, type: 'A', ttl: 60, records: ['192.0.2.1'] }]);
    const rows = await queryPdnsDb<{ name: string; type: string | null }>(
      `select r.name, r.type from records r join domains d on d.id = r.domain_id
        where d.name = $1 and r.name like $2 order by r.name`,
      [unsigned, `%ent.${unsigned}`],
    );
    assert.deepEqual(rows, [{ name, type: 'A' }]);
    await pdnsClient.deleteZone(unsigned);

    // webserver-allow-from: loopback is listed (for use inside the container), 127.0.0.2 is not.
    const url = `http://127.0.0.1:${pdnsApiPort}/api/v1/servers/localhost`;
    const headers = { 'X-API-Key': secrets.PDNS_API_KEY };
    assert.equal((await httpCall(url, { headers })).status, 200);
    await assert.rejects(httpCall(url, { headers, localAddress: '127.0.0.2' }), /ECONNRESET|socket hang up/);
  });

  test('caddy: the Caddyfile passes updates over plain HTTP, redirects the rest, and serves HTTPS', async () => {
    const caddy = service(compose, 'caddy');
    const caddyfile = mountSource(caddy, '/etc/caddy/Caddyfile');
    assert.equal(caddyfile, join(REPO_ROOT, 'deploy/caddy/Caddyfile'));
    // The api trusts X-Forwarded-For from Caddy's fixed address on the proxy network.
    assert.equal(
      (caddy as { networks?: Record<string, { ipv4_address?: string }> }).networks?.proxy?.ipv4_address,
      environmentOf(service(compose, 'api')).MYDNS_TRUSTED_PROXIES,
    );
    const caddyBinary = ['/usr/bin/caddy', '/usr/local/bin/caddy'].find((path) => existsSync(path));
    assert.ok(caddyBinary, 'caddy is installed (apt-get install caddy)');

    const caddyDir = join(dir, 'caddy');
    mkdirSync(caddyDir);
    // No public name here: "localhost" gets a certificate from Caddy's own local CA instead of ACME.
    const env = {
      ...nativeEnv('caddy', { MYDNS_WEB_HOST: 'localhost' }),
      XDG_DATA_HOME: caddyDir,
      XDG_CONFIG_HOME: caddyDir,
    };
    const adapted = await runCommand(
      caddyBinary,
      ['adapt', '--config', caddyfile, '--adapter', 'caddyfile'],
      {
        env,
      },
    );
    assert.equal(adapted.code, 0, adapted.stderr);
    const httpPort = await freePort();
    const httpsPort = await freePort();
    const config = nativeCaddyConfig(JSON.parse(adapted.stdout), {
      replacements: {
        ':80': `127.0.0.1:${httpPort}`,
        ':443': `127.0.0.1:${httpsPort}`,
        'api:8080': `127.0.0.1:${apiPort}`,
      },
      httpPort,
      httpsPort,
      adminPort: await freePort(),
      storageDir: join(caddyDir, 'storage'),
    });
    writeFileSync(join(caddyDir, 'caddy.json'), JSON.stringify(config));
    const server = start('caddy', [caddyBinary, 'run', '--config', join(caddyDir, 'caddy.json')], env);
    const plain = `http://127.0.0.1:${httpPort}`;
    await waitFor(async () => (await httpCall(`${plain}/checkip`)).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'Caddy to answer',
      giveUp: unlessExited('caddy', server),
    });

    // The api sees the client's address through Caddy, never one the client claims.
    const checkip = await httpCall(`${plain}/checkip`, {
      localAddress: '127.0.0.9',
      headers: { 'X-Forwarded-For': '203.0.113.66' },
    });
    assert.match(checkip.body, /Current IP Address: 127\.0\.0\.9\b/);

    const host = `alice.${ZONE_FROM_EXAMPLE}`;
    const update = await httpCall(`${plain}/nic/update?hostname=${host}&myip=93.184.216.35`, {
      headers: { authorization: basic('alice', 'compose-secret-1') },
    });
    assert.equal(update.body.trim(), 'good 93.184.216.35');
    assert.deepEqual(await createDnsQuery(dnsPort).a(host), ['93.184.216.35']);

    const page = await httpCall(`${plain}/api/v1/hosts/alice`);
    assert.equal(page.status, 308);
    assert.equal(page.headers.location, 'https://localhost/api/v1/hosts/alice');

    const rootCa = join(caddyDir, 'storage/pki/authorities/local/root.crt');
    await waitFor(() => existsSync(rootCa), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: "Caddy's local CA",
    });
    let secure: HttpReply | undefined;
    await waitFor(
      async () => {
        secure = await httpCall(`https://127.0.0.1:${httpsPort}/readyz`, {
          headers: { host: 'localhost' },
          servername: 'localhost',
          ca: readFileSync(rootCa, 'utf8'),
        });
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'HTTPS through Caddy' },
    );
    assert.equal(secure?.status, 200);
  });

  test('smtp-relay: greets with 220, and its health check passes', async (t) => {
    const relay = service(compose, 'smtp-relay');
    assert.deepEqual(commandOf(relay), ['node', '--import', 'tsx', 'apps/smtp-relay/src/main.ts']);
    assert.equal(environmentOf(relay).MYDNS_SMTP_PORT, '25');
    assert.equal(environmentOf(relay).MYDNS_SMTP_ADDRESS, '0.0.0.0');
    if (!existsSync(RELAY_MAIN)) {
      // Built concurrently: the service runs here as soon as its entry point exists.
      t.diagnostic('apps/smtp-relay/src/main.ts does not exist yet: the smtp-relay service was not run');
      return;
    }
    const port = await freePort();
    const env = nativeEnv('smtp-relay', {
      DATABASE_URL: nativeDatabaseUrl(environmentOf(relay).DATABASE_URL),
      MYDNS_SMTP_ADDRESS: '127.0.0.1',
      MYDNS_SMTP_PORT: String(port),
    });
    const server = start('smtp-relay', commandOf(relay), env);
    const [checkFile, ...checkArgs] = healthcheckOf(relay);
    let last = { code: -1, stdout: '', stderr: '' };
    await waitFor(
      async () => {
        last = await runCommand(checkFile, checkArgs, { env, timeoutMs: 10_000 });
        return last.code === 0;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        message: () =>
          `the smtp-relay health check to pass; last check: ${last.stderr}\nrelay output:\n${server.recentOutput()}`,
        giveUp: unlessExited('the smtp-relay', server),
      },
    );
    assert.match(await smtpGreeting(port), /^220[ -]/);
  });
});
