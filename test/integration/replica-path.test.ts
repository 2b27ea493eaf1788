import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createPowerDnsClient, findPdnsServer } from '@mydns/powerdns';
import pg from 'pg';
import { REPO_ROOT } from '../support/compose.ts';
import { createDnsQuery } from '../support/dns.ts';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { type StartedProgram, startProgram } from '../support/programs.ts';
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
const suffix = randomBytes(4).toString('hex');
const pdnsRole = `pdns_replica_${suffix}`;
const pdnsDb = `pdns_replica_${suffix}`;
const pdnsPassword = randomBytes(16).toString('hex');
const apiKey = randomBytes(16).toString('hex');
noteSecret(pdnsPassword);
noteSecret(apiKey);

let admin: pg.Client;
let standby: Standby;
let primaryPdns: StartedProgram;
let replicaPdns: StartedProgram;
let replicaDnsPort: number;
let mydns: TestMyDns;
const dirs: string[] = [];

/** pdns_server on one of our configuration files, with only what differs outside a container overridden. */
async function startPdns(options: {
  conf: string;
  pgPort: string;
  dnsPort: number;
  extra?: readonly string[];
}): Promise<StartedProgram> {
  const binary = findPdnsServer();
  assert.ok(binary, 'pdns_server is installed (apt-get install pdns-server pdns-backend-pgsql)');
  const dir = join(harness().workDir, `pdns-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { mode: 0o700 });
  dirs.push(dir);
  copyFileSync(join(REPO_ROOT, 'pdns', options.conf), join(dir, 'pdns.conf'));
  return startProgram(
    binary,
    [
      `--config-dir=${dir}`,
      '--gpgsql-host=127.0.0.1',
      `--gpgsql-port=${options.pgPort}`,
      `--gpgsql-dbname=${pdnsDb}`,
      `--gpgsql-user=${pdnsRole}`,
      '--local-address=127.0.0.1',
      `--local-port=${options.dnsPort}`,
      `--socket-dir=${dir}`,
      ...(options.extra ?? []),
    ],
    // As in docker-compose.yml: libpq reads the password from the environment.
    { env: { PATH: process.env.PATH, PGPASSWORD: pdnsPassword } },
  );
}

before(async () => {
  const { postgresUrl } = harness();
  admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create role ${pdnsRole} login password ${admin.escapeLiteral(pdnsPassword)}`);
  await admin.query(`create database ${pdnsDb} owner ${pdnsRole}`);
  // PowerDNS's schema, as deploy/postgres/initdb loads it for compose: as the pdns role.
  const url = new URL(postgresUrl);
  const asPdns = new pg.Client({
    host: url.hostname,
    port: Number(url.port),
    user: pdnsRole,
    password: pdnsPassword,
    database: pdnsDb,
  });
  await asPdns.connect();
  try {
    await asPdns.query(
      readFileSync(join(REPO_ROOT, 'deploy/postgres/initdb/sql/pdns-schema.pgsql.sql'), 'utf8'),
    );
  } finally {
    await asPdns.end();
  }

  const primaryDnsPort = await freePort();
  const apiPort = await freePort();
  primaryPdns = await startPdns({
    conf: 'pdns.conf',
    pgPort: url.port,
    dnsPort: primaryDnsPort,
    extra: [`--api-key=${apiKey}`, '--webserver-address=127.0.0.1', `--webserver-port=${apiPort}`],
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const client = createPowerDnsClient({ apiUrl, apiKey, timeoutMs: 2000 });
  await waitFor(async () => Boolean(await client.serverInfo()), {
    timeoutMs: 30_000,
    message: () => `the primary pdns_server to answer its API:\n${primaryPdns.output().slice(-2000)}`,
    giveUp: () => (primaryPdns.hasExited() ? `it exited:\n${primaryPdns.output()}` : undefined),
  });

  standby = await startStandby(postgresUrl);
  replicaDnsPort = await freePort();
  replicaPdns = await startPdns({
    conf: 'pdns-replica.conf',
    pgPort: String(standby.port),
    dnsPort: replicaDnsPort,
  });
  mydns = await startTestMyDns({ powerdns: { apiUrl, apiKey, dnsPort: primaryDnsPort } });
});

after(async () => {
  await mydns?.stop();
  await replicaPdns?.stop();
  await primaryPdns?.stop();
  await standby?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (admin) {
    await admin.query(`drop database if exists ${pdnsDb} with (force)`);
    await admin.query(`drop role if exists ${pdnsRole}`);
    await admin.end();
  }
});

test('the replica serves the zone from the standby: an update answered good is answered by the replica within 1 s', async () => {
  const atReplica = createDnsQuery(replicaDnsPort);
  const standbyDb = new pg.Client({ connectionString: standby.url(pdnsDb) });
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
    message: () => `the replica to serve ${mydns.zone}:\n${replicaPdns.output().slice(-2000)}`,
    giveUp: () => (replicaPdns.hasExited() ? `it exited:\n${replicaPdns.output()}` : undefined),
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
