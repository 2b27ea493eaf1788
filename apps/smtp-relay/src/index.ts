export { loadRelayConfig, RELAY_SETTING_NAMES, type RelayConfig } from './config.ts';
export { type RunningRelay, startRelay } from './server.ts';
