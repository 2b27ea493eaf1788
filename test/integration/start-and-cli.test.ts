import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isProcessAlive } from '@mydns/runtime';
import pg from 'pg';
import { createDnsQuery } from '../support/dns.ts';
import { harness } from '../support/harness.ts';
import { createTestDatabase } from '../support/mydns.ts';
import { managedPids as readManagedPids, startMyDnsProcess, waitForOutput } from '../support/npm-start.ts';
import { freePort } from '../support/ports.ts';
import { runProgram } from '../support/programs.ts';

/**
 * `npm start` and `npm run cli` as a newcomer runs them: embedded Postgres and
 * a PowerDNS child process under a data folder, every part printed, a clean
 * stop on SIGTERM with nothing left running, and the data found again by the
 * next start. Also the one-line errors for what a user can fix.
 */

const root = resolve(import.meta.dirname, '../..');
const tsx = join(root, 'node_modules/.bin/tsx');

const runCommand = (args: string[], env: NodeJS.ProcessEnv, input?: string) =>
  runProgram(tsx, args, { cwd: root, env, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });

const start = (env: NodeJS.ProcessEnv) => startMyDnsProcess(env, 'tsx');

function managedPids(dataDir: string): number[] {
  const { postgres, pdns } = readManagedPids(dataDir);
  return [postgres, pdns].filter((pid): pid is number => pid !== undefined);
}

