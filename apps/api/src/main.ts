import { setFlagsFromString } from 'node:v8';
import { createLogger, createShutdown, errorMessage, loadEnvironment, StartupError } from '@mydns/runtime';
import { loadRelayConfig, startRelay } from '@mydns/smtp-relay';
import { loadConfig } from './config.ts';
import { unknownSettingWarnings } from './known-settings.ts';
import { startMyDns } from './server.ts';

/**
 * The heap grows to 1.5× what the last full collection kept, where V8's default lets it grow to
 * several times that while the allocation rate is high: under a herd of updates the API's live heap
 * stayed under 180 MB while its RSS reached 930 MB of garbage not yet collected (README, "A million
 * hosts"). A `--heap-growing-percent` given to node itself wins.
 */
const HEAP_GROWING_PERCENT = 50;
if (!process.execArgv.some((flag) => flag.startsWith('--heap-growing-percent')))
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

/** `npm start`: the composition root — the API with everything it needs, and the SMTP relay beside it. */
async function main(): Promise<void> {
  const env = loadEnvironment();
  const config = loadConfig(env);
  const relayConfig = config.relayEnabled ? loadRelayConfig(env) : undefined;
  const logger = createLogger(config.log);
  for (const line of unknownSettingWarnings(env)) logger.warn(line);
  const shutdown = createShutdown(logger);
  shutdown.installSignalHandlers();
  try {
    const running = await startMyDns(config, logger, shutdown);
    if (relayConfig) {
      // One /metrics for both: the relay's counters join the API's registry.
      await startRelay({ ...relayConfig, databaseUrl: running.databaseUrl }, logger, shutdown, {
        metricsRegistry: running.services.metrics.registry,
      });
    }
    logger.info(`ready: try ${running.url}/checkip — Ctrl-C stops everything`);
  } catch (error) {
    await shutdown.run('startup failed');
    throw error;
  }
}

main().catch((error: unknown) => {
  // A problem the user can fix is one clear line (or one per setting), not a stack trace.
  if (error instanceof StartupError) console.error(`mydns: ${error.message}`);
  else console.error('mydns: failed to start:', errorMessage(error));
  process.exit(1);
});
