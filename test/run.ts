/**
 * `npm test`: starts a real Postgres (embedded, unless DATABASE_URL) and a real
 * PowerDNS for the whole run, prepares a migrated template database, then runs
 * every test file with node:test. Each integration test file clones its own
 * database from the template and creates its own zone, so files run in
 * parallel. Everything started here is stopped here, by PID.
 *
 *   npm test                 unit + integration
 *   npm test -- unit         unit tests only (no Postgres, no PowerDNS)
 *   npm test -- <file>...    only these files
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createDatabase, migrateLatest, startEmbeddedPostgres } from '@mydns/db';
import { findPdnsServer, startManagedPowerDns } from '@mydns/powerdns';
import { createLogger, createShutdown, errorMessage } from '@mydns/runtime';
import pg from 'pg';
import { TEMPLATE_DATABASE } from './support/harness.ts';
import { freePort } from './support/ports.ts';

const root = resolve(import.meta.dirname, '..');

function findTests(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/**
 * The logs of the whole run (docs/operations.md, "Logs") hold none of the passwords, tokens or
 * keys the tests used, no update token of any kind and no Authorization value.
 */
function checkLogsForSecrets(logFile: string, secretsFile: string, requireLines: boolean): number {
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  const secrets = existsSync(secretsFile)
    ? [
        ...new Set(
          readFileSync(secretsFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as string),
        ),
      ]
    : [];
  const problems: string[] = [];
  for (const secret of secrets)
    if (log.includes(secret)) problems.push(`a secret the tests used (${secret.slice(0, 3)}…)`);
  if (/mydns_[A-Za-z0-9_-]{43}/.test(log)) problems.push('an update token');
  if (/basic [A-Za-z0-9+/=]{8,}/i.test(log)) problems.push('an Authorization value');
  const lines = log.split('\n').length - 1;
  if (lines === 0) {
    // The whole suite always logs (in-process servers log at debug level); a few files may not.
    if (!requireLines) return 0;
    console.error('✖ the log check found no log lines: the run wrote none, so it proves nothing');
    return 1;
  }
  if (problems.length > 0) {
    console.error(`✖ the logs of this run (${logFile}) contain ${problems.join(', ')}`);
    return problems.length;
  }
  console.log(
    `✔ the logs of this run hold no secret (${lines} lines checked against ${secrets.length} secrets)`,
  );
  return 0;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unitOnly = args[0] === 'unit';
  const selected = unitOnly ? [] : args.map((file) => resolve(file));
  const unitFiles = [...findTests(join(root, 'apps')), ...findTests(join(root, 'packages'))];
  const integrationFiles = [...findTests(join(root, 'test'))];
  const files = selected.length > 0 ? selected : unitOnly ? unitFiles : [...unitFiles, ...integrationFiles];
  const needsServices = files.some((file) => file.startsWith(join(root, 'test')));

  const logger = createLogger({ level: process.env.TEST_LOG ? 'debug' : 'warn', format: 'pretty' });
  const shutdown = createShutdown(logger);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test' };
  let workDir: string | undefined;
  process.on('SIGINT', () => void shutdown.run('interrupted').then(() => process.exit(130)));
  process.on('SIGTERM', () => void shutdown.run('terminated').then(() => process.exit(143)));

  try {
    if (needsServices) {
      if (!findPdnsServer()) {
        // Never a skip: integration tests need a real PowerDNS (CI=true or not).
        console.error(
          'npm test: pdns_server was not found. Install PowerDNS: apt-get install pdns-server pdns-backend-sqlite3 (or run `npm test -- unit`).',
        );
        return 1;
      }
      // Not mkdtemp's 0700: the embedded Postgres may run as another user and must reach it.
      workDir = mkdtempSync(join(tmpdir(), 'mydns-test-'));
      chmodSync(workDir, 0o755);
      const dir = workDir;
      shutdown.add('work folder', () => rmSync(dir, { recursive: true, force: true }));

      let adminUrl = process.env.DATABASE_URL;
      if (!adminUrl) {
        const postgres = await startEmbeddedPostgres({
          dataDir: join(workDir, 'pg'),
          logger,
          database: 'postgres',
          durability: 'fast',
          port: await freePort(),
        });
        shutdown.add('postgres', () => postgres.stop());
        adminUrl = postgres.url;
      }
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`drop database if exists ${TEMPLATE_DATABASE}`);
      await admin.query(`create database ${TEMPLATE_DATABASE}`);
      await admin.end();
      const templateUrl = new URL(adminUrl);
      templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
      const template = createDatabase({ url: templateUrl.toString(), poolMax: 1 });
      await migrateLatest(template);
      await template.destroy();

      const pdnsApiPort = await freePort();
      const dnsPort = await freePort();
      const pdns = await startManagedPowerDns({
        dir: join(workDir, 'pdns'),
        dnsPort,
        apiPort: pdnsApiPort,
        logger,
      });
      shutdown.add('powerdns', () => pdns.stop());

      Object.assign(env, {
        MYDNS_TEST_LOG_FILE: join(workDir, 'test-run.log'),
        MYDNS_TEST_SECRETS_FILE: join(workDir, 'test-secrets.txt'),
        MYDNS_TEST_PG_URL: adminUrl,
        MYDNS_TEST_PDNS_API_URL: pdns.apiUrl,
        MYDNS_TEST_PDNS_API_KEY: pdns.apiKey,
        MYDNS_TEST_DNS_PORT: String(dnsPort),
        MYDNS_TEST_WORK_DIR: workDir,
      });
    }

    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 4}`,
        ...files.map((file) => relative(root, file)),
      ],
      { cwd: root, env, stdio: 'inherit' },
    );
    const code = await new Promise<number>((done) =>
      child.on('exit', (exit, signal) => done(exit ?? (signal ? 1 : 0))),
    );
    const leaks = env.MYDNS_TEST_LOG_FILE
      ? checkLogsForSecrets(env.MYDNS_TEST_LOG_FILE, env.MYDNS_TEST_SECRETS_FILE ?? '', selected.length === 0)
      : 0;
    // A failed run's log outlives the work folder, for the post-mortem (test/artifacts is git-ignored).
    if (code !== 0 && env.MYDNS_TEST_LOG_FILE && existsSync(env.MYDNS_TEST_LOG_FILE)) {
      mkdirSync(join(root, 'test/artifacts'), { recursive: true });
      copyFileSync(env.MYDNS_TEST_LOG_FILE, join(root, 'test/artifacts/failed-run.log'));
      console.error("the servers' log of this failed run: test/artifacts/failed-run.log");
    }
    return code === 0 && leaks > 0 ? 1 : code;
  } catch (error) {
    console.error(`npm test: ${errorMessage(error)}`);
    return 1;
  } finally {
    await shutdown.run('tests finished');
  }
}

process.exitCode = await main();