describe('npm start with embedded Postgres and a managed PowerDNS', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let dnsPort: number;
  let httpPort: number;
  let smtpPort: number;
  const zone = 'start.test';

  before(async () => {
    dataDir = mkdtempSync(join(harness().workDir, 'start-'));
    chmodSync(dataDir, 0o755);
    dnsPort = await freePort();
    httpPort = await freePort();
    smtpPort = await freePort();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MYDNS_DATA_DIR: dataDir,
      MYDNS_ZONE: zone,
      MYDNS_HTTP_PORT: String(httpPort),
      MYDNS_HTTP_ADDRESS: '127.0.0.1',
      MYDNS_DNS_PORT: String(dnsPort),
      MYDNS_PDNS_API_PORT: String(await freePort()),
      MYDNS_SMTP_PORT: String(smtpPort),
      MYDNS_SMTP_ADDRESS: '127.0.0.1',
      MYDNS_BCRYPT_COST: '4',
      MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true',
    };
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('starts, serves updates and DNS, stops cleanly, and keeps its data for the next start', async () => {
    const first = start(env);
    await waitForOutput(first, /ready: try http:\/\/127\.0\.0\.1:\d+\/checkip/);
    const printed = first.output();
    assert.match(printed, /Postgres \(embedded\) listens on 127\.0\.0\.1:\d+/);
    assert.match(printed, new RegExp(`PowerDNS \\(managed\\) answers DNS on 127\\.0\\.0\\.1:${dnsPort}`));
    assert.match(printed, new RegExp(`listen on 127\\.0\\.0\\.1:${httpPort}`));
    assert.match(printed, new RegExp(`SMTP relay listens on 127\\.0\\.0\\.1:${smtpPort}`));
    const greeting = await new Promise<string>((resolve, reject) => {
      const socket = connect(smtpPort, '127.0.0.1');
      socket.once('data', (data) => {
        socket.end('QUIT\r\n');
        resolve(String(data));
      });
      socket.once('error', reject);
    });
    assert.match(greeting, /^220 /);

    // The CLI joins the running Postgres through the data folder.
    const created = await runCommand(
      ['apps/api/src/cli.ts', 'host', 'create', 'carol', '--password-stdin'],
      env,
      'stdin-given-secret\n',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`created carol\\.${zone.replace('.', '\\.')}`));

    const update = await fetch(
      `http://127.0.0.1:${httpPort}/u.php?hostname=carol&password=stdin-given-secret&myip=198.51.100.33`,
    );
    assert.equal(await update.text(), 'good 198.51.100.33');
    const query = createDnsQuery(dnsPort);
    assert.deepEqual(await query.a(`carol.${zone}`), ['198.51.100.33']);

    // A second start on the same folder is refused while the first runs.
    const second = await runCommand(['apps/api/src/main.ts'], env);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /already running on the data folder/);

    const pids = managedPids(dataDir);
    assert.equal(pids.length, 2);
    first.signal('SIGTERM');
    assert.equal((await first.exited).code, 0);
    for (const pid of [...pids, first.pid]) assert.ok(!isProcessAlive(pid), `process ${pid} still runs`);

    const again = start(env);
    await waitForOutput(again, /ready:/);
    assert.doesNotMatch(again.output(), /creating a Postgres cluster|created zone/);
    assert.deepEqual(await query.a(`carol.${zone}`), ['198.51.100.33']);
    const repeat = await fetch(
      `http://127.0.0.1:${httpPort}/u.php?hostname=carol&password=stdin-given-secret&myip=198.51.100.33`,
    );
    assert.equal(await repeat.text(), 'nochg 198.51.100.33');
    const againPids = managedPids(dataDir);
    again.signal('SIGINT');
    assert.equal((await again.exited).code, 0);
    for (const pid of againPids) assert.ok(!isProcessAlive(pid), `process ${pid} still runs`);
  });

  test('the CLI starts Postgres itself when nothing runs, and stops it again', async () => {
    const listed = await runCommand(['apps/api/src/cli.ts', 'host', 'list'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^HOSTNAME\s+IPV4\s+IPV6\s+STATUS\s+LAST SEEN$/m);
    assert.match(listed.stdout, /carol\.start\.test\s+198\.51\.100\.33\s+-\s+active/);
    assert.deepEqual(managedPids(dataDir).filter(isProcessAlive), []);
  });

  test('pdns_server missing: one line saying how to install it, nothing left running', async () => {
    const result = await runCommand(['apps/api/src/main.ts'], {
      ...env,
      MYDNS_PDNS_BINARY: '/nonexistent/pdns_server',
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      'mydns: pdns_server was not found at /nonexistent/pdns_server: install PowerDNS (apt-get install pdns-server pdns-backend-sqlite3) or set MYDNS_PDNS_API_URL and MYDNS_PDNS_API_KEY to use an external PowerDNS',
    );
    assert.deepEqual(managedPids(dataDir).filter(isProcessAlive), []);
  });

  test('bad settings: one line per problem, naming each variable', async () => {
    const result = await runCommand(['apps/api/src/main.ts'], {
      ...env,
      MYDNS_HTTP_PORT: 'eighty',
      MYDNS_RECORD_TTL: '0',
      MYDNS_TRUSTED_PROXIES: '10.0.0.0/8,not-a-range',
      MYDNS_HOST_UPDATE_LIMIT: 'lots',
    });
    assert.equal(result.code, 1);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines[0], 'mydns: invalid settings:');
    for (const name of [
      'MYDNS_HTTP_PORT',
      'MYDNS_RECORD_TTL',
      'MYDNS_TRUSTED_PROXIES',
      'MYDNS_HOST_UPDATE_LIMIT',
    ]) {
      assert.equal(
        lines.filter((line) => line.startsWith(`${name}: `)).length,
        1,
        `${name} in:\n${result.stderr}`,
      );
    }
  });

  test('a data folder the postgres user cannot reach (running as root): one line with the fix', async () => {
    const locked = mkdtempSync(join(harness().workDir, 'locked-'));
    chmodSync(locked, 0o700);
    const inside = join(locked, 'data');
    mkdirSync(inside);
    try {
      const result = await runCommand(['apps/api/src/main.ts'], { ...env, MYDNS_DATA_DIR: inside });
      if (process.getuid?.() === 0) {
        assert.equal(result.code, 1);
        assert.equal(
          result.stderr.trim(),
          `mydns: the embedded Postgres runs as the system user "postgres", which cannot enter ${locked}: run "chmod o+x ${locked}", set MYDNS_DATA_DIR to a folder outside it, or set DATABASE_URL`,
        );
      } else {
        // Not root: Postgres runs as this user, who owns the folder; there is nothing to refuse.
        assert.notEqual(result.stderr.trim(), '');
      }
    } finally {
      rmSync(locked, { recursive: true, force: true });
    }
  });
});

