import type { Database } from './database.ts';
import { NO_HOST_PASSWORD } from './hosts-repository.ts';

/**
 * Accounts (migration 20261206090000): the row, the hosts it holds, its
 * tokens, the single-use tokens of mailed links, TOTP and recovery codes.
 * Secrets are never stored: passwords as bcrypt, tokens and codes as SHA-256
 * (they have full entropy), the TOTP secret as it must be to compute codes.
 */

export interface AccountRecord {
  readonly id: number;
  /** As typed at registration; compared in any case. */
  readonly email: string;
  readonly passwordHash: string;
  readonly emailVerifiedAt: Date | null;
  /** Set once TOTP is confirmed: the password alone no longer signs in. */
  readonly totpSecret: Buffer | null;
  readonly totpPendingSecret: Buffer | null;
  readonly totpLastStep: number | null;
  /** Bumped whenever a credential stops being valid; caches of verified secrets are bound to it. */
  readonly credentialVersion: number;
  readonly createdAt: Date;
  readonly passwordChangedAt: Date;
}

export interface AccountTokenRecord {
  readonly id: number;
  readonly accountId: number;
  readonly label: string;
  /** The hosts the token may update; null: every host of the account, now and later. */
  readonly hostIds: readonly number[] | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export type AccountLinkPurpose = 'verify_email' | 'password_reset';

export type AddHostResult =
  | { readonly ok: true; readonly id: number }
  | { readonly ok: false; readonly reason: 'limit' | 'taken' };

export interface AccountsRepository {
  /** Undefined when the address is taken (in any case). */
  create(input: { email: string; passwordHash: string }): Promise<AccountRecord | undefined>;
  findByEmail(email: string): Promise<AccountRecord | undefined>;
  findById(id: number): Promise<AccountRecord | undefined>;
  /**
   * A new host in the account, unless it holds `max` already or the name is
   * taken; the account's row is locked for the count, so parallel requests
   * cannot pass the limit together.
   */
  addHost(accountId: number, host: { zone: string; name: string }, max: number): Promise<AddHostResult>;
  /** Moves a host without an account into this one (same lock and limit as addHost). */
  claimHost(accountId: number, hostId: number, max: number): Promise<'claimed' | 'limit' | 'owned'>;
  /** A new password; bumps the credential version (every cache forgets the old one). */
  changePassword(id: number, passwordHash: string): Promise<void>;
  markVerified(id: number, email: string): Promise<boolean>;
  setPendingTotp(id: number, secret: Buffer, recoveryCodeHashes: readonly Buffer[]): Promise<void>;
  /** Turns the pending secret on, with `step` as the last one used; false when nothing was pending. */
  enableTotp(id: number, step: number): Promise<boolean>;
  /** Records `step` as used, if it is later than the last one (a code is accepted once, even by two replicas). */
  useTotpStep(id: number, step: number): Promise<boolean>;
  /** Uses up a recovery code; false when it is unknown or used. */
  useRecoveryCode(id: number, hash: Buffer): Promise<boolean>;
  remainingRecoveryCodes(id: number): Promise<number>;
  createToken(input: {
    accountId: number;
    label: string;
    hash: Buffer;
    hostIds: readonly number[] | null;
    max: number;
  }): Promise<AccountTokenRecord | undefined>;
  findToken(hash: Buffer): Promise<AccountTokenRecord | undefined>;
  listTokens(accountId: number): Promise<AccountTokenRecord[]>;
  revokeToken(accountId: number, id: number): Promise<boolean>;
  /** At most one write per token per hour. */
  touchToken(id: number): Promise<void>;
  /** Stores a link token's hash; earlier unused links of the same purpose stop working. */
  createLink(input: {
    accountId: number;
    purpose: AccountLinkPurpose;
    hash: Buffer;
    expiresAt: Date;
    email?: string;
  }): Promise<void>;
  /** The live (unused, unexpired) link of this purpose and hash, without using it. */
  findLink(
    purpose: AccountLinkPurpose,
    hash: Buffer,
  ): Promise<{ accountId: number; email: string | null } | undefined>;
  /** Uses the link up, once: undefined when it is unknown, used or expired. */
  consumeLink(
    purpose: AccountLinkPurpose,
    hash: Buffer,
  ): Promise<{ accountId: number; email: string | null } | undefined>;
  removeExpiredLinks(now: Date): Promise<number>;
  /** Deletes the account; its hosts must be gone first (the foreign key refuses otherwise). */
  remove(id: number): Promise<boolean>;
}

interface AccountRow {
  id: number;
  email: string;
  password_hash: string;
  email_verified_at: Date | null;
  totp_secret: Buffer | null;
  totp_pending_secret: Buffer | null;
  totp_last_step: number | null;
  credential_version: number;
  created_at: Date;
  password_changed_at: Date;
}

const COLUMNS = [
  'id',
  'email',
  'password_hash',
  'email_verified_at',
  'totp_secret',
  'totp_pending_secret',
  'totp_last_step',
  'credential_version',
  'created_at',
  'password_changed_at',
] as const;

const toAccount = (row: AccountRow): AccountRecord => ({
  id: row.id,
  email: row.email,
  passwordHash: row.password_hash,
  emailVerifiedAt: row.email_verified_at,
  totpSecret: row.totp_secret,
  totpPendingSecret: row.totp_pending_secret,
  totpLastStep: row.totp_last_step,
  credentialVersion: row.credential_version,
  createdAt: row.created_at,
  passwordChangedAt: row.password_changed_at,
});

interface TokenRow {
  id: number;
  account_id: number;
  label: string;
  host_ids: number[] | null;
  created_at: Date;
  last_used_at: Date | null;
}

const TOKEN_COLUMNS = ['id', 'account_id', 'label', 'host_ids', 'created_at', 'last_used_at'] as const;

const toToken = (row: TokenRow): AccountTokenRecord => ({
  id: row.id,
  accountId: row.account_id,
  label: row.label,
  // bigint[] comes back as strings (the INT8 parser of database.ts applies to scalars only).
  hostIds: row.host_ids === null ? null : row.host_ids.map(Number),
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

const bump = (db: Database) => db.raw('credential_version + 1');

/**
 * Whether Postgres's text can hold `text` at all: a NUL byte it refuses with an error ("invalid
 * byte sequence"), so no stored address has one, and a lookup of one finds nothing instead of
 * failing (a Basic-auth user name is whatever the client sent).
 */
const storable = (text: string) => !text.includes('\u0000');

export function createAccountsRepository(db: Database): AccountsRepository {
  /** Locks the account's row and counts its hosts. */
  const lockAndCount = async (trx: Database, accountId: number) => {
    await trx('accounts').where({ id: accountId }).forUpdate().first('id');
    const row = await trx('hosts')
      .where({ account_id: accountId })
      .count<{ count: string }[]>({ count: '*' });
    return Number(row[0]?.count ?? 0);
  };
  return {
    async create(input) {
      const { rows } = await db.raw<{ rows: AccountRow[] }>(
        `insert into accounts (email, password_hash) values (?, ?)
         on conflict ((lower(email))) do nothing returning ${COLUMNS.join(', ')}`,
        [input.email, input.passwordHash],
      );
      const row = rows[0];
      return row ? toAccount(row) : undefined;
    },
    async findByEmail(email) {
      if (!storable(email)) return undefined;
      const row = await db('accounts')
        .whereRaw('lower(email) = lower(?)', [email])
        .first<AccountRow | undefined>(COLUMNS);
      return row ? toAccount(row) : undefined;
    },
    async findById(id) {
      const row = await db('accounts').where({ id }).first<AccountRow | undefined>(COLUMNS);
      return row ? toAccount(row) : undefined;
    },
    async addHost(accountId, host, max) {
      return db.transaction(async (trx) => {
        if ((await lockAndCount(trx, accountId)) >= max) return { ok: false, reason: 'limit' } as const;
        const rows: { id: number }[] = await trx('hosts')
          .insert({
            zone: host.zone,
            name: host.name,
            password_hash: NO_HOST_PASSWORD,
            account_id: accountId,
          })
          .onConflict(['zone', 'name'])
          .ignore()
          .returning('id');
        const row = rows[0];
        return row ? ({ ok: true, id: row.id } as const) : ({ ok: false, reason: 'taken' } as const);
      });
    },
    async claimHost(accountId, hostId, max) {
      return db.transaction(async (trx) => {
        if ((await lockAndCount(trx, accountId)) >= max) return 'limit' as const;
        const claimed = await trx('hosts')
          .where({ id: hostId })
          .whereNull('account_id')
          .update({ account_id: accountId });
        return claimed > 0 ? ('claimed' as const) : ('owned' as const);
      });
    },
    async changePassword(id, passwordHash) {
      await db('accounts')
        .where({ id })
        .update({
          password_hash: passwordHash,
          password_changed_at: db.fn.now(),
          credential_version: bump(db),
        });
    },
    async markVerified(id, email) {
      if (!storable(email)) return false;
      const updated = await db('accounts')
        .where({ id })
        .whereRaw('lower(email) = lower(?)', [email])
        .update({ email_verified_at: db.raw('coalesce(email_verified_at, now())') });
      return updated > 0;
    },
    async setPendingTotp(id, secret, recoveryCodeHashes) {
      await db.transaction(async (trx) => {
        await trx('accounts').where({ id }).whereNull('totp_secret').update({ totp_pending_secret: secret });
        await trx('account_recovery_codes').where({ account_id: id }).delete();
        if (recoveryCodeHashes.length > 0)
          await trx('account_recovery_codes').insert(
            recoveryCodeHashes.map((hash) => ({ account_id: id, code_hash: hash })),
          );
      });
    },
    async enableTotp(id, step) {
      const updated = await db('accounts')
        .where({ id })
        .whereNotNull('totp_pending_secret')
        .update({
          totp_secret: db.raw('totp_pending_secret'),
          totp_pending_secret: null,
          totp_last_step: step,
          credential_version: bump(db),
        });
      return updated > 0;
    },
    async useTotpStep(id, step) {
      const updated = await db('accounts')
        .where({ id })
        .andWhere((q) => q.whereNull('totp_last_step').orWhere('totp_last_step', '<', step))
        .update({ totp_last_step: step });
      return updated > 0;
    },
    async useRecoveryCode(id, hash) {
      const used = await db('account_recovery_codes')
        .where({ account_id: id, code_hash: hash })
        .whereNull('used_at')
        .update({ used_at: db.fn.now() });
      return used > 0;
    },
    async remainingRecoveryCodes(id) {
      const row = await db('account_recovery_codes')
        .where({ account_id: id })
        .whereNull('used_at')
        .count<{ count: string }[]>({ count: '*' });
      return Number(row[0]?.count ?? 0);
    },
    async createToken(input) {
      return db.transaction(async (trx) => {
        await trx('accounts').where({ id: input.accountId }).forUpdate().first('id');
        const live = await trx('account_tokens')
          .where({ account_id: input.accountId })
          .whereNull('revoked_at')
          .count<{ count: string }[]>({ count: '*' });
        if (Number(live[0]?.count ?? 0) >= input.max) return undefined;
        const [row] = await trx('account_tokens')
          .insert({
            account_id: input.accountId,
            label: input.label,
            token_hash: input.hash,
            host_ids: input.hostIds === null ? null : [...input.hostIds],
          })
          .returning([...TOKEN_COLUMNS]);
        return toToken(row as TokenRow);
      });
    },
    async findToken(hash) {
      const row = await db('account_tokens')
        .where({ token_hash: hash })
        .whereNull('revoked_at')
        .first<TokenRow | undefined>(TOKEN_COLUMNS);
      return row ? toToken(row) : undefined;
    },
    async listTokens(accountId) {
      const rows: TokenRow[] = await db('account_tokens')
        .select(TOKEN_COLUMNS)
        .where({ account_id: accountId })
        .whereNull('revoked_at')
        .orderBy('id');
      return rows.map(toToken);
    },
    async revokeToken(accountId, id) {
      return db.transaction(async (trx) => {
        const revoked = await trx('account_tokens')
          .where({ id, account_id: accountId })
          .whereNull('revoked_at')
          .update({ revoked_at: trx.fn.now() });
        if (revoked === 0) return false;
        await trx('accounts')
          .where({ id: accountId })
          .update({ credential_version: bump(trx) });
        return true;
      });
    },
    async touchToken(id) {
      await db.raw(
        `update account_tokens set last_used_at = now()
          where id = ? and (last_used_at is null or last_used_at < now() - interval '1 hour')`,
        [id],
      );
    },
    async createLink(input) {
      await db.transaction(async (trx) => {
        // Two links made at once (two reset requests) would each see no other to end, and both stay live.
        await trx('accounts').where({ id: input.accountId }).forUpdate().first('id');
        await trx('account_links')
          .where({ account_id: input.accountId, purpose: input.purpose })
          .whereNull('used_at')
          .update({ used_at: trx.fn.now() });
        await trx('account_links').insert({
          account_id: input.accountId,
          purpose: input.purpose,
          token_hash: input.hash,
          email: input.email ?? null,
          expires_at: input.expiresAt,
        });
      });
    },
    async findLink(purpose, hash) {
      const row = await db('account_links')
        .where({ purpose, token_hash: hash })
        .whereNull('used_at')
        .andWhere('expires_at', '>', db.fn.now())
        .first<{ account_id: number; email: string | null } | undefined>('account_id', 'email');
      return row ? { accountId: row.account_id, email: row.email } : undefined;
    },
    async consumeLink(purpose, hash) {
      const rows: { account_id: number; email: string | null }[] = await db('account_links')
        .where({ purpose, token_hash: hash })
        .whereNull('used_at')
        .andWhere('expires_at', '>', db.fn.now())
        .update({ used_at: db.fn.now() })
        .returning(['account_id', 'email']);
      const row = rows[0];
      return row ? { accountId: row.account_id, email: row.email } : undefined;
    },
    async removeExpiredLinks(now) {
      return db('account_links').where('expires_at', '<=', now).delete();
    },
    async remove(id) {
      return (await db('accounts').where({ id }).delete()) > 0;
    },
  };
}
