/**
 * Postgres alone: ways to commit a group of address changes, each change
 * with its outbox row, measured on the same database in the same run (the
 * choice behind packages/db address-changes.ts):
 *
 * - a transaction per change, several in parallel on a pool (what the API
 *   did before group commit: one statement per request);
 * - one transaction, a statement per change, one round trip each;
 * - the same, pipelined (pg's `pipeline` mode: every statement sent at once);
 * - one statement for the whole group (`unnest` of arrays), its own transaction.
 */
import { commitAddressChanges, createDatabase, type Database, type PendingChange } from '@mydns/db';
import pg from 'pg';
import { createHosts, fmt } from './stack.ts';

/** One change, as the API committed it before group commit. */
const APPLY_ONE = `
  with old as (
    select id, name, ipv4, ipv6, status from hosts where id = $1 for update
  ), next as (
    select id, name, ipv4 as old_ipv4, ipv6 as old_ipv6, status as old_status,
           case when $2::boolean then ipv4 else $3::text end as ipv4,
           case when $4::boolean then ipv6 else $5::text end as ipv6
      from old where status in ('active', 'dormant')
  ), changed as (
    update hosts h
       set ipv4 = next.ipv4, ipv6 = next.ipv6, status = 'active', last_seen_at = now(),
           address_changed_at = case
             when next.ipv4 is distinct from next.old_ipv4 or next.ipv6 is distinct from next.old_ipv6
             then now() else h.address_changed_at end
      from next
     where h.id = next.id
       and (next.ipv4 is distinct from next.old_ipv4 or next.ipv6 is distinct from next.old_ipv6
            or next.old_status <> 'active')
    returning h.zone, h.name, next.old_ipv4, next.old_ipv6, h.ipv4, h.ipv6
  ), queued as (
    insert into dns_outbox (zone, name) select zone, name from changed returning id
  )
  select changed.old_ipv4, changed.old_ipv6, changed.ipv4, changed.ipv6, queued.id as outbox_id
    from changed cross join queued`;

/** A zone no API serves: the outbox rows these changes queue stay where they are. */
const ZONE = 'commit.bench';
const HOSTS = 1000;
const CHANGES = Number(process.env.BENCH_COMMIT_CHANGES ?? 2000);
const GROUP_SIZES = [1, 10, 100] as const;

const values = (change: PendingChange) => [
  change.id,
  change.v4.keep,
  change.v4.keep ? null : change.v4.address,
  change.v6.keep,
  change.v6.keep ? null : change.v6.address,
];

type Strategy = (group: readonly PendingChange[]) => Promise<void>;

export async function runCommitStrategies(options: {
  db: Database;
  url: string;
  hash: string;
}): Promise<void> {
  const { db } = options;
  await createHosts(db, ZONE, 'cs', HOSTS, options.hash, '10.0.0.1');
  const rows: { id: number }[] = await db('hosts').where({ zone: ZONE }).orderBy('id').select('id');
  const ids = rows.map((row) => row.id);
  const pool = createDatabase({ url: options.url, poolMax: 10 });
  const single = new pg.Client({ connectionString: options.url });
  const pipelined = new pg.Client({ connectionString: options.url, pipeline: true } as pg.ClientConfig);
  await single.connect();
  await pipelined.connect();
  const one = createDatabase({ url: options.url, poolMax: 1 });
  let step = 0;
  const strategies: [string, Strategy][] = [
    [
      'a transaction per change, 10 connections',
      async (group) => {
        await Promise.all(
          group.map((change) =>
            pool.client.acquireConnection().then(async (connection: pg.Client) => {
              try {
                await connection.query({ name: 'bench_apply_one', text: APPLY_ONE, values: values(change) });
              } finally {
                await pool.client.releaseConnection(connection);
              }
            }),
          ),
        );
      },
    ],
    [
      'one transaction, a statement per change',
      async (group) => {
        await single.query('begin');
        for (const change of group)
          await single.query({ name: 'bench_apply_one', text: APPLY_ONE, values: values(change) });
        await single.query('commit');
      },
    ],
    [
      'one transaction, a statement per change, pipelined',
      async (group) => {
        await Promise.all([
          pipelined.query('begin'),
          ...group.map((change) =>
            pipelined.query({ name: 'bench_apply_one', text: APPLY_ONE, values: values(change) }),
          ),
          pipelined.query('commit'),
        ]);
      },
    ],
    ['one statement for the group (unnest)', async (group) => void (await commitAddressChanges(one, group))],
  ];
  const results: string[] = [];
  try {
    for (const size of GROUP_SIZES) {
      const line: string[] = [];
      for (const [name, strategy] of strategies) {
        step++;
        const started = performance.now();
        for (let first = 0; first < CHANGES; first += size) {
          const group = Array.from({ length: Math.min(size, CHANGES - first) }, (_, k) => {
            const i = first + k;
            return {
              id: ids[i % HOSTS] ?? 0,
              v4: { keep: false, address: `10.${step}.${Math.floor(i / HOSTS)}.${(i % 250) + 1}` },
              v6: { keep: true },
            } as PendingChange;
          });
          await strategy(group);
        }
        const perSecond = CHANGES / ((performance.now() - started) / 1000);
        line.push(`${name}: ${fmt(perSecond)}/s`);
      }
      results.push(`   groups of ${size}: ${line.join('; ')}`);
    }
  } finally {
    await single.end();
    await pipelined.end();
    await pool.destroy();
    await one.destroy();
  }
  console.log(`\n   Postgres alone, ${fmt(CHANGES)} changes with their outbox rows, durable commits:`);
  for (const line of results) console.log(line);
}
