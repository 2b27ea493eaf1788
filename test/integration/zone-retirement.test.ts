import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { createPowerDnsClient } from '@mydns/powerdns';
import { createDnsQuery } from '../support/dns.ts';
import { harness } from '../support/harness.ts';
import { createTestDatabase, startTestMyDns, uniqueZone } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { runProgram } from '../support/programs.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Retiring a zone (README "Several zones"): a restart with another MYDNS_ZONE
 * used to move every host silently into the new zone and leave the old one
 * served with stale records. Now the start refuses, naming the hosts still in
 * the old zone and the commands that move or delete them; after `zone move`
 * the start works, DNS answers in the new zone and the records are gone from
 * the old one.
 */

const root = resolve(import.meta.dirname, '../..');
const tsx = join(root, 'node_modules/.bin/tsx');

let database: { url: string; drop(): Promise<void> };
const zoneA = uniqueZone();
const zoneB = uniqueZone();
const dns = createDnsQuery(harness().dnsPort);
const pdns = () => createPowerDnsClient({ apiUrl: harness().pdnsApiUrl, apiKey: harness().pdnsApiKey });

before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  for (const zone of [zoneA, zoneB])
    await pdns()
      .deleteZone(zone)
      .catch(() => undefined);
  await database?.drop();
});

const cli = (args: string[], zones: string, env: Record<string, string> = {}) =>
  runProgram(tsx, ['apps/api/src/cli.ts', ...args], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: database.url,
      MYDNS_ZONES: zones,
      MYDNS_PDNS_API_URL: harness().pdnsApiUrl,
      MYDNS_PDNS_API_KEY: harness().pdnsApiKey,
      MYDNS_BCRYPT_COST: '4',
      ...env,
    },
    timeoutMs: 60_000,
  });

const refusal = (hosts: string) =>
  [
    'hosts are still in zones that are no longer configured (MYDNS_ZONES):',
    `${zoneA}: ${hosts}; move them with \`npm run cli -- zone move ${zoneA} ${zoneB}\`, or delete each with \`npm run cli -- host delete <name>.${zoneA}\``,
  ].join('\n');

test('a restart with another zone is refused until the hosts are moved; then DNS answers in the new zone only', async () => {
  const first = await startTestMyDns({ env: { MYDNS_ZONE: zoneA }, database });
  try {
    for (const name of ['alice', 'bob', 'carol'])
      await first.createHost(name, `retire-test-${name.length}-pass`);
    for (const [name, ip] of [
      ['alice', '198.51.100.10'],
      ['carol', '198.51.100.12'],
    ] as const) {
      const update = await first.request(`/nic/update?hostname=${name}&myip=${ip}`, {
        auth: [name, `retire-test-${name.length}-pass`],
      });
      assert.equal(update.body, `good ${ip}`);
    }
    assert.deepEqual(await first.query.a(`alice.${zoneA}`), ['198.51.100.10']);
  } finally {
    await first.stop();
  }

  // Zone B only: the hosts of A would be stranded, so the start says so and stops.
  await assert.rejects(startTestMyDns({ env: { MYDNS_ZONE: zoneB }, database }), (error: Error) => {
    assert.equal(error.message, refusal('3 hosts (alice, bob, carol)'));
    return true;
  });

  // One host deleted by its full name in the retired zone: its records leave A at once.
  const deleted = await cli(['host', 'delete', `carol.${zoneA}`], zoneB);
  assert.equal(deleted.code, 0, deleted.output);
  assert.match(
    deleted.stdout,
    new RegExp(`^deleted carol\\.${zoneA.replace('.', '\\.')}; its records left ${zoneA}`, 'm'),
  );
  assert.deepEqual(await dns.a(`carol.${zoneA}`), []);

  // Both zones served: the start works, and bob registers in B (the default zone now).
  const both = await startTestMyDns({ env: { MYDNS_ZONES: `${zoneB},${zoneA}` }, database });
  try {
    await both.createHost('bob', 'retire-test-b-pass');
  } finally {
    await both.stop();
  }
  await assert.rejects(startTestMyDns({ env: { MYDNS_ZONE: zoneB }, database }), (error: Error) => {
    assert.equal(error.message, refusal('2 hosts (alice, bob)'));
    return true;
  });

  const listed = await cli(['zone', 'list'], zoneB);
  assert.equal(listed.code, 0, listed.output);
  assert.equal(
    listed.stdout.replace(/ +/g, ' '),
    `ZONE HOSTS STATE\n${zoneB} 1 default\n${zoneA} 2 not configured\n`,
  );

  // bob is in both zones: nothing moves until one of them is gone.
  const clash = await cli(['zone', 'move', zoneA, zoneB], zoneB);
  assert.equal(clash.code, 1, clash.output);
  assert.equal(
    clash.stderr.trim(),
    'mydns: nothing moved: these labels exist in both zones: bob; delete or rename one of each first',
  );
  const notServed = await cli(['zone', 'move', zoneB, 'elsewhere.example'], zoneB);
  assert.equal(notServed.code, 1);
  assert.match(notServed.stderr, /elsewhere\.example is not one of MYDNS_ZONES/);
  assert.equal((await cli(['host', 'delete', `bob.${zoneB}`], zoneB)).code, 0);

  const moved = await cli(['zone', 'move', zoneA, zoneB], zoneB);
  assert.equal(moved.code, 0, moved.output);
  assert.equal(
    moved.stdout,
    `moved 2 hosts from ${zoneA} to ${zoneB}\ntheir records left ${zoneA} and are in ${zoneB}\n`,
  );
  // The records left A with the move, before anything starts again.
  assert.deepEqual(await dns.a(`alice.${zoneA}`), []);
  assert.deepEqual(await dns.a(`alice.${zoneB}`), ['198.51.100.10']);

  const second = await startTestMyDns({ env: { MYDNS_ZONE: zoneB }, database });
  try {
    assert.deepEqual(await second.query.a(`alice.${zoneB}`), ['198.51.100.10']);
    assert.deepEqual(await second.query.a(`alice.${zoneA}`), [], 'the old zone keeps no stale record');
    const again = await second.request('/nic/update?hostname=alice&myip=198.51.100.11', {
      auth: [`alice.${zoneB}`, 'retire-test-5-pass'],
    });
    assert.equal(again.body, 'good 198.51.100.11');
    assert.deepEqual(await second.query.a(`alice.${zoneB}`), ['198.51.100.11']);
    const list = await cli(['zone', 'list'], zoneB);
    assert.equal(list.stdout.replace(/ +/g, ' '), `ZONE HOSTS STATE\n${zoneB} 2 default\n`);
  } finally {
    await second.stop();
  }
});

