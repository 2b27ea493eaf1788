import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type AddressChange,
  commitAddressChanges,
  createAddressCommitter,
  createDatabase,
  type Database,
  type FamilyChange,
  isAddressChangeError,
} from '@mydns/db';
import pg from 'pg';
import { createTestDatabase, startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Group commit of address changes (packages/db address-committer.ts) against
 * the real Postgres: changes that arrive while a commit is in flight are
 * committed together in one transaction (seen in the rows' xmin, the id of
 * the transaction that wrote them), each with its outbox row; a host twice in
 * one group is applied in arrival order, each change seeing the one before; a
 * change Postgres refuses fails alone.
 */

const PASSWORD = 'group-commit-password';
const set = (address: string): FamilyChange => ({ keep: false, address });
const keep: FamilyChange = { keep: true };

/** The transaction that last wrote each row (xmin), by host name. */
async function writers(url: string, names: readonly string[]): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; xid: string }>(
      'select name, xmin::text as xid from hosts where name = any($1)',
      [names],
    );
    return new Map(rows.map((row) => [row.name, row.xid]));
  } finally {
    await client.end();
  }
}

describe('through the API', () => {
  let mydns: TestMyDns;
  before(async () => {
    mydns = await startTestMyDns({ env: { MYDNS_HOST_UPDATE_LIMIT: '1000/10m' } });
  });
  after(async () => {
    await mydns?.stop();
  });

  test('changes that arrive while a commit is in flight are committed together, in one transaction', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `g${i}`);
    for (const name of ['first', ...names]) {
      await mydns.createHost(name, PASSWORD);
      // Warms the credential cache, so that the updates below reach Postgres together.
      const warm = await mydns.request(`/nic/update?hostname=${name}&myip=192.0.2.1`, {
        auth: [name, PASSWORD],
      });
      assert.equal(warm.body, 'good 192.0.2.1');
    }
    // The change of `first` is held in flight: its row is locked here.
    const locker = new pg.Client({ connectionString: mydns.databaseUrl });
    await locker.connect();
    let replies: { status: number; body: string }[] = [];
    try {
      await locker.query('begin');
      await locker.query(`select 1 from hosts where name = 'first' for update`);
      const firstReply = mydns.request('/nic/update?hostname=first&myip=198.51.100.1', {
        auth: ['first', PASSWORD],
      });
      await waitFor(
        async () =>
          (
            await locker.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity
                where datname = current_database() and wait_event_type = 'Lock'`,
            )
          ).rows[0]?.n === 1,
        { message: 'the change of first to wait for its row lock' },
      );
      let answered = 0;
      const sent = names.map((name, i) =>
        mydns
          .request(`/nic/update?hostname=${name}&myip=198.51.100.${i + 10}`, { auth: [name, PASSWORD] })
          .finally(() => answered++),
      );
      const waitingToCommit = async () => {
        const metrics = (await mydns.request('/metrics')).body;
        return Number(/^mydns_address_changes_waiting (\d+)$/m.exec(metrics)?.[1] ?? 0);
      };
      // Either they wait for the commit in flight (grouped) or, each committed
      // alone, they are answered at once.
      await waitFor(async () => answered === names.length || (await waitingToCommit()) === names.length, {
        message: 'the other changes to be answered or to wait for the commit in flight',
      });
      await locker.query('commit');
      replies = await Promise.all([firstReply, ...sent]);
    } finally {
      await locker.end();
    }
    assert.deepEqual(
      replies.map((reply) => reply.body),
      ['good 198.51.100.1', ...names.map((_, i) => `good 198.51.100.${i + 10}`)],
    );
    const xids = await writers(mydns.databaseUrl, ['first', ...names]);
    const grouped = new Set(names.map((name) => xids.get(name)));
    assert.equal(
      grouped.size,
      1,
      `the ${names.length} changes in one transaction (${[...grouped].join(', ')})`,
    );
    assert.notEqual(xids.get('first'), xids.get('g0'), 'the change in flight was a transaction of its own');
    for (const [i, name] of names.entries()) {
      assert.deepEqual(await mydns.records(name, 'A'), [`198.51.100.${i + 10}`]);
      assert.deepEqual(await mydns.query.a(`${name}.${mydns.zone}`), [`198.51.100.${i + 10}`]);
    }
  });
});

describe('the committer on Postgres', () => {
  let database: { url: string; drop(): Promise<void> };
  let db: Database;
  before(async () => {
    database = await createTestDatabase();
    db = createDatabase({ url: database.url, poolMax: 2 });
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
  });

  async function createHosts(names: readonly string[], ipv4: string): Promise<Map<string, number>> {
    const rows: { id: number; name: string }[] = await db('hosts')
      .insert(names.map((name) => ({ name, password_hash: 'x', ipv4 })))
      .returning(['id', 'name']);
    return new Map(rows.map((row) => [row.name, row.id]));
  }

  /** A real committer: a first change goes at once; those applied right after it wait and form one group. */
  function startedCommitter() {
    const groups: number[] = [];
    const committer = createAddressCommitter({
      commit: (changes) => commitAddressChanges(db, changes),
      isChangeError: isAddressChangeError,
      onGroup: (changes) => groups.push(changes),
    });
    return { committer, groups };
  }

  test('one host several times in a group: in arrival order, each change seeing the one before, one transaction', async () => {
    const ids = await createHosts(['warm1', 'twice'], '192.0.2.1');
    const id = ids.get('twice') ?? 0;
    const { committer, groups } = startedCommitter();
    const inFlight = committer.apply(ids.get('warm1') ?? 0, set('192.0.2.9'), keep);
    const results = await Promise.all([
      committer.apply(id, set('10.0.0.1'), keep),
      committer.apply(id, set('10.0.0.2'), keep),
      committer.apply(id, set('10.0.0.2'), keep),
      committer.apply(id, keep, set('2001:db8::2')),
      committer.apply(id, set('10.0.0.3'), set('2001:db8::3')),
    ]);
    await inFlight;
    assert.deepEqual(groups, [1, 5], 'the five changes in one group');
    const shape = (r: AddressChange | undefined) => r && [r.oldIpv4, r.oldIpv6, r.ipv4, r.ipv6];
    assert.deepEqual(results.map(shape), [
      ['192.0.2.1', null, '10.0.0.1', null],
      ['10.0.0.1', null, '10.0.0.2', null],
      undefined, // nothing to change under the row lock: nochg
      ['10.0.0.2', null, '10.0.0.2', '2001:db8::2'],
      ['10.0.0.2', '2001:db8::2', '10.0.0.3', '2001:db8::3'],
    ]);
    const row = await db('hosts').where({ id }).first('ipv4', 'ipv6', db.raw('xmin::text as xid'));
    assert.deepEqual([row.ipv4, row.ipv6], ['10.0.0.3', '2001:db8::3'], 'the last change wins');
    const outbox: { id: number; xid: string }[] = await db('dns_outbox')
      .where({ name: 'twice' })
      .orderBy('id')
      .select('id', db.raw('xmin::text as xid'));
    assert.deepEqual(
      outbox.map((o) => o.id),
      results.flatMap((r) => (r ? [r.outboxId] : [])),
      'one outbox row per change that changed something',
    );
    assert.deepEqual(
      new Set(outbox.map((o) => o.xid)),
      new Set([row.xid]),
      'the changes and their outbox rows in one transaction',
    );
  });

  test('a change Postgres refuses fails alone; the others of its group are committed with their outbox rows', async () => {
    const ids = await createHosts(['warm2', 'ok1', 'bad', 'ok2'], '192.0.2.1');
    const id = (name: string) => ids.get(name) ?? 0;
    const { committer, groups } = startedCommitter();
    const inFlight = committer.apply(id('warm2'), set('192.0.2.9'), keep);
    const [ok1, bad, ok2] = await Promise.allSettled([
      committer.apply(id('ok1'), set('10.1.0.1'), keep),
      // An IPv6 address as ipv4: the hosts_ipv4_family check refuses it.
      committer.apply(id('bad'), set('2001:db8::1'), keep),
      committer.apply(id('ok2'), set('10.1.0.2'), keep),
    ]);
    await inFlight;
    assert.deepEqual(groups, [1, 3, 1, 1, 1], 'the group failed, then each change went alone');
    assert.equal(ok1.status === 'fulfilled' && ok1.value?.ipv4, '10.1.0.1');
    assert.equal(ok2.status === 'fulfilled' && ok2.value?.ipv4, '10.1.0.2');
    assert.equal(bad.status, 'rejected');
    assert.equal((bad as PromiseRejectedResult).reason.code, '23514');
    const rows: { name: string; ipv4: string }[] = await db('hosts')
      .whereIn('name', ['ok1', 'bad', 'ok2'])
      .orderBy('name')
      .select('name', 'ipv4');
    assert.deepEqual(rows, [
      { name: 'bad', ipv4: '192.0.2.1' },
      { name: 'ok1', ipv4: '10.1.0.1' },
      { name: 'ok2', ipv4: '10.1.0.2' },
    ]);
    const queued: { name: string }[] = await db('dns_outbox')
      .whereIn('name', ['ok1', 'bad', 'ok2'])
      .orderBy('name')
      .select('name');
    assert.deepEqual(
      queued.map((q) => q.name),
      ['ok1', 'ok2'],
    );
  });

  test('two replicas’ groups over the same hosts, in opposite orders, both commit (rows locked in id order)', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `both${i}`);
    const ids = [...(await createHosts(names, '192.0.2.1')).values()];
    const other = createDatabase({ url: database.url, poolMax: 1 });
    try {
      for (let round = 1; round <= 5; round++) {
        const forward = ids.map((id) => ({ id, v4: set(`10.2.${round}.1`), v6: keep }));
        const backward = [...ids].reverse().map((id) => ({ id, v4: set(`10.2.${round}.2`), v6: keep }));
        const [a, b] = await Promise.all([
          commitAddressChanges(db, forward),
          commitAddressChanges(other, backward),
        ]);
        // Whichever committed second saw the first one's values as old ones.
        const changedBoth = a.every(Boolean) && b.every(Boolean);
        assert.ok(changedBoth, `round ${round}: every change of both groups changed its host`);
      }
    } finally {
      await other.destroy();
    }
  });
});
