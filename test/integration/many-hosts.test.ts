import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDatabase, type Database, expireInactiveQuery, hostStatesQuery } from '@mydns/db';
import { createTestDatabase } from '../support/mydns.ts';

/**
 * What a zone of a million hosts needs of the queries that walk it
 * (README "Benchmarks", a million hosts): work per page that does not grow
 * with the zone. Checked on the plan Postgres actually ran (EXPLAIN ANALYZE),
 * not on a clock.
 */

let database: { url: string; drop(): Promise<void> };
let db: Database;
const ZONE = 'many.test';
const HOSTS = 20_000;

before(async () => {
  database = await createTestDatabase();
  db = createDatabase({ url: database.url, poolMax: 2 });
  await db.raw(
    `insert into hosts (zone, name, password_hash, ipv4)
     select ?, 'h' || lpad(g::text, 6, '0'), 'x', '198.51.100.1' from generate_series(1, ?) g`,
    [ZONE, HOSTS],
  );
  await db.raw('analyze hosts');
});
after(async () => {
  await db?.destroy();
  await database?.drop();
});

interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Rows each scan of `hosts` in the plan produced (rows × loops). */
function hostRowsRead(node: PlanNode): number[] {
  const own =
    node['Relation Name'] === 'hosts' ? [(node['Actual Rows'] ?? 0) * (node['Actual Loops'] ?? 1)] : [];
  return [...own, ...(node.Plans ?? []).flatMap(hostRowsRead)];
}

test("a reconciler page reads that page's hosts, not every later host of the zone", async () => {
  const { sql, bindings } = hostStatesQuery(ZONE, { after: 'h000100', limit: 100 });
  const { rows } = await db.raw<{ rows: { 'QUERY PLAN': [{ Plan: PlanNode }] }[] }>(
    `explain (analyze, format json) ${sql}`,
    bindings as never,
  );
  const plan = rows[0]?.['QUERY PLAN'][0].Plan;
  assert.ok(plan);
  const read = hostRowsRead(plan);
  assert.ok(read.length > 0, 'the plan scans hosts');
  // The page itself (and the row that ends the index scan), not the ~19,900 hosts after it.
  assert.ok(
    read.every((count) => count <= 101),
    `rows read from hosts per scan: ${read.join(', ')}`,
  );
  const page = await db.raw<{ rows: { name: string }[] }>(sql, bindings as never);
  assert.equal(page.rows.length, 100);
  assert.equal(page.rows[0]?.name, 'h000101');
});

/** Rows each scan of `hosts` looked at (produced or filtered out, × loops), with the scan's type. */
function hostRowsLookedAt(node: PlanNode): string[] {
  const own =
    node['Relation Name'] === 'hosts'
      ? [
          `${node['Node Type']}: ${((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1)}`,
        ]
      : [];
  return [...own, ...(node.Plans ?? []).flatMap(hostRowsLookedAt)];
}

/** The plan of the dormancy pass's statement, run (EXPLAIN ANALYZE) in a transaction rolled back after `setup`. */
async function dormancyPlan(setup: string): Promise<PlanNode | undefined> {
  const { sql, bindings } = expireInactiveQuery(new Date(Date.now() - 30 * 86_400_000), 10_000);
  const trx = await db.transaction();
  try {
    if (setup) {
      await trx.raw(setup);
      await trx.raw('analyze hosts');
    }
    const { rows } = await trx.raw<{ rows: { 'QUERY PLAN': [{ Plan: PlanNode }] }[] }>(
      `explain (analyze, format json) ${sql}`,
      bindings as never,
    );
    return rows[0]?.['QUERY PLAN'][0].Plan;
  } finally {
    await trx.rollback();
  }
}

test('a dormancy pass looks at the hosts it expires, not at every host (it was a sequential scan)', async () => {
  // Every host was active a minute ago; the pass looks for those inactive for 30 days.
  const idle = await dormancyPlan('');
  assert.ok(idle, 'EXPLAIN gave a plan');
  const idleScans = hostRowsLookedAt(idle);
  assert.ok(idleScans.length > 0, 'the plan reads hosts');
  assert.ok(
    idleScans.every((scan) => !scan.startsWith('Seq Scan') && Number(scan.split(': ')[1]) <= 1),
    `with nothing to do, scans of hosts: ${idleScans.join(', ')}`,
  );
  // 100 of the 20,000 inactive for 40 days: the pass reads those 100 (and updates them by id).
  const busy = await dormancyPlan(
    "update hosts set last_seen_at = now() - interval '40 days' where name between 'h010001' and 'h010100'",
  );
  assert.ok(busy, 'EXPLAIN gave a plan');
  const busyScans = hostRowsLookedAt(busy);
  assert.ok(
    busyScans.every((scan) => !scan.startsWith('Seq Scan') && Number(scan.split(': ')[1]) <= 100),
    `with 100 to expire, scans of hosts: ${busyScans.join(', ')}`,
  );
});
