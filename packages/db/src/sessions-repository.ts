import type { Database } from './database.ts';

export interface SessionRecord {
  readonly id: number;
  readonly hostId: number;
  /** The host's full name, `label.zone`. */
  readonly hostName: string;
  readonly csrf: string;
  readonly expiresAt: Date;
}

export interface SessionsRepository {
  create(input: { tokenHash: Buffer; hostId: number; csrf: string; expiresAt: Date }): Promise<void>;
  find(tokenHash: Buffer): Promise<SessionRecord | undefined>;
  remove(tokenHash: Buffer): Promise<void>;
  /** Ends every session of the host but the one given (after a password change). */
  removeOthers(hostId: number, keep: Buffer | undefined): Promise<number>;
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
    async find(tokenHash) {
      const row = await db('sessions as s')
        .join('hosts as h', 'h.id', 's.host_id')
        .where({ 's.token_hash': tokenHash })
        .andWhere('s.expires_at', '>', db.fn.now())
        .first('s.id', 's.host_id', db.raw("h.name || '.' || h.zone as name"), 's.csrf', 's.expires_at');
      return row
        ? { id: row.id, hostId: row.host_id, hostName: row.name, csrf: row.csrf, expiresAt: row.expires_at }
        : undefined;
    },
    async remove(tokenHash) {
      await db('sessions').where({ token_hash: tokenHash }).delete();
    },
    async removeOthers(hostId, keep) {
      const query = db('sessions').where({ host_id: hostId });
      if (keep) query.whereNot({ token_hash: keep });
      return query.delete();
    },
    async removeExpired(now) {
      return db('sessions').where('expires_at', '<=', now).delete();
    },
  };
}
