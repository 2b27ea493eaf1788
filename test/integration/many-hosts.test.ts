import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDatabase, type Database, hostStatesQuery } from '@mydns/db';
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
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
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
