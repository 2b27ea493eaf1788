export * from './client.ts';
export * from './managed-server.ts';
export * from './projection.ts';
export * from './reconciler.ts';
export * from './running-server.ts';
export * from './zone-diff.ts';
export * from './zone-setup.ts';
export * from './zone-writer.ts';
