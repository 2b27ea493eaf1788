/**
 * The replica path (`npm run bench -- replica`; README "Growing past one
 * machine"): PowerDNS on gpgsql as the primary MyDNS drives, a streaming hot
 * standby of the bench's Postgres and a second pdns_server on
 * pdns/pdns-replica.conf reading it. Changes arrive at a steady rate
 * (BENCH_REPLICA_RATE, 100/s) for BENCH_REPLICA_SECONDS (30), to hosts of a
 * zone of BENCH_REPLICA_HOSTS (1,000; created in bulk in Postgres and in
 * PowerDNS's records table, not through the API), and a sample of them is
 * followed to the replica's answer: the lag from the `good` reply until the
 * replica answers the new address, p50 and p99. The baseline, measured on the
 * same changes: the primary's own answer right after the reply, and Postgres's
 * replay lag of the standby (pg_stat_replication), which the replica cannot
 * beat.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '@mydns/db';
import { createPowerDnsClient } from '@mydns/powerdns';
import bcrypt from 'bcryptjs';
import pg from 'pg';
import { createDnsQuery } from '../support/dns.ts';
import { createPdnsDatabase, startGpgsqlPdns } from '../support/gpgsql-pdns.ts';
import { freePort } from '../support/ports.ts';
import { startStandby } from '../support/standby.ts';
import { waitFor } from '../support/wait.ts';
import { authHeader, createHosts, ensureZone, fmt, PASSWORD, removeHosts, startApi } from './stack.ts';

const ZONE = 'replica.bench';
const HOSTS = Number(process.env.BENCH_REPLICA_HOSTS ?? 1000);
const RATE = Number(process.env.BENCH_REPLICA_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_REPLICA_SECONDS ?? 30);
/** Every SAMPLE_EVERY-th change is followed to the replica's answer. */
const SAMPLE_EVERY = 5;

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** The hosts' records straight into PowerDNS's tables, as a restore would: one statement per 100,000. */
async function seedRecords(url: string, zone: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: number }>('select id from domains where name = $1', [zone]);
    const domainId = rows[0]?.id;
    if (domainId === undefined) throw new Error(`PowerDNS has no zone ${zone}`);
    for (let first = 1; first <= count; first += 100_000) {
      await client.query(
        `insert into records (domain_id, name, type, content, ttl, prio, disabled, auth)
         select $1, 'r' || g || '.' || $2, 'A', '10.0.0.1', 60, 0, false, true
           from generate_series($3::int, $4::int) g`,
        [domainId, zone, first, Math.min(count, first + 99_999)],
      );
    }
  } finally {
    await client.end();
  }
}

