/**
 * The replica path (`npm run bench -- replica`; README "Growing past one
 * machine"): PowerDNS on gpgsql as the primary MyDNS drives, a streaming hot
 * standby of the bench's Postgres and a second pdns_server on
 * pdns/pdns-replica.conf reading it. Changes arrive at a steady rate
 * (BENCH_REPLICA_RATE, 100/s) for BENCH_REPLICA_SECONDS (30), to hosts of a
 * zone of BENCH_REPLICA_HOSTS (1,000; created in bulk in Postgres and in
 * PowerDNS's records table, not through the API), and a sample of them is
 * followed to the replica's answer (test/bench/steady-changes.ts): the lag
 * from the `good` reply until the replica answers the new address, p50 and
 * p99. The baseline, measured on the same changes: the primary's own answer
 * right after the reply, and Postgres's replay lag of the standby
 * (pg_stat_replication), which the replica cannot beat.
 *
 * The pieces (the gpgsql primary, the bulk seeding, the standby and its
 * PowerDNS, the replay-lag sampler) are also the AXFR part's
 * (test/bench/axfr.ts), which compares this path with a BIND secondary.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '@mydns/db';
import { createPowerDnsClient, type PowerDnsClient } from '@mydns/powerdns';
import bcrypt from 'bcryptjs';
import pg from 'pg';
import { createDnsQuery } from '../support/dns.ts';
import { createPdnsDatabase, type GpgsqlPdns, startGpgsqlPdns } from '../support/gpgsql-pdns.ts';
import { freePort } from '../support/ports.ts';
import { type Standby, startStandby } from '../support/standby.ts';
import { waitFor } from '../support/wait.ts';
import { createHosts, ensureZone, fmt, PASSWORD, removeHosts, startApi } from './stack.ts';
import { ms, percentile, runSteadyChanges } from './steady-changes.ts';

const ZONE = 'replica.bench';
const HOSTS = Number(process.env.BENCH_REPLICA_HOSTS ?? 1000);
const RATE = Number(process.env.BENCH_REPLICA_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_REPLICA_SECONDS ?? 30);
/** Every SAMPLE_EVERY-th change is followed to the replica's answer. */
const SAMPLE_EVERY = 5;
/** The standby's application_name in pg_stat_replication (test/support/standby.ts). */
const STANDBY_NAME = 'mydns_test_standby';

export interface ReplicaContext {
  db: Database;
  databaseUrl: string;
  workDir: string;
}

/** A pdns_server on gpgsql as the primary (pdns/pdns.conf), on a database of its own in the bench's Postgres. */
export interface GpgsqlPrimary {
  readonly work: string;
  readonly adminUrl: string;
  readonly pdns: GpgsqlPdns;
  readonly dnsPort: number;
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly dns: PowerDnsClient;
  /** A zone of `count` hosts `<prefix>1…` at 10.0.0.1, in bulk in Postgres and PowerDNS; seconds taken. */
  seedZone(zone: string, prefix: string, count: number): Promise<number>;
  /** A streaming standby of the bench's Postgres and a pdns_server on pdns/pdns-replica.conf reading it. */
  startReplica(): Promise<Replica>;
  /** Everything it started, last first. */
  stop(): Promise<void>;
}

export interface Replica {
  readonly standby: Standby;
  readonly pdns: GpgsqlPdns;
  readonly dnsPort: number;
}

