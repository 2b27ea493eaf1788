import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPowerDnsClient, type ManagedPowerDns, startManagedPowerDns } from '@mydns/powerdns';
import { createLogger, isProcessAlive } from '@mydns/runtime';
import pg from 'pg';
import { USAGE } from '../../apps/api/src/cli/args.ts';
import { harness } from '../support/harness.ts';
import { createTestDatabase, startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
import { startMyDnsProcess, waitForOutput } from '../support/npm-start.ts';
import { freePort } from '../support/ports.ts';
import { runProgram } from '../support/programs.ts';
import { noteSecret } from '../support/secrets.ts';
import { waitFor } from '../support/wait.ts';
import { createWebClient } from '../support/web-client.ts';

/**
 * `npm run cli` as an operator meets it: help, usage errors, a data folder
 * that holds no database, a mistyped setting, `host password`, and the
 * managed PowerDNS of a running `npm start` found through the data folder.
 * (test/integration/start-and-cli.test.ts runs the CLI beside `npm start`.)
 */

const root = resolve(import.meta.dirname, '../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const cli = join(root, 'apps/api/src/cli.ts');

const runCli = (args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; input?: string }) =>
  runProgram(tsx, [cli, ...args], {
    cwd: options.cwd ?? root,
    env: options.env,
    timeoutMs: 90_000,
    ...(options.input === undefined ? {} : { input: options.input }),
  });

const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });

/** A folder of its own under the run's work folder, reachable by the embedded Postgres's user. */
function folder(prefix: string): string {
  const dir = mkdtempSync(join(harness().workDir, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

const eventually = (what: string, check: () => Promise<boolean>) =>
  waitFor(check, { message: what, timeoutMs: 15_000 });

describe('help and usage errors', () => {
  test('--help, -h and help print the usage on stdout and exit 0, needing no database', async () => {
    // A data folder with nothing in it: help must not look at it.
    const empty = folder('cli-help-');
    const env = { ...baseEnv(), MYDNS_DATA_DIR: empty };
    const lines = [['--help'], ['-h'], ['help'], ['host', '--help'], ['host', 'password', 'alice', '-h']];
    const results = await Promise.all(lines.map((args) => runCli(args, { env })));
    results.forEach((result, i) => {
      const line = (lines[i] ?? []).join(' ');
      assert.equal(result.code, 0, `${line}: ${result.stderr}`);
      assert.equal(result.stdout, `${USAGE}\n`, line);
      assert.equal(result.stderr, '', line);
    });
    assert.match(USAGE, /^ {2}host password <name> \[--password-stdin\]$/m);
    assert.match(USAGE, /^ {2}host release <name>/m);
    assert.deepEqual(readdirSync(empty), []);
  });

  test('a command line the CLI cannot run: the problem, the usage on stderr, exit 2', async () => {
    const env = { ...baseEnv(), MYDNS_DATA_DIR: folder('cli-usage-') };
    const cases: [string[], string][] = [
      [[], 'no command given'],
      [['frob'], 'unknown command "frob"'],
      [['host', 'frob'], 'unknown host command "frob"'],
      [['host', 'password'], 'host password takes one name'],
      [['host', 'create', 'a', '--email'], '--email needs a value'],
      [['reconcile', 'now'], 'reconcile takes only --dry-run'],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, { env })));
    results.forEach((result, i) => {
      const [args, message] = cases[i] ?? [[], ''];
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, `mydns: ${message}\n${USAGE}\n`, args.join(' '));
    });
  });
});

