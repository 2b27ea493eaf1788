import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createAcmeRepository,
  createDatabase,
  createDnsOutboxStore,
  createHistoryRepository,
  createHostsRepository,
  createSessionsRepository,
  createTokensRepository,
  type Database,
  findRunningEmbeddedPostgres,
  migrateLatest,
  startEmbeddedPostgres,
} from '@mydns/db';
import { fqdn } from '@mydns/domain';
import {
  createPowerDnsClient,
  describeDifference,
  type PowerDnsClient,
  startManagedPowerDns,
} from '@mydns/powerdns';
import {
  AppError,
  createLogger,
  errorMessage,
  isProcessAlive,
  type Logger,
  loadEnvironment,
  StartupError,
} from '@mydns/runtime';
import { createBcryptPool } from './auth/bcrypt-pool.ts';
import { type Config, loadConfig } from './config.ts';
import { createHostsService, type HostView } from './hosts/hosts-service.ts';
import { createMaintenance } from './lifecycle/maintenance.ts';
import { createMyDnsReconciler } from './services.ts';

/**
 * `npm run cli -- <command>`: the operator CLI. It takes the same settings as
 * `npm start` and works while it runs: with the embedded Postgres it joins the
 * running instance through the data folder, or starts one for the command.
 */

const USAGE = `usage: npm run cli -- <command>
  host create <name> [--password-stdin] [--email <address>]
                         register a host; without --password-stdin a password is generated and printed once
  host list              all hosts with their addresses and status
  host show <name>       one host as JSON
  host disable <name>    answer its updates with abuse and withdraw its records
  host enable <name>     undo disable
  host delete <name>     remove the host and its records; the name is held back for
                         MYDNS_NAME_QUARANTINE_DAYS (for good when the host was disabled)
  host release <name>    let a deleted name be registered again now
  host expire [--dry-run]
                         hosts without a successful update for MYDNS_INACTIVITY_DAYS go dormant
  reconcile [--dry-run]  make PowerDNS equal to Postgres, printing every difference found
  migrate                apply pending database migrations`;

class UsageError extends Error {}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * The PowerDNS this configuration uses: the external one, the managed one
 * `npm start` is running (found through the data folder), or a managed one
 * started for this command.
 */
async function withPowerDns<T>(
  config: Config,
  logger: Logger,
  work: (dns: PowerDnsClient) => Promise<T>,
): Promise<T> {
  if (config.powerdns.mode === 'external') {
    const { apiUrl, apiKey, serverId } = config.powerdns;
    return work(createPowerDnsClient({ apiUrl, apiKey, serverId }));
  }
  const dir = join(resolve(config.dataDir), 'pdns');
  const pidFile = join(dir, 'pdns_server.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : Number.NaN;
  if (Number.isInteger(pid) && isProcessAlive(pid)) {
    const apiKey = readFileSync(join(dir, 'api-key'), 'utf8').trim();
    return work(createPowerDnsClient({ apiUrl: `http://127.0.0.1:${config.powerdns.apiPort}`, apiKey }));
  }
  const pdns = await startManagedPowerDns({
    dir,
    dnsPort: config.powerdns.dnsPort,
    apiPort: config.powerdns.apiPort,
    ...(config.powerdns.binary ? { binary: config.powerdns.binary } : {}),
    logger,
  });
  try {
    return await work(createPowerDnsClient({ apiUrl: pdns.apiUrl, apiKey: pdns.apiKey }));
  } finally {
    await pdns.stop();
  }
}

async function withDatabase<T>(
  config: Config,
  logger: Logger,
  work: (db: Database) => Promise<T>,
): Promise<T> {
  let url = config.databaseUrl ?? findRunningEmbeddedPostgres(resolve(config.dataDir));
  let stopPostgres: (() => Promise<void>) | undefined;
  if (!url) {
    const postgres = await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
    url = postgres.url;
    stopPostgres = postgres.stop;
  }
  const db = createDatabase({ url, poolMax: 2 });
  try {
    await migrateLatest(db);
    return await work(db);
  } finally {
    await db.destroy();
    await stopPostgres?.();
  }
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at === -1) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
  args.splice(at, 2);
  return value;
}

function flag(args: string[], name: string): boolean {
  const at = args.indexOf(name);
  if (at !== -1) args.splice(at, 1);
  return at !== -1;
}

function printTable(hosts: HostView[]): void {
  const rows = [
    ['HOSTNAME', 'IPV4', 'IPV6', 'STATUS', 'LAST SEEN'],
    ...hosts.map((h) => [h.hostname, h.ipv4 ?? '-', h.ipv6 ?? '-', h.status, h.lastSeenAt ?? 'never']),
  ];
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  for (const row of rows)
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}