export async function startGpgsqlPrimary(ctx: ReplicaContext): Promise<GpgsqlPrimary> {
  const work = mkdtempSync(join(ctx.workDir, 'replica-'));
  // The standby runs as the Postgres system user, which must reach its folder.
  chmodSync(work, 0o755);
  const stops: (() => Promise<void>)[] = [async () => rmSync(work, { recursive: true, force: true })];
  const stop = async () => {
    for (const step of stops.splice(0))
      await step().catch((error: unknown) => console.error(`stopping: ${String(error)}`));
  };
  try {
    const adminUrl = new URL(ctx.databaseUrl);
    adminUrl.pathname = '/postgres';
    const pdnsDb = await createPdnsDatabase(adminUrl.toString());
    stops.unshift(() => pdnsDb.drop());
    const pdnsUrl = new URL(ctx.databaseUrl);
    pdnsUrl.username = pdnsDb.role;
    pdnsUrl.password = pdnsDb.password;
    pdnsUrl.pathname = `/${pdnsDb.database}`;
    const apiKey = 'bench-replica-key';
    const dnsPort = await freePort();
    const apiPort = await freePort();
    const pdns = startGpgsqlPdns({
      conf: 'pdns.conf',
      db: pdnsDb,
      pgPort: adminUrl.port,
      dnsPort,
      workDir: work,
      extra: [`--api-key=${apiKey}`, '--webserver-address=127.0.0.1', `--webserver-port=${apiPort}`],
    });
    stops.unshift(() => pdns.stop());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const dns = createPowerDnsClient({ apiUrl, apiKey, timeoutMs: 60_000 });
    await waitFor(async () => Boolean(await dns.serverInfo()), {
      timeoutMs: 30_000,
      message: 'the primary pdns_server',
      giveUp: () => (pdns.program.hasExited() ? pdns.program.output() : undefined),
    });
    return {
      work,
      adminUrl: adminUrl.toString(),
      pdns,
      dnsPort,
      apiUrl,
      apiKey,
      dns,
      async seedZone(zone, prefix, count) {
        const seeded = performance.now();
        await ensureZone(dns, zone);
        await createHosts(ctx.db, zone, prefix, count, bcrypt.hashSync(PASSWORD, 4), '10.0.0.1');
        stops.unshift(() => removeHosts(ctx.db, zone));
        await seedRecords(pdnsUrl.toString(), zone, prefix, count);
        return (performance.now() - seeded) / 1000;
      },
      async startReplica() {
        const standby = await startStandby(adminUrl.toString(), { workDir: work });
        stops.unshift(() => standby.stop());
        const replicaDnsPort = await freePort();
        const replica = startGpgsqlPdns({
          conf: 'pdns-replica.conf',
          db: pdnsDb,
          pgPort: standby.port,
          dnsPort: replicaDnsPort,
          workDir: work,
        });
        stops.unshift(() => replica.stop());
        return { standby, pdns: replica, dnsPort: replicaDnsPort };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The hosts' records straight into PowerDNS's tables, as a restore would: one statement per 100,000. */
async function seedRecords(url: string, zone: string, prefix: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: number }>('select id from domains where name = $1', [zone]);
    const domainId = rows[0]?.id;
    if (domainId === undefined) throw new Error(`PowerDNS has no zone ${zone}`);
    for (let first = 1; first <= count; first += 100_000) {
      await client.query(
        `insert into records (domain_id, name, type, content, ttl, prio, disabled, auth)
         select $1, $2 || g || '.' || $3, 'A', '10.0.0.1', 60, 0, false, true
           from generate_series($4::int, $5::int) g`,
        [domainId, prefix, zone, first, Math.min(count, first + 99_999)],
      );
    }
  } finally {
    await client.end();
  }
}

/**
 * Postgres's replay lag of the standby (pg_stat_replication), sampled every
 * 100 ms until `stop()`, and the WAL the primary wrote meanwhile (all of it
 * streams to the standby: it replicates the whole cluster).
 */
export async function sampleReplication(adminUrl: string) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const lsn = async () =>
    (await admin.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]?.lsn ?? '0/0';
  const firstLsn = await lsn();
  const replayLags: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await admin.query<{ ms: number | null }>(
        `select extract(epoch from replay_lag) * 1000 as ms from pg_stat_replication
          where application_name = $1`,
        [STANDBY_NAME],
      );
      if (rows[0]?.ms !== null && rows[0]?.ms !== undefined) replayLags.push(Number(rows[0].ms));
      await sleep(100);
    }
  })();
  return {
    async stop() {
      sampling = false;
      try {
        await sampler;
        const lastLsn = await lsn();
        const { rows } = await admin.query<{ bytes: string }>(
          'select pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::text as bytes',
          [lastLsn, firstLsn],
        );
        return { replayLags, walBytes: Number(rows[0]?.bytes ?? 0) };
      } finally {
        await admin.end();
      }
    },
  };
}

