export * from './clock.ts';
export * from './errors.ts';
export * from './keep-running.ts';
export * from './logger.ts';
export * from './processes.ts';
export * from './settings.ts';
export * from './shutdown.ts';
