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
import { createTestDatabase, startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
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

/** The transaction that last wrote each host row (xmin), by full name. */
async function writers(url: string): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; xid: string }>(
      `select name || '.' || zone as name, xmin::text as xid from hosts`,
    );
    return new Map(rows.map((row) => [row.name, row.xid]));
  } finally {
    await client.end();
  }
}

describe('through the API, two zones', () => {
  let mydns: TestMyDns;
  const zoneA = uniqueZone();
  const zoneB = uniqueZone();
  before(async () => {
    mydns = await startTestMyDns({
      env: { MYDNS_ZONES: `${zoneA},${zoneB}`, MYDNS_HOST_UPDATE_LIMIT: '1000/10m' },
    });
  });
  after(async () => {
    await mydns?.stop();
  });

  test('changes that arrive while a commit is in flight are committed together, in one transaction, each zone’s pushed by its writer', async () => {
    // The same labels in both zones: one group holds hosts of both zones, some with the same label.
    const labels = Array.from({ length: 6 }, (_, i) => `g${i}`);
    const hosts = [zoneA, zoneB].flatMap((zone) => labels.map((label) => ({ zone, label })));
    const full = (host: { zone: string; label: string }) => `${host.label}.${host.zone}`;
    const address = (i: number) => `198.51.100.${i + 10}`;
    for (const host of [{ zone: zoneA, label: 'first' }, ...hosts]) {
      const created = await mydns.request('/api/v1/hosts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hostname: host.label, zone: host.zone, password: PASSWORD }),
      });
      assert.equal(created.status, 201, created.body);
      // Warms the credential cache, so that the updates below reach Postgres together.
      const warm = await mydns.request(`/nic/update?hostname=${full(host)}&myip=192.0.2.1`, {
        auth: [full(host), PASSWORD],
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
      const sent = hosts.map((host, i) =>
        mydns
          .request(`/nic/update?hostname=${full(host)}&myip=${address(i)}`, { auth: [full(host), PASSWORD] })
          .finally(() => answered++),
      );
      const waitingToCommit = async () => {
        const metrics = (await mydns.request('/metrics')).body;
        return Number(/^mydns_address_changes_waiting (\d+)$/m.exec(metrics)?.[1] ?? 0);
      };
      // Either they wait for the commit in flight (grouped) or, each committed
      // alone, they are answered at once.
      await waitFor(async () => answered === hosts.length || (await waitingToCommit()) === hosts.length, {
        // A loaded machine (other test runs) may take long to deliver a dozen requests.
        timeoutMs: 90_000,
        message: async () =>
          `the other changes to be answered or to wait for the commit in flight (${answered} answered, ${await waitingToCommit()} waiting)`,
      });
      await locker.query('commit');
      replies = await Promise.all([firstReply, ...sent]);
    } finally {
      await locker.end();
    }
    assert.deepEqual(
      replies.map((reply) => reply.body),
      ['good 198.51.100.1', ...hosts.map((_, i) => `good ${address(i)}`)],
    );
    const xids = await writers(mydns.databaseUrl);
    const grouped = new Set(hosts.map((host) => xids.get(full(host))));
    assert.equal(
      grouped.size,
      1,
      `the ${hosts.length} changes in one transaction (${[...grouped].join(', ')})`,
    );
    assert.notEqual(
      xids.get(`first.${zoneA}`),
      xids.get(`g0.${zoneA}`),
      'the change in flight was a transaction of its own',
    );
    for (const [i, host] of hosts.entries()) {
      const rrsets = await mydns.pdns.listRrsets(host.zone, { name: full(host), type: 'A' });
      assert.deepEqual(
        rrsets.flatMap((r) => r.records),
        [address(i)],
        `${full(host)} in PowerDNS`,
      );
      assert.deepEqual(await mydns.query.a(full(host)), [address(i)], `${full(host)} answered`);
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

  async function createHosts(
    names: readonly string[],
    ipv4: string,
    zone = 'a.test',
  ): Promise<Map<string, number>> {
    const rows: { id: number; name: string }[] = await db('hosts')
      .insert(names.map((name) => ({ zone, name, password_hash: 'x', ipv4 })))
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

  test('the same label in two zones in one group: each change queues an outbox row of its own zone', async () => {
    const inA = await createHosts(['warm3', 'twin1', 'twin2'], '192.0.2.1', 'a.test');
    const inB = await createHosts(['twin1', 'twin2'], '192.0.2.1', 'b.test');
    const { committer, groups } = startedCommitter();
    const inFlight = committer.apply(inA.get('warm3') ?? 0, set('192.0.2.9'), keep);
    const sent = [
      { zone: 'a.test', name: 'twin1', id: inA.get('twin1') ?? 0, ip: '10.3.0.1' },
      { zone: 'b.test', name: 'twin1', id: inB.get('twin1') ?? 0, ip: '10.3.0.2' },
      { zone: 'b.test', name: 'twin2', id: inB.get('twin2') ?? 0, ip: '10.3.0.3' },
      { zone: 'a.test', name: 'twin2', id: inA.get('twin2') ?? 0, ip: '10.3.0.4' },
    ];
    const results = await Promise.all(sent.map((change) => committer.apply(change.id, set(change.ip), keep)));
    await inFlight;
    assert.deepEqual(groups, [1, 4], 'the four changes in one group');
    const queued = new Map(
      (
        (await db('dns_outbox')
          .whereIn(
            'id',
            results.map((r) => r?.outboxId ?? 0),
          )
          .select('id', 'zone', 'name')) as { id: number; zone: string; name: string }[]
      ).map((row) => [row.id, `${row.name}.${row.zone}`]),
    );
    assert.deepEqual(
      results.map((r) => [r?.ipv4, queued.get(r?.outboxId ?? 0)]),
      sent.map((change) => [change.ip, `${change.name}.${change.zone}`]),
      'each caller gets its own change and the outbox row of its own host',
    );
    assert.equal(new Set(results.map((r) => r?.outboxId)).size, 4, 'four outbox rows');
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

  test('a group and a history batch of the same hosts in another order never deadlock (rows locked for no key update)', async () => {
    // The history writer (history-repository.ts) inserts a batch in arrival order, and each
    // row's foreign key locks its host `for key share`; a group locks its hosts in id order.
    // Locked `for update`, the two waited for each other: Postgres's "deadlock detected" failed
    // the updates of the group (seen in `npm run bench -- million` during the reconcile pass).
    const [first, second] = [...(await createHosts(['hist-a', 'hist-b'], '192.0.2.1')).values()];
    assert.ok(first !== undefined && second !== undefined && first < second);
    const history = new pg.Client({ connectionString: database.url });
    await history.connect();
    const insert = (hostId: number) =>
      history.query(
        `insert into update_history (host_id, source_address, result) values ($1, '192.0.2.9', 'good')`,
        [hostId],
      );
    try {
      await history.query(`begin; set local lock_timeout = '5s'`);
      await insert(second);
      // The group takes the first host and meets the history batch at the second.
      const group = commitAddressChanges(db, [
        { id: first, v4: set('10.9.0.1'), v6: keep },
        { id: second, v4: set('10.9.0.2'), v6: keep },
      ]);
      // Let it reach the second host before the batch goes on to the first.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await insert(first);
      await history.query('commit');
      const results = await group;
      assert.deepEqual(
        results.map((result) => result?.ipv4),
        ['10.9.0.1', '10.9.0.2'],
      );
    } finally {
      await history.query('rollback').catch(() => undefined);
      await history.end();
    }
  });
});
