import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDatabase, createDnsOutboxStore, type Database } from '@mydns/db';
import { createPowerDnsClient, createZoneWriter, type PowerDnsClient } from '@mydns/powerdns';
import { createLogger } from '@mydns/runtime';
import { createDnsQuery } from '../support/dns.ts';
import { harness } from '../support/harness.ts';
import { createTestDatabase, uniqueZone } from '../support/mydns.ts';

/**
 * The write path's round trips to Postgres (README "Benchmarks", the write
 * path). At light load an update waits for each of them in turn, one after
 * the other, so they are what its latency is made of besides the commit and
 * the PATCH: they are counted here, on the real Postgres and PowerDNS, not
 * timed.
 */

const logger = createLogger({ level: 'error', format: 'pretty', silent: !process.env.TEST_LOG });
let database: { url: string; drop(): Promise<void> };
let db: Database;
let dns: PowerDnsClient;
let queries = 0;
const zone = uniqueZone();

/** Counts every statement the pool's connections send (each one a round trip: pg waits for its answer). */
function countQueries(target: Database): void {
  const client = target.client as {
    acquireConnection(): Promise<{ query: (...args: unknown[]) => unknown }>;
  };
  const acquire = client.acquireConnection.bind(client);
  const counted = new WeakSet<object>();
  client.acquireConnection = async () => {
    const connection = await acquire();
    if (!counted.has(connection)) {
      counted.add(connection);
      const query = connection.query.bind(connection);
      connection.query = (...args: unknown[]) => {
        queries++;
        return query(...args);
      };
    }
    return connection;
  };
}

before(async () => {
  database = await createTestDatabase();
  db = createDatabase({ url: database.url, poolMax: 2 });
  countQueries(db);
  const { pdnsApiUrl, pdnsApiKey } = harness();
  dns = createPowerDnsClient({ apiUrl: pdnsApiUrl, apiKey: pdnsApiKey });
  await dns.createZone({ name: zone, kind: 'Native', nameservers: [`ns1.${zone}`] });
});
after(async () => {
  await dns?.deleteZone(zone).catch(() => undefined);
  await db?.destroy();
  await database?.drop();
});

test("the zone writer's cycle reaches its PATCH after one round trip to Postgres: lock and read go together", async () => {
  await db('hosts').insert({ zone, name: 'alice', password_hash: 'x', ipv4: '198.51.100.7' });
  await db('dns_outbox').insert({ zone, name: 'alice' });
  let beforePatch: number | undefined;
  const writer = createZoneWriter({
    zone,
    ttl: 60,
    store: createDnsOutboxStore(db),
    dns: {
      ...dns,
      patchZoneEntries: async (name, entries) => {
        beforePatch ??= queries;
        await dns.patchZoneEntries(name, entries);
      },
    },
    logger,
  });
  const started = queries;
  await writer.flush();
  assert.equal(beforePatch === undefined ? undefined : beforePatch - started, 1);
  // And it did its work: PowerDNS answers the host's address, and the outbox is empty.
  assert.deepEqual(await createDnsQuery(harness().dnsPort).a(`alice.${zone}`), ['198.51.100.7']);
  assert.equal((await db('dns_outbox').where({ zone })).length, 0);
  await writer.stop();
});

test('a batch takes the rows requests wait for first, then the oldest: each once, only its zone’s', async () => {
  const other = uniqueZone();
  const names = ['bg1', 'bg2', 'bg3', 'bg4', 'alice2'];
  await db('hosts').insert(
    names.map((name, i) => ({ zone, name, password_hash: 'x', ipv4: `198.51.100.${20 + i}` })),
  );
  await db('hosts').insert({ zone: other, name: 'elsewhere', password_hash: 'x', ipv4: '198.51.100.30' });
  const ids = new Map<string, number>();
  for (const name of names) {
    const [row] = await db('dns_outbox').insert({ zone, name }).returning('id');
    ids.set(name, Number(row.id));
  }
  const [foreign] = await db('dns_outbox').insert({ zone: other, name: 'elsewhere' }).returning('id');
  const store = createDnsOutboxStore(db);
  const batch = (first: readonly (number | undefined)[]) =>
    store.withPendingBatch(zone, { limit: 3, first: first as number[] }, async ({ entries, states }) => ({
      names: entries.map((entry) => entry.name),
      states: states.map((state) => `${state.name} ${state.ipv4}`),
    }));
  assert.deepEqual(await batch([]), {
    names: ['bg1', 'bg2', 'bg3'],
    states: ['bg1 198.51.100.20', 'bg2 198.51.100.21', 'bg3 198.51.100.22'],
  });
  // The waited-for row, then the oldest; one of the oldest named as well counts once.
  assert.deepEqual(await batch([ids.get('alice2'), ids.get('bg1')]), {
    names: ['bg1', 'bg2', 'alice2'],
    states: ['bg1 198.51.100.20', 'bg2 198.51.100.21', 'alice2 198.51.100.24'],
  });
  // Another zone's row, or one already done, is not taken.
  assert.deepEqual((await batch([Number(foreign.id), 999_999_999])).names, ['bg1', 'bg2', 'bg3']);
  await db('dns_outbox').whereIn('zone', [zone, other]).delete();
});
