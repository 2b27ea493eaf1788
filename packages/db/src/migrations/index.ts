import type { Knex } from 'knex';
import * as initial from './20261127080000_initial.ts';
import * as hostChangeNotify from './20261127130000_host_change_notify.ts';
import * as credentialsAndLifecycle from './20261127150000_credentials_and_lifecycle.ts';
import * as sessions from './20261127170000_sessions.ts';
import * as historyRepeats from './20261127180000_history_repeats.ts';
import * as refusalReasonsAndQuarantine from './20261201090000_refusal_reasons_and_quarantine.ts';
import * as appSecrets from './20261201100000_app_secrets.ts';
import * as mailOutbox from './20261202090000_mail_outbox.ts';
import * as loginFailures from './20261202100000_login_failures.ts';
import * as zones from './20261204100000_zones.ts';
import * as ownerRecords from './20261205100000_owner_records.ts';
import * as accounts from './20261206090000_accounts.ts';
import * as addressNotices from './20261206100000_address_notices.ts';
import * as webhooks from './20261207090000_webhooks.ts';
import * as dormancyNotices from './20261207100000_dormancy_notices.ts';
import type { MigrationContext } from './context.ts';

export type { MigrationContext } from './context.ts';

interface Migration {
  readonly name: string;
  readonly up: (knex: Knex, context?: MigrationContext) => Promise<void>;
  readonly down: (knex: Knex) => Promise<void>;
}

/** Every migration, oldest first. Add new ones at the end; never edit a landed one. */
const migrations: readonly Migration[] = [
  { name: '20261127080000_initial', ...initial },
  { name: '20261127130000_host_change_notify', ...hostChangeNotify },
  { name: '20261127150000_credentials_and_lifecycle', ...credentialsAndLifecycle },
  { name: '20261127170000_sessions', ...sessions },
  { name: '20261127180000_history_repeats', ...historyRepeats },
  { name: '20261201090000_refusal_reasons_and_quarantine', ...refusalReasonsAndQuarantine },
  { name: '20261201100000_app_secrets', ...appSecrets },
  { name: '20261202090000_mail_outbox', ...mailOutbox },
  { name: '20261202100000_login_failures', ...loginFailures },
  { name: '20261204100000_zones', ...zones },
  { name: '20261205100000_owner_records', ...ownerRecords },
  { name: '20261206090000_accounts', ...accounts },
  { name: '20261206100000_address_notices', ...addressNotices },
  { name: '20261207090000_webhooks', ...webhooks },
  { name: '20261207100000_dormancy_notices', ...dormancyNotices },
];

/**
 * knex's `migrationSource`: migrations come from imports, not from a directory
 * scan (no loader games). Each `up` gets `context`: what the caller knows of
 * the settings (context.ts).
 */
export function migrationSourceFor(context: MigrationContext): Knex.MigrationSource<Migration> {
  return {
    getMigrations: async () => [...migrations],
    getMigrationName: (migration) => migration.name,
    getMigration: async (migration) => ({
      up: (knex: Knex) => migration.up(knex, context),
      down: (knex: Knex) => migration.down(knex),
    }),
  };
}

export const migrationSource = migrationSourceFor({});