describe('a data folder that holds no database', () => {
  test('every command but migrate refuses it in one line naming the folder, and creates nothing', async () => {
    const empty = folder('cli-empty-');
    const commands = [
      ['host', 'list'],
      ['host', 'show', 'alice'],
      ['host', 'create', 'alice', '--password-stdin'],
      ['host', 'password', 'alice', '--password-stdin'],
      ['host', 'expire', '--dry-run'],
      ['reconcile', '--dry-run'],
    ];
    // Given relative to the working folder, said as the absolute path it stands for.
    const env = { ...baseEnv(), MYDNS_DATA_DIR: relative(root, empty) };
    const results = await Promise.all(
      commands.map((args) => runCli(args, { env, input: 'a-password-never-used\n' })),
    );
    results.forEach((result, i) => {
      const line = (commands[i] ?? []).join(' ');
      assert.equal(result.code, 1, `${line}: ${result.stdout}${result.stderr}`);
      assert.equal(
        result.stderr,
        `mydns: the data folder ${empty} holds no MyDNS database: run \`npm start\` there first, or set MYDNS_DATA_DIR to the data folder in use (or DATABASE_URL)\n`,
        line,
      );
      assert.equal(result.stdout, '', line);
    });
    assert.deepEqual(readdirSync(empty), [], 'nothing was created in the folder');
  });

  test('a folder that does not exist is refused the same way, and stays absent', async () => {
    const missing = join(folder('cli-missing-'), 'no-such-folder');
    const result = await runCli(['host', 'list'], { env: { ...baseEnv(), MYDNS_DATA_DIR: missing } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^mydns: the data folder ${missing} holds no MyDNS database: `));
    assert.equal(existsSync(missing), false);
  });

  test('a DATABASE_URL without MyDNS tables: one line naming it without its password; nothing created', async () => {
    const { postgresUrl } = harness();
    const name = `cli_empty_${process.pid}`;
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
    try {
      const url = new URL(postgresUrl);
      url.pathname = `/${name}`;
      const result = await runCli(['host', 'list'], { env: { ...baseEnv(), DATABASE_URL: url.toString() } });
      assert.equal(result.code, 1, result.output);
      assert.equal(
        result.stderr,
        `mydns: the database at ${url.host}/${name} (DATABASE_URL) holds no MyDNS tables: run \`npm run cli -- migrate\` or \`npm start\` first, or check DATABASE_URL\n`,
      );
      if (url.password) assert.ok(!result.stderr.includes(decodeURIComponent(url.password)));
      const db = new pg.Client({ connectionString: url.toString() });
      await db.connect();
      const tables = await db.query("select count(*)::int as n from pg_tables where schemaname = 'public'");
      await db.end();
      assert.equal(tables.rows[0]?.n, 0, 'no table was created');
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  });

  test('migrate creates it (with LOG_LEVEL from .env honoured); then the other commands use it; nothing left running', async () => {
    const work = folder('cli-migrate-');
    // The CLI reads .env from its working folder, like npm start.
    writeFileSync(join(work, '.env'), 'MYDNS_DATA_DIR=data\nLOG_LEVEL=info\n');
    const migrated = await runCli(['migrate'], { env: baseEnv(), cwd: work });
    assert.equal(migrated.code, 0, migrated.output);
    assert.match(migrated.stdout, /migrations are up to date\n$/);
    // LOG_LEVEL=info came from .env: the embedded Postgres's start is told.
    assert.match(migrated.stdout, /creating a Postgres cluster in /);
    assert.ok(existsSync(join(work, 'data/postgres/PG_VERSION')));

    writeFileSync(join(work, '.env'), 'MYDNS_DATA_DIR=data\nMYDNS_ZONE=migrated.test\n');
    const listed = await runCli(['host', 'list'], { env: baseEnv(), cwd: work });
    assert.equal(listed.code, 0, listed.output);
    assert.equal(listed.stdout, 'HOSTNAME  IPV4  IPV6  STATUS  LAST SEEN\n');
    // No LOG_LEVEL: the CLI's own default (warn) keeps the start of Postgres out of its output.
    assert.equal(listed.stderr, '');

    const pidFile = join(work, 'data/postgres/postmaster.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      assert.ok(!isProcessAlive(pid), `Postgres ${pid} still runs`);
    }
  });
});

describe('mistyped settings', () => {
  let database: { url: string; drop(): Promise<void> };
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test('the CLI names each one, with the setting meant, on stderr, and goes on (environment and .env)', async () => {
    const work = folder('cli-typo-');
    writeFileSync(join(work, '.env'), `DATABASE_URL=${database.url}\nMYDNS_HTTP_PROT=9000\n`);
    // The test run's own MYDNS_TEST_* variables are in here too: they are not typos.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MYDNS_ZONEZ: 'typo.test',
      DATABSE_URL: 'postgres://x/y',
    };
    delete env.DATABASE_URL;
    const result = await runCli(['host', 'list'], { env, cwd: work });
    assert.equal(result.code, 0, result.output);
    assert.match(result.stdout, /^HOSTNAME/);
    assert.deepEqual(result.stderr.trim().split('\n'), [
      'mydns: DATABSE_URL is not a MyDNS setting; did you mean DATABASE_URL?',
      'mydns: MYDNS_HTTP_PROT is not a MyDNS setting; did you mean MYDNS_HTTP_PORT?',
      'mydns: MYDNS_ZONEZ is not a MyDNS setting; did you mean MYDNS_ZONE?',
    ]);
  });

  test('npm start logs one line for it and starts all the same', async () => {
    const { pdnsApiUrl, pdnsApiKey } = harness();
    const zone = uniqueZone();
    const port = await freePort();
    const started = startMyDnsProcess(
      {
        ...baseEnv(),
        DATABASE_URL: database.url,
        MYDNS_PDNS_API_URL: pdnsApiUrl,
        MYDNS_PDNS_API_KEY: pdnsApiKey,
        MYDNS_ZONE: zone,
        MYDNS_HTTP_PORT: String(port),
        MYDNS_RELAY_ENABLED: 'false',
        MYDNS_BCRYPT_THREADS: '1',
        MYDNS_HTTP_PROT: '9000',
      },
      'tsx',
    );
    try {
      await waitForOutput(started, /ready: try/);
      const output = started.output();
      const warnings = output.split('\n').filter((line) => line.includes('is not a MyDNS setting'));
      assert.equal(warnings.length, 1, output);
      assert.match(
        warnings[0] ?? '',
        /warn.*MYDNS_HTTP_PROT is not a MyDNS setting; did you mean MYDNS_HTTP_PORT\?/,
      );
      assert.ok(!(warnings[0] ?? '').includes('9000'), 'the value is not logged');
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      await started.stop();
      await createPowerDnsClient({ apiUrl: pdnsApiUrl, apiKey: pdnsApiKey })
        .deleteZone(zone)
        .catch(() => undefined);
    }
  });
});