export async function runReplicaBenchmark(ctx: {
  db: Database;
  databaseUrl: string;
  workDir: string;
}): Promise<void> {
  const work = mkdtempSync(join(ctx.workDir, 'replica-'));
  // The standby runs as the Postgres system user, which must reach its folder.
  chmodSync(work, 0o755);
  const adminUrl = new URL(ctx.databaseUrl);
  adminUrl.pathname = '/postgres';
  const pdnsDb = await createPdnsDatabase(adminUrl.toString());
  const pdnsUrl = new URL(ctx.databaseUrl);
  pdnsUrl.username = pdnsDb.role;
  pdnsUrl.password = pdnsDb.password;
  pdnsUrl.pathname = `/${pdnsDb.database}`;
  const stops: (() => Promise<void>)[] = [async () => rmSync(work, { recursive: true, force: true })];
  stops.unshift(() => pdnsDb.drop());
  try {
    const apiKey = 'bench-replica-key';
    const primaryDnsPort = await freePort();
    const apiPort = await freePort();
    const primary = startGpgsqlPdns({
      conf: 'pdns.conf',
      db: pdnsDb,
      pgPort: adminUrl.port,
      dnsPort: primaryDnsPort,
      workDir: work,
      extra: [`--api-key=${apiKey}`, '--webserver-address=127.0.0.1', `--webserver-port=${apiPort}`],
    });
    stops.unshift(() => primary.stop());
    const pdnsApiUrl = `http://127.0.0.1:${apiPort}`;
    const dns = createPowerDnsClient({ apiUrl: pdnsApiUrl, apiKey, timeoutMs: 10_000 });
    await waitFor(async () => Boolean(await dns.serverInfo()), {
      timeoutMs: 30_000,
      message: 'the primary pdns_server',
      giveUp: () => (primary.program.hasExited() ? primary.program.output() : undefined),
    });
    const seeded = performance.now();
    await ensureZone(dns, ZONE);
    await createHosts(ctx.db, ZONE, 'r', HOSTS, bcrypt.hashSync(PASSWORD, 4), '10.0.0.1');
    stops.unshift(() => removeHosts(ctx.db, ZONE));
    await seedRecords(pdnsUrl.toString(), ZONE, HOSTS);
    const seedSeconds = (performance.now() - seeded) / 1000;

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
    const atReplica = createDnsQuery(replicaDnsPort);
    const atPrimary = createDnsQuery(primaryDnsPort);
    await waitFor(async () => (await atReplica.a(`r${HOSTS}.${ZONE}`))[0] === '10.0.0.1', {
      timeoutMs: 600_000,
      message: 'the replica to serve the seeded zone',
    });
    const api = await startApi({ databaseUrl: ctx.databaseUrl, pdnsUrl: pdnsApiUrl, pdnsKey: apiKey }, ZONE, {
      MYDNS_RECONCILE_INTERVAL: '0',
    });
    stops.unshift(() => api.stop());

    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    stops.unshift(() => admin.end());
    const replayLags: number[] = [];
    const lags: number[] = [];
    const primaryLags: number[] = [];
    const replies: number[] = [];
    let failures = 0;
    let superseded = 0;
    /** The last address sent for each host: a later change of a followed host ends its sample. */
    const latest = new Map<string, string>();
    const total = RATE * SECONDS;
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    let sampling = true;
    // Stopped before the connection closes, also when a change fails (stops run first).
    stops.unshift(async () => {
      sampling = false;
      await sampler;
    });
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await admin.query<{ ms: number | null }>(
          `select extract(epoch from replay_lag) * 1000 as ms from pg_stat_replication
            where application_name = 'mydns_test_standby'`,
        );
        if (rows[0]?.ms !== null && rows[0]?.ms !== undefined) replayLags.push(Number(rows[0].ms));
        await sleep(100);
      }
    })();
    for (let i = 0; i < total; i++) {
      // A steady rate: change i leaves at its time, whatever the earlier ones are doing.
      const due = started + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const host = `r${(i % HOSTS) + 1}`;
      const ip = `10.${1 + Math.floor(i / 65_536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
      latest.set(host, ip);
      inFlight.push(
        (async () => {
          const sent = performance.now();
          // A request the loaded machine could not even connect counts as not good, not as a crash.
          const body = await fetch(`http://127.0.0.1:${api.port}/nic/update?hostname=${host}&myip=${ip}`, {
            headers: authHeader(host),
          }).then(
            (response) => response.text(),
            (error: unknown) => `failed: ${String(error)}`,
          );
          const repliedAt = performance.now();
          replies.push(repliedAt - sent);
          if (body !== `good ${ip}`) {
            failures++;
            return;
          }
          if (i % SAMPLE_EVERY !== 0) return;
          if (latest.get(host) !== ip) {
            superseded++;
            return;
          }
          const onPrimary = await atPrimary.a(`${host}.${ZONE}`);
          if (onPrimary[0] === ip) primaryLags.push(performance.now() - repliedAt);
          for (;;) {
            const answer = await atReplica.a(`${host}.${ZONE}`);
            if (answer[0] === ip) break;
            if (latest.get(host) !== ip) {
              superseded++;
              return;
            }
            if (performance.now() - repliedAt > 30_000)
              throw new Error(`the replica never answered ${ip} for ${host}`);
            await sleep(5);
          }
          lags.push(performance.now() - repliedAt);
        })(),
      );
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    console.log(
      `\n8. the replica path: ${fmt(HOSTS)} hosts (seeded in bulk in ${seedSeconds.toFixed(1)} s), ${fmt(total)} changes at ${RATE}/s (${(total / seconds).toFixed(0)}/s reached), every ${SAMPLE_EVERY}th followed to the replica`,
    );
    console.log(
      `   replies: p50 ${ms(percentile(replies, 0.5))}, p99 ${ms(percentile(replies, 0.99))}; not good: ${failures}; followed changes overtaken by the host's next change: ${superseded}`,
    );
    console.log(
      `   baseline: the primary answers the new address right after the reply in ${primaryLags.length} of ${lags.length}; Postgres's replay lag of the standby p50 ${ms(percentile(replayLags, 0.5))}, p99 ${ms(percentile(replayLags, 0.99))} (${replayLags.length} samples)`,
    );
    console.log(
      `   good reply → the replica's answer: p50 ${ms(percentile(lags, 0.5))}, p99 ${ms(percentile(lags, 0.99))}, max ${ms(percentile(lags, 1))} (aim p99 < 1 s)`,
    );
  } finally {
    for (const stop of stops)
      await stop().catch((error: unknown) => console.error(`stopping: ${String(error)}`));
  }
}