test('a move the CLI could not push: the next start removes the records from the old zone and writes them in the new', async () => {
  const old = uniqueZone();
  const next = uniqueZone();
  const own = await createTestDatabase();
  const previous = database;
  database = own;
  try {
    const first = await startTestMyDns({ env: { MYDNS_ZONE: old }, database: own });
    try {
      await first.createHost('dora', 'retire-test-d-pass');
      const update = await first.request('/nic/update?hostname=dora&myip=198.51.100.20', {
        auth: ['dora', 'retire-test-d-pass'],
      });
      assert.equal(update.body, 'good 198.51.100.20');
    } finally {
      await first.stop();
    }
    // PowerDNS out of reach for the CLI: the move is committed, its DNS changes wait in Postgres.
    const moved = await cli(['zone', 'move', old, next], next, {
      MYDNS_PDNS_API_URL: `http://127.0.0.1:${await freePort()}`,
    });
    assert.equal(moved.code, 0, moved.output);
    assert.match(
      moved.stdout,
      /^moved 1 hosts from .*\nPowerDNS did not take the changes \(.*\); MyDNS pushes them at its next start\n$/,
    );
    assert.deepEqual(await dns.a(`dora.${old}`), ['198.51.100.20'], 'nothing pushed yet');

    const second = await startTestMyDns({ env: { MYDNS_ZONE: next }, database: own });
    try {
      await waitFor(async () => (await dns.a(`dora.${old}`)).length === 0, {
        message: `dora.${old} to leave the old zone`,
      });
      await waitFor(async () => (await dns.a(`dora.${next}`))[0] === '198.51.100.20', {
        message: `dora.${next} in the new zone`,
      });
      // The rows are marked done in the transaction that PATCHed: a moment after DNS answers.
      await waitFor(
        async () => Number((await second.db('dns_outbox').count<{ n: number }[]>({ n: '*' }))[0]?.n) === 0,
        { message: 'nothing left pending, in either zone' },
      );
    } finally {
      await second.stop();
    }
  } finally {
    database = previous;
    for (const zone of [old, next])
      await pdns()
        .deleteZone(zone)
        .catch(() => undefined);
    await own.drop();
  }
});
