import { describeUnknownSetting, findUnknownSettings } from '@mydns/runtime';
import { RELAY_SETTING_NAMES } from '@mydns/smtp-relay';
import { API_SETTING_NAMES } from './config.ts';

/**
 * Read by docker-compose.yml rather than by the code. `.env.example` sets them
 * beside the others, and `npm start` reads the same `.env`: they are known,
 * not typos (settings-docs.test.ts checks this list against the compose file).
 */
export const COMPOSE_SETTING_NAMES = [
  'MYDNS_DB_PASSWORD',
  'MYDNS_PUBLISH_DNS',
  'MYDNS_PUBLISH_HTTP',
  'MYDNS_PUBLISH_REPLICA_DNS',
  'MYDNS_PUBLISH_SMTP',
  'MYDNS_WEB_HOST',
  'PDNS_API_KEY',
  'PDNS_DB_PASSWORD',
  'POSTGRES_PASSWORD',
  'POSTGRES_REPLICATION_PASSWORD',
] as const;

/** Read by node-postgres itself, as libpq does: the password for DATABASE_URL (compose sets it). */
export const LIBPQ_SETTING_NAMES = ['PGPASSWORD'] as const;

/** Every name one `.env` may hold for `npm start`, the relay beside it and the compose file. */
export const KNOWN_SETTING_NAMES: readonly string[] = [
  ...new Set([
    ...API_SETTING_NAMES,
    ...RELAY_SETTING_NAMES,
    ...LIBPQ_SETTING_NAMES,
    ...COMPOSE_SETTING_NAMES,
  ]),
];

/** test/run.ts hands its own MYDNS_TEST_* variables to everything it starts. */
const NOT_OURS = ['MYDNS_TEST_'];

/**
 * One line per name in `env` that looks like a MyDNS setting but is none,
 * with the name probably meant. Names only: values may be secrets.
 */
export function unknownSettingWarnings(env: Record<string, string | undefined>): string[] {
  return findUnknownSettings(env, { known: KNOWN_SETTING_NAMES, ignorePrefixes: NOT_OURS }).map(
    describeUnknownSetting,
  );
}
