import type { Database } from './database.ts';

/** A session is a host's (signed in with its hostname) or an account's (with its e-mail address). */
export type SessionRecord = {
  readonly id: number;
  readonly csrf: string;
  readonly expiresAt: Date;
} & (
  | { readonly hostId: number; readonly hostName: string; readonly accountId?: undefined }
  | { readonly accountId: number; readonly hostId?: undefined; readonly hostName?: undefined }
);

export interface SessionsRepository {
  create(input: { tokenHash: Buffer; hostId: number; csrf: string; expiresAt: Date }): Promise<void>;
  createForAccount(input: {
    tokenHash: Buffer;
    accountId: number;
    csrf: string;
    expiresAt: Date;
  }): Promise<void>;
  find(tokenHash: Buffer): Promise<SessionRecord | undefined>;
  remove(tokenHash: Buffer): Promise<void>;
  /** Ends every session of the host but the one given (after a password change). */
  removeOthers(hostId: number, keep: Buffer | undefined): Promise<number>;
  /** Ends every session of the account but the one given (after a password change or reset). */
  removeOthersOfAccount(accountId: number, keep: Buffer | undefined): Promise<number>;
  removeExpired(now: Date): Promise<number>;
}

export function createSessionsRepository(db: Database): SessionsRepository {
  return {
    async create(input) {
      await db('sessions').insert({
        token_hash: input.tokenHash,
        host_id: input.hostId,
        csrf: input.csrf,
        expires_at: input.expiresAt,
      });
    },
    async createForAccount(input) {
      await db('sessions').insert({
        token_hash: input.tokenHash,
        account_id: input.accountId,
        csrf: input.csrf,
        expires_at: input.expiresAt,
      });
    },
    async find(tokenHash) {
      const row = await db('sessions as s')
        .leftJoin('hosts as h', 'h.id', 's.host_id')
        .where({ 's.token_hash': tokenHash })
        .andWhere('s.expires_at', '>', db.fn.now())
        .first(
          's.id',
          's.host_id',
          's.account_id',
          db.raw("h.name || '.' || h.zone as name"),
          's.csrf',
          's.expires_at',
        );
      if (!row) return undefined;
      const common = { id: row.id, csrf: row.csrf, expiresAt: row.expires_at };
      if (row.account_id !== null) return { ...common, accountId: row.account_id };
      return { ...common, hostId: row.host_id, hostName: row.name };
    },
    async remove(tokenHash) {
      await db('sessions').where({ token_hash: tokenHash }).delete();
    },
    async removeOthers(hostId, keep) {
      const query = db('sessions').where({ host_id: hostId });
      if (keep) query.whereNot({ token_hash: keep });
      return query.delete();
    },
    async removeOthersOfAccount(accountId, keep) {
      const query = db('sessions').where({ account_id: accountId });
      if (keep) query.whereNot({ token_hash: keep });
      return query.delete();
    },
    async removeExpired(now) {
      return db('sessions').where('expires_at', '<=', now).delete();
    },
  };
}