async function run(argv: string[]): Promise<void> {
  const config = loadConfig(loadEnvironment());
  // The CLI prints its results; the log shows only problems unless LOG_LEVEL asks for more.
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', format: 'pretty' });
  const args = [...argv];
  const [group, command] = args;

  if (group === 'migrate' && args.length === 1) {
    await withDatabase(config, logger, async () => console.log('migrations are up to date'));
    return;
  }
  if (group === 'reconcile') {
    const dryRun = flag(args, '--dry-run');
    if (args.length > 1) throw new UsageError('reconcile takes only --dry-run');
    await withDatabase(config, logger, (db) =>
      withPowerDns(config, logger, async (dns) => {
        const reconciler = createMyDnsReconciler(config, { store: createDnsOutboxStore(db), dns, logger });
        const report = await reconciler.run({ dryRun });
        if (report.zoneCreated) console.log(`created the zone ${config.zone}`);
        for (const difference of report.differences) console.log(describeDifference(difference));
        // Postgres wants these at a name MYDNS_OPERATOR_RECORDS (or a name server) owns: never touched.
        for (const difference of report.refused)
          console.log(`left alone (not ours): ${describeDifference(difference)}`);
        const count = report.differences.length;
        if (count === 0) console.log(`${config.zone}: PowerDNS matches Postgres`);
        else if (dryRun) console.log(`${count} differences found (run without --dry-run to fix them)`);
        else if (report.unfixed?.length) {
          for (const problem of report.unfixed) console.log(`PowerDNS refuses ${problem}`);
          console.log(`${count - report.unfixed.length} of ${count} differences fixed`);
          process.exitCode = 1;
        } else console.log(`${count} differences fixed`);
      }),
    );
    return;
  }
  if (group !== 'host') throw new UsageError(group ? `unknown command "${group}"` : 'no command given');
  args.splice(0, 2);

  await withDatabase(config, logger, async (db) => {
    const bcrypt = createBcryptPool(1);
    try {
      const hostsRepository = createHostsRepository(db);
      const hosts = createHostsService({
        zone: config.zone,
        hosts: hostsRepository,
        tokens: createTokensRepository(db),
        acme: createAcmeRepository(db),
        history: createHistoryRepository(db),
        bcrypt,
        bcryptCost: config.bcrypt.cost,
        registration: config.registration,
        sessions: createSessionsRepository(db),
        quarantineDays: config.nameQuarantineDays,
        // The CLI only queues DNS changes in Postgres; the running service's
        // zone writer pushes them within seconds (or at its next start).
        zoneWriter: { push: async () => false },
        pushTimeoutMs: 0,
      });
      const [name, ...rest] = args;
      const oneName = () => {
        if (!name || rest.length > 0) throw new UsageError(`host ${command} takes one name`);
        return name;
      };
      switch (command) {
        case 'create': {
          const fromStdin = flag(args, '--password-stdin');
          const email = option(args, '--email');
          const [newName, ...extra] = args;
          if (!newName || extra.length > 0) throw new UsageError('host create takes one name');
          const generated = fromStdin ? undefined : randomBytes(18).toString('base64url');
          const password = generated ?? (await readStdin());
          const host = await hosts.register({ hostname: newName, password, email }, { bypassClosed: true });
          console.log(`created ${host.hostname}`);
          if (generated) console.log(`password: ${generated}  (shown once; store it now)`);
          return;
        }
        case 'list':
          if (args.length > 0) throw new UsageError('host list takes no arguments');
          printTable(await hosts.list());
          return;
        case 'show':
          console.log(JSON.stringify(hosts.view(await hosts.get(oneName())), null, 2));
          return;
        case 'disable':
        case 'enable': {
          const host = await hosts.get(oneName());
          await hosts.setStatus(host.name, command === 'disable' ? 'disabled' : 'active');
          console.log(
            `${command}d ${fqdn(host.name, config.zone)}; DNS follows within seconds while MyDNS runs`,
          );
          return;
        }
        case 'delete': {
          const host = await hosts.get(oneName());
          await hosts.remove(host, { byOperator: true });
          console.log(
            `deleted ${fqdn(host.name, config.zone)}; its records leave DNS within seconds while MyDNS runs`,
          );
          console.log(
            host.status === 'disabled'
              ? 'the name stays unavailable (it was disabled); `host release` frees it'
              : `the name can be registered again in ${config.nameQuarantineDays} days (\`host release\` frees it now)`,
          );
          return;
        }
        case 'release': {
          const released = oneName().toLowerCase();
          const label = released.endsWith(`.${config.zone}`)
            ? released.slice(0, -config.zone.length - 1)
            : released;
          console.log(
            (await hosts.releaseName(label))
              ? `${fqdn(label, config.zone)} can be registered again`
              : `${fqdn(label, config.zone)} was not held back`,
          );
          return;
        }
        case 'expire': {
          const dryRun = flag(args, '--dry-run');
          if (args.length > 0) throw new UsageError('host expire takes only --dry-run');
          const maintenance = createMaintenance({
            db,
            hosts: hostsRepository,
            acme: createAcmeRepository(db),
            history: createHistoryRepository(db),
            logger,
            inactivityDays: config.lifecycle.inactivityDays,
            historyMaxPerHost: config.lifecycle.historyMaxPerHost,
            historyMaxAgeMs: config.lifecycle.historyMaxAgeMs,
            intervalMs: config.lifecycle.maintenanceIntervalMs,
          });
          const names = await maintenance.expireInactive({ dryRun });
          const verb = dryRun ? 'would go dormant' : 'went dormant';
          console.log(
            `${names.length} hosts ${verb} (no update for ${config.lifecycle.inactivityDays} days)`,
          );
          for (const expired of names) console.log(fqdn(expired, config.zone));
          return;
        }
        default:
          throw new UsageError(command ? `unknown host command "${command}"` : 'host needs a command');
      }
    } finally {
      await bcrypt.close();
    }
  });
}

run(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`mydns: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  const message =
    error instanceof AppError || error instanceof StartupError ? error.message : errorMessage(error);
  console.error(`mydns: ${message}`);
  process.exit(1);
});
