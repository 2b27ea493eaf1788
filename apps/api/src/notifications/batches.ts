import type { Database } from '@mydns/db';
import type { Knex } from 'knex';

/**
 * Runs `batch` in transactions of its own until one handles fewer than
 * `size` rows: a pass gets through everything due, however much piled up,
 * while each transaction holds its claimed rows locked only for one batch.
 * The total handled.
 */
export async function drainInBatches(
  db: Database,
  size: number,
  batch: (trx: Knex.Transaction, size: number) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const count = await db.transaction((trx) => batch(trx, size));
    total += count;
    if (count < size) return total;
  }
}
