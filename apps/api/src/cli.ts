import { createDnsOutboxStore } from '@mydns/db';
import { describeDifference } from '@mydns/powerdns';
import { AppError, createLogger, errorMessage, loadEnvironment, StartupError } from '@mydns/runtime';
import { runAccountCommand } from './cli/account-commands.ts';
import { USAGE, UsageError, wantsHelp } from './cli/args.ts';
import { runHostCommand } from './cli/host-commands.ts';
import { withDatabase, withPowerDns } from './cli/resources.ts';
import { runZoneCommand } from './cli/zone-commands.ts';
import { loadConfig } from './config.ts';
import { unknownSettingWarnings } from './known-settings.ts';
import { createZoneReconciler } from './services.ts';

/**
 * `npm run cli -- <command>`: the operator CLI. It takes the same settings as
 * `npm start` (the environment and `.env`, through the same loader) and works
 * while it runs: with the embedded Postgres it joins the running instance
 * through the data folder, or starts the folder's own for the command. Its
 * services are wired by the same code as the server's (services.ts).
 */

/**
 * The CLI prints its results; its log shows only problems, in readable lines,
 * unless LOG_LEVEL or LOG_FORMAT ask for something else.
 */
function cliEnvironment(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return { LOG_LEVEL: 'warn', LOG_FORMAT: 'pretty', ...env };
}

async function run(argv: string[]): Promise<void> {
  const args = [...argv];
  if (wantsHelp(args)) {
    console.log(USAGE);
    return;
  }
  const [group, command] = args;
  if (!group) throw new UsageError('no command given');
  if (!['host', 'account', 'zone', 'reconcile', 'migrate'].includes(group))
    throw new UsageError(`unknown command "${group}"`);

  const env = loadEnvironment();
  for (const line of unknownSettingWarnings(env)) console.error(`mydns: ${line}`);
  const config = loadConfig(cliEnvironment(env));
  const logger = createLogger(config.log);

  if (group === 'migrate') {
    if (args.length > 1) throw new UsageError('migrate takes no arguments');
    await withDatabase(config, logger, { mayCreate: true }, async () =>
      console.log('migrations are up to date'),
    );
    return;
  }
  if (group === 'reconcile') {
    const dryRun = args.includes('--dry-run');
    if (args.length > (dryRun ? 2 : 1)) throw new UsageError('reconcile takes only --dry-run');
    await withDatabase(config, logger, { mayCreate: false }, (db) =>
      withPowerDns(config, logger, async (dns) => {
        // Zone by zone, each with its own lines (one zone prints what it always did).
        for (const zone of config.zones) {
          const store = createDnsOutboxStore(db);
          const report = await createZoneReconciler(config, zone, { store, dns, logger }).run({ dryRun });
          if (report.zoneCreated) console.log(`created the zone ${zone}`);
          for (const difference of report.differences) console.log(describeDifference(difference));
          // Postgres wants these at a name MYDNS_OPERATOR_RECORDS (or a name server) owns: never touched.
          for (const difference of report.refused)
            console.log(`left alone (not ours): ${describeDifference(difference)}`);
          const count = report.differences.length;
          if (count === 0) console.log(`${zone}: PowerDNS matches Postgres`);
          else if (dryRun) console.log(`${count} differences found (run without --dry-run to fix them)`);
          else if (report.unfixed?.length) {
            for (const problem of report.unfixed) console.log(`PowerDNS refuses ${problem}`);
            console.log(`${count - report.unfixed.length} of ${count} differences fixed`);
            process.exitCode = 1;
          } else console.log(`${count} differences fixed`);
        }
      }),
    );
    return;
  }
  if (group === 'account') {
    await runAccountCommand(command, args.slice(2), config, logger);
    return;
  }
  if (group === 'zone') {
    await runZoneCommand(command, args.slice(2), config, logger);
    return;
  }
  await runHostCommand(command, args.slice(2), config, logger);
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
