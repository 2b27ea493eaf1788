import type { Knex } from 'knex';

/**
 * Accounts (README "Accounts"): an e-mail address and a bcrypt password,
 * optionally TOTP, holding a few hosts. Existing hosts are not touched: they
 * get a null `account_id` and keep working with their own password.
 *
 * - `accounts.email` is kept as typed; it is unique, and looked up, in any
 *   case (`lower(email)`): routers and people type it differently.
 * - `hosts.account_id` has no cascade: an account's hosts are deleted through
 *   the hosts' own path first (their records leave DNS, their names are
 *   quarantined), and only then the account. A host made in an account has no
 *   password of its own: its `password_hash` is empty, which no password matches.
 * - `account_tokens`: update/ACME tokens of an account, SHA-256 only, for all
 *   its hosts (`host_ids` null) or the listed ones.
 * - `account_links`: the single-use tokens of mailed links (e-mail
 *   verification, password reset), SHA-256 only, each with its expiry.
 * - `account_recovery_codes`: TOTP recovery codes, SHA-256 only.
 * - `sessions` may belong to an account instead of a host.
 *
 * Down: the hosts made in accounts stay (with no password; the operator's
 * `host password` gives them one), everything about accounts goes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.bigIncrements('id').primary();
    t.text('email').notNullable();
    t.text('password_hash').notNullable();
    t.timestamp('email_verified_at', { useTz: true });
    t.binary('totp_secret');
    t.binary('totp_pending_secret');
    // The last step whose code was accepted: a code is never accepted twice.
    t.bigInteger('totp_last_step');
    // Bumped when a credential stops being valid (password change, token revoked, TOTP on).
    t.integer('credential_version').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('password_changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('create unique index accounts_email_unique on accounts (lower(email))');
  await knex.raw(`alter table accounts add constraint accounts_email check (email ~ '^[^@\\s]+@[^@\\s]+$')`);

  await knex.raw('alter table hosts add column account_id bigint references accounts (id)');
  await knex.raw('create index hosts_account_id on hosts (account_id) where account_id is not null');

  await knex.schema.createTable('account_tokens', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('label').notNullable();
    t.binary('token_hash').notNullable().unique();
    t.specificType('host_ids', 'bigint[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.index(['account_id']);
  });

  await knex.schema.createTable('account_links', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('purpose').notNullable();
    t.binary('token_hash').notNullable().unique();
    // For a verification: the address it proves (the account's address when it was sent).
    t.text('email');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.index(['account_id', 'purpose']);
    t.index(['expires_at']);
  });
  await knex.raw(
    "alter table account_links add constraint account_links_purpose check (purpose in ('verify_email', 'password_reset'))",
  );

  await knex.schema.createTable('account_recovery_codes', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.binary('code_hash').notNullable();
    t.timestamp('used_at', { useTz: true });
    t.unique(['account_id', 'code_hash']);
  });

  await knex.raw(`
    alter table sessions
      alter column host_id drop not null,
      add column account_id bigint references accounts (id) on delete cascade,
      add constraint sessions_owner check (num_nonnulls(host_id, account_id) = 1)
  `);
  await knex.raw('create index sessions_account_id on sessions (account_id) where account_id is not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('delete from sessions where account_id is not null');
  await knex.raw(`
    alter table sessions
      drop constraint sessions_owner,
      drop column account_id,
      alter column host_id set not null
  `);
  await knex.schema.dropTable('account_recovery_codes');
  await knex.schema.dropTable('account_links');
  await knex.schema.dropTable('account_tokens');
  await knex.raw('alter table hosts drop column account_id');
  await knex.schema.dropTable('accounts');
}
