import { createLogger, createShutdown, errorMessage, loadEnvironment, StartupError } from '@mydns/runtime';
import { loadRelayConfig } from './config.ts';
import { startRelay } from './server.ts';

/** `tsx apps/smtp-relay/src/main.ts`: the relay alone (docker compose's smtp-relay service). */
async function main(): Promise<void> {
  const config = loadRelayConfig(loadEnvironment());
  if (!config.databaseUrl)
    throw new StartupError('invalid settings:\nDATABASE_URL: is required to run the relay alone');
  const logger = createLogger(config.log);
  const shutdown = createShutdown(logger);
  shutdown.installSignalHandlers();
  try {
    await startRelay(config, logger, shutdown);
  } catch (error) {
    await shutdown.run('startup failed');
    throw error;
  }
}

main().catch((error: unknown) => {
  if (error instanceof StartupError) console.error(`mydns-smtp-relay: ${error.message}`);
  else console.error('mydns-smtp-relay: failed to start:', errorMessage(error));
  process.exit(1);
});
