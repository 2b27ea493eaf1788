import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createPowerDnsClient } from '@mydns/powerdns';
import pg from 'pg';
import { createDnsQuery } from '../support/dns.ts';
import {
  createPdnsDatabase,
  type GpgsqlPdns,
  type PdnsDatabase,
  startGpgsqlPdns,
} from '../support/gpgsql-pdns.ts';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { noteSecret } from '../support/secrets.ts';
import { type Standby, startStandby } from '../support/standby.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The replica path (README "Growing past one machine"; the compose profile
 * `replica`), natively: PowerDNS with gpgsql on the run's Postgres as the
 * primary MyDNS drives, a streaming hot standby of that Postgres, and a second
 * pdns_server on pdns/pdns-replica.conf itself, reading the standby. The zone
 * reaches the replica as rows, never by zone transfer: an update answered
 * `good` is answered by the replica within a second.
 */

const PASSWORD = 'replica-path-password';
const apiKey = randomBytes(16).toString('hex');
noteSecret(apiKey);

let pdnsDb: PdnsDatabase;
let standby: Standby;
let primaryPdns: GpgsqlPdns;
let replicaPdns: GpgsqlPdns;
let replicaDnsPort: number;
let mydns: TestMyDns;

before(async () => {
  const { postgresUrl, workDir } = harness();
  pdnsDb = await createPdnsDatabase(postgresUrl);
  noteSecret(pdnsDb.password);
  const primaryDnsPort = await freePort();
  const apiPort = await freePort();
  primaryPdns = startGpgsqlPdns({
    conf: 'pdns.conf',
    db: pdnsDb,
    pgPort: new URL(postgresUrl).port,
    dnsPort: primaryDnsPort,
    workDir,
    extra: [`--api-key=${apiKey}`, '--webserver-address=127.0.0.1', `--webserver-port=${apiPort}`],
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const client = createPowerDnsClient({ apiUrl, apiKey, timeoutMs: 2000 });
  const primary = primaryPdns.program;
  await waitFor(async () => Boolean(await client.serverInfo()), {
    timeoutMs: 30_000,
    message: () => `the primary pdns_server to answer its API:\n${primary.output().slice(-2000)}`,
    giveUp: () => (primary.hasExited() ? `it exited:\n${primary.output()}` : undefined),
  });

  standby = await startStandby(postgresUrl);
  replicaDnsPort = await freePort();
  replicaPdns = startGpgsqlPdns({
    conf: 'pdns-replica.conf',
    db: pdnsDb,
    pgPort: standby.port,
    dnsPort: replicaDnsPort,
    workDir,
  });
  mydns = await startTestMyDns({ powerdns: { apiUrl, apiKey, dnsPort: primaryDnsPort } });
});

after(async () => {
  await mydns?.stop();
  await replicaPdns?.stop();
  await primaryPdns?.stop();
  await standby?.stop();
  await pdnsDb?.drop();
});

test('the replica serves the zone from the standby: an update answered good is answered by the replica within 1 s', async () => {
  const atReplica = createDnsQuery(replicaDnsPort);
  const standbyDb = new pg.Client({ connectionString: standby.url(pdnsDb.database) });
  await standbyDb.connect();
  try {
    const { rows } = await standbyDb.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
    assert.equal(rows[0]?.standby, true, 'the replica reads a standby');
  } finally {
    await standbyDb.end();
  }
  // The zone MyDNS created at its start, as rows on the standby: a native zone there too.
  await waitFor(async () => (await atReplica.a(`mx.${mydns.zone}`))[0] === '127.0.0.1', {
    timeoutMs: 10_000,
    message: () => `the replica to serve ${mydns.zone}:\n${replicaPdns.program.output().slice(-2000)}`,
    giveUp: () =>
      replicaPdns.program.hasExited() ? `it exited:\n${replicaPdns.program.output()}` : undefined,
  });
  await mydns.createHost('far', PASSWORD);
  for (const address of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5']) {
    const reply = await mydns.request(`/nic/update?hostname=far&myip=${address}`, {
      auth: ['far', PASSWORD],
    });
    assert.equal(reply.body, `good ${address}`);
    let answer: string[] = [];
    await waitFor(
      async () => {
        answer = await atReplica.a(`far.${mydns.zone}`);
        return answer[0] === address;
      },
      {
        timeoutMs: 1000,
        intervalMs: 10,
        message: () => `the replica to answer ${address} (it answers ${JSON.stringify(answer)})`,
      },
    );
  }
});
