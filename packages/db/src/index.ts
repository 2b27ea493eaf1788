export * from './acme-repository.ts';
export * from './database.ts';
export * from './dns-outbox-repository.ts';
export * from './embedded-postgres.ts';
export * from './history-repository.ts';
export * from './host-cache.ts';
export * from './hosts-repository.ts';
export * from './tokens-repository.ts';