describe('npm run cli against DATABASE_URL', () => {
  let database: { url: string; drop(): Promise<void> };
  let env: NodeJS.ProcessEnv;
  before(async () => {
    database = await createTestDatabase();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: database.url,
      MYDNS_ZONE: 'cli.test',
      MYDNS_BCRYPT_COST: '4',
    };
  });
  after(async () => {
    await database?.drop();
  });

  test('host create (stdin and generated), list, show; clear errors', async () => {
    const fromStdin = await runCommand(
      ['apps/api/src/cli.ts', 'host', 'create', 'dave', '--password-stdin'],
      env,
      'another-stdin-secret\n',
    );
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, 'created dave.cli.test\n');

    const generated = await runCommand(
      ['apps/api/src/cli.ts', 'host', 'create', 'erin', '--email', 'erin@example.org'],
      env,
    );
    assert.equal(generated.code, 0, generated.stderr);
    const password = /^password: ([A-Za-z0-9_-]{24}) /m.exec(generated.stdout)?.[1];
    assert.ok(password, generated.stdout);

    const shown = await runCommand(['apps/api/src/cli.ts', 'host', 'show', 'dave.cli.test'], env);
    assert.equal(shown.code, 0, shown.stderr);
    const host = JSON.parse(shown.stdout);
    assert.equal(host.hostname, 'dave.cli.test');
    assert.equal(host.status, 'active');
    assert.ok(!shown.stdout.includes('password'));

    const listed = await runCommand(['apps/api/src/cli.ts', 'host', 'list'], env);
    assert.deepEqual(
      listed.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/)[0]),
      ['dave.cli.test', 'erin.cli.test'],
    );

    const taken = await runCommand(
      ['apps/api/src/cli.ts', 'host', 'create', 'dave', '--password-stdin'],
      env,
      'x-password\n',
    );
    assert.equal(taken.code, 1);
    assert.equal(taken.stderr.trim(), 'mydns: dave.cli.test is already taken');
    const short = await runCommand(
      ['apps/api/src/cli.ts', 'host', 'create', 'frank', '--password-stdin'],
      env,
      'short\n',
    );
    assert.equal(short.code, 1);
    assert.equal(short.stderr.trim(), 'mydns: the password needs at least 8 characters');
    const missing = await runCommand(['apps/api/src/cli.ts', 'host', 'show', 'nobody'], env);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), 'mydns: no host nobody');
    // Operator actions: each changes the row and queues the host for PowerDNS.
    const disabled = await runCommand(['apps/api/src/cli.ts', 'host', 'disable', 'dave'], env);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.match(disabled.stdout, /^disabled dave\.cli\.test/);
    assert.equal(
      JSON.parse((await runCommand(['apps/api/src/cli.ts', 'host', 'show', 'dave'], env)).stdout).status,
      'disabled',
    );
    const enabled = await runCommand(['apps/api/src/cli.ts', 'host', 'enable', 'dave'], env);
    assert.match(enabled.stdout, /^enabled dave\.cli\.test/);
    assert.equal(
      JSON.parse((await runCommand(['apps/api/src/cli.ts', 'host', 'show', 'dave'], env)).stdout).status,
      'active',
    );
    const expireNone = await runCommand(['apps/api/src/cli.ts', 'host', 'expire', '--dry-run'], env);
    assert.equal(expireNone.stdout, '0 hosts would go dormant (no update for 30 days)\n');
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    await db.query("update hosts set created_at = now() - interval '40 days' where name = 'dave'");
    await db.end();
    const expireDave = await runCommand(['apps/api/src/cli.ts', 'host', 'expire', '--dry-run'], env);
    assert.equal(expireDave.stdout, '1 hosts would go dormant (no update for 30 days)\ndave.cli.test\n');
    assert.equal(
      JSON.parse((await runCommand(['apps/api/src/cli.ts', 'host', 'show', 'dave'], env)).stdout).status,
      'active',
    );
    const expired = await runCommand(['apps/api/src/cli.ts', 'host', 'expire'], env);
    assert.equal(expired.stdout, '1 hosts went dormant (no update for 30 days)\ndave.cli.test\n');
    assert.equal(
      JSON.parse((await runCommand(['apps/api/src/cli.ts', 'host', 'show', 'dave'], env)).stdout).status,
      'dormant',
    );
    const deleted = await runCommand(['apps/api/src/cli.ts', 'host', 'delete', 'erin'], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /^deleted erin\.cli\.test/);
    assert.equal((await runCommand(['apps/api/src/cli.ts', 'host', 'show', 'erin'], env)).code, 1);
    const outbox = await runCommand(['apps/api/src/cli.ts', 'host', 'list'], env);
    assert.doesNotMatch(outbox.stdout, /erin/);

    const unknown = await runCommand(['apps/api/src/cli.ts', 'host', 'frob'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown host command "frob"\nusage: npm run cli -- <command>/);
  });
});
