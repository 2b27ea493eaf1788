import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { createPowerDnsClient } from '@mydns/powerdns';
import { harness } from '../support/harness.ts';
import { createTestDatabase, startTestMyDns, uniqueZone } from '../support/mydns.ts';
import { runProgram } from '../support/programs.ts';

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
const pdns = () => createPowerDnsClient({ apiUrl: harness().pdnsApiUrl, apiKey: harness().pdnsApiKey });

before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  for (const zone of [zoneA, zoneB]) await pdns().deleteZone(zone).catch(() => undefined);
  await database?.drop();
});

const cli = (args: string[], zones: string) =>
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
    },
    timeoutMs: 60_000,
  });

test('a restart with another zone is refused until the hosts are moved; then DNS answers in the new zone only', async () => {
  const first = await startTestMyDns({ env: { MYDNS_ZONE: zoneA }, database });
  try {
    await first.createHost('alice', 'secret-of-a-1');
    await first.createHost('bob', 'secret-of-b-12');
    const update = await first.request('/nic/update?hostname=alice&myip=198.51.100.10', {
      auth: ['alice', 'secret-of-a-1'],
    });
    assert.equal(update.body, 'good 198.51.100.10');
    assert.deepEqual(await first.query.a(`alice.${zoneA}`), ['198.51.100.10']);
  } finally {
    await first.stop();
  }

  // Zone B only: the hosts of A would be stranded, so the start says so and stops.
  await assert.rejects(startTestMyDns({ env: { MYDNS_ZONE: zoneB }, database }), (error: Error) => {
    assert.equal(
      error.message,
      [
        'hosts are still in zones that are no longer configured (MYDNS_ZONES):',
        `${zoneA}: 2 hosts (alice, bob); move them with \`npm run cli -- zone move ${zoneA} ${zoneB}\`, or delete each with \`npm run cli -- host delete <name>.${zoneA}\``,
      ].join('\n'),
    );
    return true;
  });

  const listed = await cli(['zone', 'list'], zoneB);
  assert.equal(listed.code, 0, listed.output);
  assert.match(listed.stdout, new RegExp(`^${zoneB}\\s+0\\s+default$`, 'm'));
  assert.match(listed.stdout, new RegExp(`^${zoneA}\\s+2\\s+not configured$`, 'm'));

  const moved = await cli(['zone', 'move', zoneA, zoneB], zoneB);
  assert.equal(moved.code, 0, moved.output);
  assert.match(moved.stdout, new RegExp(`moved 2 hosts from ${zoneA} to ${zoneB}`));

  const second = await startTestMyDns({ env: { MYDNS_ZONE: zoneB }, database });
  try {
    await second.services.zoneWriters.flush();
    assert.deepEqual(await second.query.a(`alice.${zoneB}`), ['198.51.100.10']);
    assert.deepEqual(await second.query.a(`alice.${zoneA}`), [], 'the old zone keeps no stale record');
    const again = await second.request('/nic/update?hostname=alice&myip=198.51.100.11', {
      auth: [`alice.${zoneB}`, 'secret-of-a-1'],
    });
    assert.equal(again.body, 'good 198.51.100.11');
    assert.deepEqual(await second.query.a(`alice.${zoneB}`), ['198.51.100.11']);
  } finally {
    await second.stop();
  }
});
