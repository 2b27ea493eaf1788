import { createLogger, createShutdown, errorMessage, loadEnvironment, StartupError } from '@mydns/runtime';
import { loadRelayConfig, startRelay } from '@mydns/smtp-relay';
import { loadConfig } from './config.ts';
import { unknownSettingWarnings } from './known-settings.ts';
import { startMyDns } from './server.ts';

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