export async function runReplicaBenchmark(ctx: ReplicaContext): Promise<void> {
  const primary = await startGpgsqlPrimary(ctx);
  const stops: (() => Promise<unknown>)[] = [() => primary.stop()];
  try {
    const seedSeconds = await primary.seedZone(ZONE, 'r', HOSTS);
    const replica = await primary.startReplica();
    const atReplica = createDnsQuery(replica.dnsPort);
    await waitFor(async () => (await atReplica.a(`r${HOSTS}.${ZONE}`))[0] === '10.0.0.1', {
      timeoutMs: 600_000,
      message: 'the replica to serve the seeded zone',
    });
    const api = await startApi(
      { databaseUrl: ctx.databaseUrl, pdnsUrl: primary.apiUrl, pdnsKey: primary.apiKey },
      ZONE,
      {
        MYDNS_RECONCILE_INTERVAL: '0',
      },
    );
    stops.unshift(() => api.stop());
    const replication = await sampleReplication(primary.adminUrl);
    let sampled: Awaited<ReturnType<typeof replication.stop>> | undefined;
    // Stopped before the connection closes, also when a change fails.
    stops.unshift(async () => {
      sampled ??= await replication.stop();
    });
    const run = await runSteadyChanges({
      apiPort: api.port,
      zone: ZONE,
      prefix: 'r',
      hosts: HOSTS,
      rate: RATE,
      seconds: SECONDS,
      sampleEvery: SAMPLE_EVERY,
      maxInFlight: 1000,
      followTimeoutMs: 30_000,
      firstOctet: 1,
      primary: createDnsQuery(primary.dnsPort),
      followers: { replica: atReplica },
    });
    sampled = await replication.stop();
    const lags = run.lags.replica ?? { ms: [], neverAnswered: 0, withoutSerialChange: 0, queryMs: [] };
    console.log(
      `\n8. the replica path: ${fmt(HOSTS)} hosts (seeded in bulk in ${seedSeconds.toFixed(1)} s), ${fmt(run.sent)} changes at ${RATE}/s (${(run.sent / run.seconds).toFixed(0)}/s reached), every ${SAMPLE_EVERY}th followed to the replica`,
    );
    console.log(
      `   replies: p50 ${ms(percentile(run.replies, 0.5))}, p99 ${ms(percentile(run.replies, 0.99))}; not good: ${run.notGood}; followed changes overtaken by the host's next change: ${run.superseded}`,
    );
    console.log(
      `   baseline: the primary answers the new address right after the reply in ${run.primaryAnswered} of ${run.followed} (good → its answer p50 ${ms(percentile(run.primaryMs, 0.5))}, p99 ${ms(percentile(run.primaryMs, 0.99))}); Postgres's replay lag of the standby p50 ${ms(percentile(sampled.replayLags, 0.5))}, p99 ${ms(percentile(sampled.replayLags, 0.99))} (${sampled.replayLags.length} samples); a query's round trip at the replica p50 ${ms(percentile(lags.queryMs, 0.5))}, p99 ${ms(percentile(lags.queryMs, 0.99))}`,
    );
    console.log(
      `   good reply → the replica's answer: p50 ${ms(percentile(lags.ms, 0.5))}, p99 ${ms(percentile(lags.ms, 0.99))}, max ${ms(percentile(lags.ms, 1))} (aim p99 < 1 s); never answered within 30 s: ${lags.neverAnswered}`,
    );
  } finally {
    for (const stop of stops)
      await stop().catch((error: unknown) => console.error(`stopping: ${String(error)}`));
  }
}
