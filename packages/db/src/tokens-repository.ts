import { oneAtATimePerKey } from '@mydns/runtime';
import type { Database } from './database.ts';
import { preparedQuery } from './database.ts';

export interface TokenRecord {
  readonly id: number;
  readonly label: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

/** Update tokens: only their SHA-256 is stored; the secret is shown once, at creation. */
export interface TokensRepository {
  /**
   * A new token, or undefined when the host already has `max` live ones (the
   * host's row is locked for the check, so parallel creations cannot pass it together).
   */
  create(hostId: number, label: string, hash: Buffer, max: number): Promise<TokenRecord | undefined>;
  list(hostId: number): Promise<TokenRecord[]>;
  /** Revokes and bumps the host's credential version in one transaction (so caches forget it). */
  revoke(hostId: number, id: number): Promise<boolean>;
  /**
   * The live token with this hash, if it belongs to `hostId` (or to any host when
   * `hostId` is undefined). `hostName` is the host's full name, `label.zone`.
   */
  find(
    hash: Buffer,
    hostId?: number,
  ): Promise<{ id: number; hostName: string; lastUsedAt: Date | null } | undefined>;
  /** At most one write per token per hour, like a host's "last seen". */
  touch(id: number): Promise<void>;
}

interface TokenRow {
  id: number;
  label: string;
  created_at: Date;
  last_used_at: Date | null;
}

const toToken = (row: TokenRow): TokenRecord => ({
  id: row.id,
  label: row.label,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

const FIND_TOKEN = `
  select t.id, h.name || '.' || h.zone as host_name, t.last_used_at
    from update_tokens t join hosts h on h.id = t.host_id
   where t.token_hash = $1 and t.revoked_at is null and ($2::bigint is null or t.host_id = $2)`;

export function createTokensRepository(db: Database): TokensRepository {
  // One transaction per host at a time from this process: the others wait here, not on the pool.
  const perHost = oneAtATimePerKey<number>();
  return {
    async create(hostId, label, hash, max) {
      return perHost(hostId, () =>
        db.transaction(async (trx) => {
          await trx('hosts').where({ id: hostId }).forUpdate().first('id');
          const live = await trx('update_tokens')
            .where({ host_id: hostId })
            .whereNull('revoked_at')
            .count<{ count: string }[]>({ count: '*' })
            .first();
          if (Number(live?.count ?? 0) >= max) return undefined;
          const [row] = await trx('update_tokens')
            .insert({ host_id: hostId, label, token_hash: hash })
            .returning(['id', 'label', 'created_at', 'last_used_at']);
          return toToken(row as TokenRow);
        }),
      );
    },
    async list(hostId) {
      const rows: TokenRow[] = await db('update_tokens')
        .select('id', 'label', 'created_at', 'last_used_at')
        .where({ host_id: hostId })
        .whereNull('revoked_at')
        .orderBy('id');
      return rows.map(toToken);
    },
    async revoke(hostId, id) {
      return db.transaction(async (trx) => {
        const revoked = await trx('update_tokens')
          .where({ id, host_id: hostId })
          .whereNull('revoked_at')
          .update({ revoked_at: trx.fn.now() });
        if (revoked === 0) return false;
        await trx('hosts')
          .where({ id: hostId })
          .update({ credential_version: trx.raw('credential_version + 1') });
        return true;
      });
    },
    async find(hash, hostId) {
      const [row] = await preparedQuery<{ id: number; host_name: string; last_used_at: Date | null }>(
        db,
        'mydns_find_token',
        FIND_TOKEN,
        [hash, hostId ?? null],
      );
      return row ? { id: row.id, hostName: row.host_name, lastUsedAt: row.last_used_at } : undefined;
    },
    async touch(id) {
      await db.raw(
        `update update_tokens set last_used_at = now()
          where id = ? and (last_used_at is null or last_used_at < now() - interval '1 hour')`,
        [id],
      );
    },
  };
}
