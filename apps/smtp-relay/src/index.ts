export { loadRelayConfig, type RelayConfig } from './config.ts';
export { type RunningRelay, startRelay } from './server.ts';
