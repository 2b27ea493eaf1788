import type { Knex } from 'knex';

/**
 * Every change that matters to an account's credentials or to the hosts it
 * holds is announced on the channel `mydns_accounts`, the payload being the
 * account's id, so every API replica drops what it cached about the account
 * (account-cache.ts), as `mydns_hosts` does for hosts:
 *
 * - `accounts`: any update or delete (a password, the credential version, TOTP,
 *   the address; the row is small and changes seldom).
 * - `account_tokens`: a token made, revoked, rescoped or deleted; not the
 *   hourly `last_used_at` stamp, which would announce every router's use.
 * - `hosts`: a host entering or leaving an account, or renamed in one (the
 *   account's list of hosts); an address change is the host's own news.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function mydns_notify_account_change() returns trigger language plpgsql as $$
    begin
      if tg_table_name = 'accounts' then
        perform pg_notify('mydns_accounts', old.id::text);
      elsif tg_op = 'UPDATE' and tg_table_name = 'account_tokens' then
        if (new.account_id, new.token_hash, new.host_ids, new.revoked_at)
           is distinct from (old.account_id, old.token_hash, old.host_ids, old.revoked_at) then
          perform pg_notify('mydns_accounts', old.account_id::text);
          if new.account_id <> old.account_id then
            perform pg_notify('mydns_accounts', new.account_id::text);
          end if;
        end if;
      elsif tg_op = 'UPDATE' then
        if (new.account_id, new.zone, new.name) is distinct from (old.account_id, old.zone, old.name) then
          if old.account_id is not null then
            perform pg_notify('mydns_accounts', old.account_id::text);
          end if;
          if new.account_id is not null and new.account_id is distinct from old.account_id then
            perform pg_notify('mydns_accounts', new.account_id::text);
          end if;
        end if;
      elsif tg_op = 'INSERT' then
        if new.account_id is not null then
          perform pg_notify('mydns_accounts', new.account_id::text);
        end if;
      elsif old.account_id is not null then
        perform pg_notify('mydns_accounts', old.account_id::text);
      end if;
      return null;
    end
    $$
  `);
  await knex.raw(`
    create trigger accounts_notify_change after update or delete on accounts
    for each row execute function mydns_notify_account_change()
  `);
  await knex.raw(`
    create trigger account_tokens_notify_change after insert or update or delete on account_tokens
    for each row execute function mydns_notify_account_change()
  `);
  await knex.raw(`
    create trigger hosts_notify_account_change after insert or update or delete on hosts
    for each row execute function mydns_notify_account_change()
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger hosts_notify_account_change on hosts');
  await knex.raw('drop trigger account_tokens_notify_change on account_tokens');
  await knex.raw('drop trigger accounts_notify_change on accounts');
  await knex.raw('drop function mydns_notify_account_change()');
}
