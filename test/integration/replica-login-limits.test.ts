import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPowerDnsClient } from '@mydns/powerdns';
import { type ApiProcess, registerHosts, startApiProcess, stopAllApiProcesses } from '../support/faults.ts';
import { harness } from '../support/harness.ts';
import { basic, createTestDatabase, uniqueZone } from '../support/mydns.ts';

/**
 * Two API replicas on one database share their failed-login counts through
 * Postgres (apps/api/src/auth/login-guard.ts): guesses spread over both get no
 * more checks than one replica alone would allow, and the block holds on both.
 */

const PASSWORD = 'one-limit-for-both';
let database: { url: string; drop(): Promise<void> };
let zone: string;
let a: ApiProcess;
let b: ApiProcess;
const pdns = () => ({ apiUrl: harness().pdnsApiUrl, apiKey: harness().pdnsApiKey });

before(async () => {
  database = await createTestDatabase();
  zone = uniqueZone();
  const common = {
    databaseUrl: database.url,
    zone,
    powerdns: pdns(),
    env: {
      MYDNS_LOGIN_FAILURE_LIMIT: '6/10m',
      MYDNS_LOGIN_HOST_FAILURE_LIMIT: '6/10m',
      // Requests come from 127.0.0.1; the guessing source is named by a trusted proxy.
      MYDNS_TRUSTED_PROXIES: '127.0.0.1/32',
    },
  };
  a = await startApiProcess({ ...common, name: 'limits-a' });
  b = await startApiProcess({ ...common, name: 'limits-b' });
  await registerHosts(a.url, ['shared'], PASSWORD);
});

after(async () => {
  await stopAllApiProcesses();
  await createPowerDnsClient(pdns())
    .deleteZone(zone)
    .catch(() => undefined);
  await database?.drop();
});

const guess = (replica: ApiProcess, secret: string) =>
  fetch(`${replica.url}/nic/update?hostname=shared&myip=198.51.100.7`, {
    headers: { authorization: basic('shared', secret), 'x-forwarded-for': '203.0.113.66' },
  }).then(async (reply) => ({ status: reply.status, body: await reply.text() }));

test('guesses spread over two replicas are limited once, and the block holds on both', async () => {
  const replies = [];
  // Alternating: each replica alone would allow 6 failures, 12 in all.
  for (let i = 0; i < 12; i++) replies.push(await guess(i % 2 === 0 ? a : b, `guess-${i}`));
  const checked = replies.filter((r) => r.status === 401).length;
  assert.equal(checked, 6, `the limit is 6 for both together: ${replies.map((r) => r.body).join(' ')}`);
  assert.equal((await guess(a, PASSWORD)).body, 'abuse');
  assert.equal((await guess(b, PASSWORD)).body, 'abuse');
});