describe('host password', () => {
  let mydns: TestMyDns;
  let env: NodeJS.ProcessEnv;
  const first = 'the-first-password-1';
  before(async () => {
    mydns = await startTestMyDns();
    env = { ...baseEnv(), DATABASE_URL: mydns.databaseUrl, MYDNS_ZONE: mydns.zone, MYDNS_BCRYPT_COST: '4' };
    noteSecret(first);
    await mydns.createHost('pat', first);
  });
  after(async () => {
    await mydns?.stop();
  });

  const update = (password: string) =>
    mydns.request('/u.php?hostname=pat&myip=198.51.100.71', { auth: [`pat.${mydns.zone}`, password] });

  test('generated and printed once; the old password stops working, the new one works, sessions end', async () => {
    assert.equal((await update(first)).body, 'good 198.51.100.71');
    const browser = createWebClient(mydns.url);
    await browser.get('/login');
    assert.equal((await browser.post('/login', { hostname: 'pat', password: first })).status, 303);
    assert.equal((await browser.get('/dashboard')).status, 200);

    const reset = await runCli(['host', 'password', 'pat'], { env });
    assert.equal(reset.code, 0, reset.output);
    const generated = /^password: ([A-Za-z0-9_-]{24}) {2}\(shown once; store it now\)$/m.exec(
      reset.stdout,
    )?.[1];
    assert.ok(generated, reset.stdout);
    noteSecret(generated);
    assert.match(reset.stdout, new RegExp(`^new password set for pat\\.${mydns.zone.replace('.', '\\.')};`));
    assert.equal(reset.stderr, '');

    // The running service hears of the change from Postgres (the host cache's notification).
    await eventually('the old password is refused', async () => (await update(first)).status === 401);
    assert.equal((await update(generated)).body, 'nochg 198.51.100.71');
    const dashboard = await browser.get('/dashboard');
    assert.equal(dashboard.status, 303, 'the web session ended');
    assert.equal(dashboard.headers.get('location'), '/login');
  });

  test('--password-stdin takes the new one from stdin, checked like any password', async () => {
    const chosen = 'a-chosen-stdin-password';
    noteSecret(chosen);
    const reset = await runCli(['host', 'password', `pat.${mydns.zone}`, '--password-stdin'], {
      env,
      input: `${chosen}\n`,
    });
    assert.equal(reset.code, 0, reset.output);
    assert.doesNotMatch(reset.stdout, /password:/);
    await eventually('the chosen password works', async () => (await update(chosen)).status === 200);

    const weak = await runCli(['host', 'password', 'pat', '--password-stdin'], { env, input: 'short\n' });
    assert.equal(weak.code, 1);
    assert.equal(weak.stderr, 'mydns: the password needs at least 8 characters\n');
    const nobody = await runCli(['host', 'password', 'nobody', '--password-stdin'], {
      env,
      input: `${chosen}\n`,
    });
    assert.equal(nobody.code, 1);
    assert.equal(nobody.stderr, 'mydns: no host nobody\n');
  });
});

describe('reconcile beside a running managed PowerDNS', () => {
  let pdns: ManagedPowerDns;
  let dataDir: string;
  let database: { url: string; drop(): Promise<void> };
  before(async () => {
    dataDir = folder('cli-pdns-');
    mkdirSync(join(dataDir, 'pdns'));
    database = await createTestDatabase();
    // What `npm start` leaves in the data folder while it runs: pdns_server.pid, api-key, pdns.conf.
    pdns = await startManagedPowerDns({
      dir: join(dataDir, 'pdns'),
      dnsPort: await freePort(),
      apiPort: await freePort(),
      logger: createLogger({ level: 'error', format: 'pretty', silent: true }),
    });
    noteSecret(pdns.apiKey);
  });
  after(async () => {
    await pdns?.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('is found through the data folder, on the port it really listens on, and left running', async () => {
    const zone = uniqueZone();
    const pid = pdns.pid;
    const result = await runCli(['reconcile'], {
      env: {
        ...baseEnv(),
        DATABASE_URL: database.url,
        MYDNS_DATA_DIR: dataDir,
        MYDNS_ZONE: zone,
        // Settings that do not match the running one: the folder's own files say where it is.
        MYDNS_PDNS_API_PORT: String(await freePort()),
        MYDNS_DNS_PORT: String(await freePort()),
      },
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.stdout, new RegExp(`^created the zone ${zone.replace('.', '\\.')}$`, 'm'));
    assert.ok(isProcessAlive(pid), 'the running pdns_server was not replaced');
    assert.equal(pdns.pid, pid);
    const client = createPowerDnsClient({ apiUrl: pdns.apiUrl, apiKey: pdns.apiKey });
    assert.ok((await client.listRrsets(zone)).some((rrset) => rrset.type === 'SOA'));
    await client.deleteZone(zone);
  });
});
