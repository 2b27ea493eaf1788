import type { Database } from './database.ts';

/**
 * Failed logins in Postgres, shared by every API replica (migration
 * 20261202100000): N replicas must not multiply the guessing limit by N.
 */
export interface SharedFailures {
  /** The failures of each key's window (its start says whether it is over) and its block; keys without a row are absent. */
  read(
    keys: readonly string[],
  ): Promise<Map<string, { failures: number; windowStart: Date; blockedUntil: Date | null }>>;
  /**
   * Counts one failure for each key, starting a new window where the old one
   * ended; a key reaching its limit is blocked for `blockMs`. Returns the keys
   * whose block began with this failure.
   */
  record(
    failures: readonly { key: string; limit: number; windowMs: number }[],
    blockMs: number,
  ): Promise<{ key: string; blockedUntil: Date }[]>;
  /** Removes rows whose window and block are over (maintenance). */
  prune(olderThanMs: number): Promise<number>;
}

// One statement per failure: a new window when the old one is over (and no
// block is running), else one more failure; the block starts when the count
// reaches the limit, and is reported once (`started`).
const RECORD = `
  with input as (
    select * from jsonb_to_recordset(?::jsonb) as i(key text, "limit" int, window_ms bigint)
  ), upserted as (
    insert into login_failures as f (key, window_start, failures, blocked_until)
    select key, now(), 1, case when "limit" <= 1 then now() + ? * interval '1 millisecond' end from input
    on conflict (key) do update set
      window_start = case
        when f.window_start + (select window_ms from input where key = f.key) * interval '1 millisecond' <= now()
             and coalesce(f.blocked_until, '-infinity') <= now()
        then now() else f.window_start end,
      failures = case
        when f.window_start + (select window_ms from input where key = f.key) * interval '1 millisecond' <= now()
             and coalesce(f.blocked_until, '-infinity') <= now()
        then 1 else f.failures + 1 end,
      blocked_until = case
        when coalesce(f.blocked_until, '-infinity') > now() then f.blocked_until
        when (case
                when f.window_start + (select window_ms from input where key = f.key) * interval '1 millisecond' <= now()
                then 1 else f.failures + 1 end) >= (select "limit" from input where key = f.key)
        then now() + ? * interval '1 millisecond'
        else f.blocked_until end
    returning key, blocked_until, (xmax = 0) as inserted,
              blocked_until is not null and blocked_until > now() as blocked
  )
  select key, blocked_until from upserted where blocked`;

export function createSharedFailures(db: Database): SharedFailures {
  /** Which keys were blocked before this failure, to report only the blocks it starts. */
  const blockedBefore = async (keys: readonly string[]) => {
    const rows: { key: string }[] = await db('login_failures')
      .select('key')
      .whereIn('key', keys as string[])
      .andWhere('blocked_until', '>', db.fn.now());
    return new Set(rows.map((row) => row.key));
  };
  return {
    async read(keys) {
      const rows: { key: string; failures: number; window_start: Date; blocked_until: Date | null }[] =
        await db('login_failures')
          .select('key', 'failures', 'window_start', 'blocked_until')
          .whereIn('key', keys as string[]);
      return new Map(
        rows.map((row) => [
          row.key,
          { failures: row.failures, windowStart: row.window_start, blockedUntil: row.blocked_until },
        ]),
      );
    },
    async record(failures, blockMs) {
      if (failures.length === 0) return [];
      const before = await blockedBefore(failures.map((f) => f.key));
      const result = await db.raw<{ rows: { key: string; blocked_until: Date }[] }>(RECORD, [
        JSON.stringify(failures.map((f) => ({ key: f.key, limit: f.limit, window_ms: f.windowMs }))),
        blockMs,
        blockMs,
      ]);
      return result.rows
        .filter((row) => !before.has(row.key))
        .map((row) => ({ key: row.key, blockedUntil: row.blocked_until }));
    },
    async prune(olderThanMs) {
      return db('login_failures')
        .whereRaw("window_start < now() - ? * interval '1 millisecond'", [olderThanMs])
        .andWhereRaw("coalesce(blocked_until, '-infinity') < now()")
        .delete();
    },
  };
}
