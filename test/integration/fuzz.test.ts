import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { createPowerDnsClient } from '@mydns/powerdns';
import { createDnsQuery } from '../support/dns.ts';
import {
  type ApiProcess,
  hostsSnapshot,
  inParallel,
  registerHosts,
  sendUpdate,
  sql,
  startApiProcess,
  zoneSnapshot,
} from '../support/faults.ts';
import { createRandom, rawExchange } from '../support/faults-http.ts';
import { createHttpFuzzer, type Generated, show } from '../support/fuzz-requests.ts';
import { harness } from '../support/harness.ts';
import { basic, createTestDatabase, uniqueZone } from '../support/mydns.ts';
import { noteSecret } from '../support/secrets.ts';

/**
 * A fuzz-style test: 3,000 malformed requests from a seeded PRNG
 * (MYDNS_FUZZ_SEED replays a run) to the update endpoints, /checkip and the
 * JSON API: random and known parameters, random encodings, percent garbage,
 * huge values up to and past the server's limits, invalid UTF-8, odd
 * methods, missing and garbage Authorization, garbage bodies. Raw sockets,
 * since fetch refuses most of it.
 *
 * Every reply must be whole and clean (no 5xx but a deliberate 911/503, no
 * HTML or stack trace, no X-Powered-By); the process must survive; and no host
 * may change: the fuzzer knows no password, except for a share of requests
 * that carry a host's real credentials with an address that cannot parse,
 * whose one correct answer is `dnserr` (and no change).
 */

const SEED = Number(process.env.MYDNS_FUZZ_SEED ?? 20261127);
const REQUESTS = 3000;
const CONCURRENCY = 8;
const PASSWORD = 'fuzz-secret-password-1';
const HOSTS = ['alice', 'bob', 'carol', 'dave'];

let database: { url: string; drop(): Promise<void> };
let zone: string;
let api: ApiProcess;
const pdns = () => ({ apiUrl: harness().pdnsApiUrl, apiKey: harness().pdnsApiKey });

before(async () => {
  database = await createTestDatabase();
  zone = uniqueZone();
  api = await startApiProcess({
    name: 'fuzz',
    databaseUrl: database.url,
    zone,
    powerdns: pdns(),
    // The limits would soon answer `abuse` to everything and hide the code behind them.
    env: { MYDNS_HOST_UPDATE_LIMIT: '1000000/10m', MYDNS_LOGIN_FAILURE_LIMIT: '1000000/10m' },
  });
  await registerHosts(api.url, HOSTS, PASSWORD);
  for (const [i, host] of HOSTS.entries()) {
    assert.equal((await sendUpdate(api.url, host, PASSWORD, `10.0.0.${i + 1}`)).body, `good 10.0.0.${i + 1}`);
  }
  // A token and an ACME value too, so that those tables have rows to keep.
  const token = await fetch(`${api.url}/api/v1/hosts/bob/tokens`, {
    method: 'POST',
    headers: { authorization: basic('bob', PASSWORD), 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'router' }),
  });
  assert.equal(token.status, 201);
  noteSecret(((await token.json()) as { token: string }).token);
  const acme = await fetch(`${api.url}/api/v1/hosts/carol/acme-challenge`, {
    method: 'POST',
    headers: { authorization: basic('carol', PASSWORD), 'content-type': 'application/json' },
    body: JSON.stringify({ value: 'fuzz-acme-value-0123456789abcdefghijklmnopq' }),
  });
  assert.equal(acme.status, 201);
});

after(async () => {
  await api?.stop();
  await createPowerDnsClient(pdns())
    .deleteZone(zone)
    .catch(() => undefined);
  await database?.drop();
});

/** Everything a request could change: every host row, tokens, ACME values, the outbox, the zone. */
async function snapshot() {
  const rows = async (table: string) =>
    (await sql<{ row: string }>(database.url, `select t::text as row from ${table} t order by id`)).map(
      (r) => r.row,
    );
  return {
    hosts: await hostsSnapshot(database.url),
    tokens: await rows('update_tokens'),
    acme: await rows('acme_challenges'),
    outbox: await rows('dns_outbox'),
    zone: await zoneSnapshot(pdns(), zone),
  };
}

test(`${REQUESTS} malformed requests (seed ${SEED}): clean answers, no crash, no host changed`, async () => {
  const unchanged = await snapshot();
  const r = createRandom(SEED);
  const { generate, judge } = createHttpFuzzer({ zone, hosts: HOSTS, password: PASSWORD });
  const requests = Array.from({ length: REQUESTS }, () => generate(r));
  const outcomes = await inParallel(requests, CONCURRENCY, (request) =>
    rawExchange(api.port, request.bytes, { timeoutMs: 15_000, noBody: request.method === 'HEAD' }),
  );

  const failures: string[] = [];
  const statuses = new Map<string, number>();
  for (const [i, outcome] of outcomes.entries()) {
    const request = requests[i] as Generated;
    const key = String(outcome.reply?.status ?? 'none');
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const problems = judge(request, outcome);
    if (problems.length > 0) {
      failures.push(
        `#${i} ${problems.join('; ')}\n    sent ${show(request.bytes)}\n    got  ${show(outcome.bytes.subarray(0, 600))}`,
      );
    }
  }
  const summary = `seed ${SEED}; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${
    requests.filter((q) => q.valid).length
  } with real credentials`;

  // No crash: the same process answers; nothing changed: every host row, token, ACME value and the zone.
  const health = await fetch(`${api.url}/healthz`).then((response) => response.status, String);
  const now = await snapshot();
  assert.deepEqual(
    {
      processAlive: api.isAlive(),
      healthz: health,
      hostsUnchanged: isDeepStrictEqual(now, unchanged),
      badReplies: failures.length,
    },
    { processAlive: true, healthz: 200, hostsUnchanged: true, badReplies: 0 },
    `${summary}; the first bad replies:\n${failures.slice(0, 10).join('\n')}`,
  );
  assert.deepEqual(now, unchanged);

  assert.equal((await sendUpdate(api.url, 'dave', PASSWORD, '10.9.9.9')).body, 'good 10.9.9.9');
  assert.deepEqual(await createDnsQuery(harness().dnsPort).a(`dave.${zone}`), ['10.9.9.9']);
});
