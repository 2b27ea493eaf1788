import { createLogger, createShutdown, errorMessage, loadEnvironment, StartupError } from '@mydns/runtime';
import { loadConfig } from './config.ts';
import { startMyDns } from './server.ts';

/** `npm start`: the composition root. */
async function main(): Promise<void> {
  const config = loadConfig(loadEnvironment());
  const logger = createLogger(config.log);
  const shutdown = createShutdown(logger);
  shutdown.installSignalHandlers();
  try {
    const running = await startMyDns(config, logger, shutdown);
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
