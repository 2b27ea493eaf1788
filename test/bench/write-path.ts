/**
 * The write path (`npm run bench -- write-path`): what a change costs end to
 * end, each figure beside a baseline from the same run on the same machine.
 *
 * (a) throughput, 1,000 hosts: good updates/s (every request a new address)
 *     vs nochg updates/s through the same API at the same concurrency, and vs
 *     what PowerDNS itself takes: one-rrset PATCHes one after another, and
 *     PATCHes of 100 rrsets (the zone writer's own shape: 25 hosts' four
 *     rrsets each, and 100 A rrsets alone);
 * (b) latency at light load: one update at a time, from sending it until
 *     PowerDNS's DNS port answers the new address (polled from the moment it
 *     is sent), p50 and p99, beside the time to the `good` reply;
 * (c) Postgres alone: ways to commit a group of changes (commit-strategies.ts).
 */

import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { createDatabase, Database, migrateLatest } from '@mydns/db';
import { hostRrsets, type PowerDnsClient } from '@mydns/powerdns';
import bcrypt from 'bcryptjs';
import { createDnsQuery } from '../support/dns.ts';
import { runCommitStrategies } from './commit-strategies.ts';
import { cpuBetween, snapshotCpu } from './cpu.ts';
import { type LoadResult, runLoad } from './load.ts';
import {
  authHeader,
  createHosts,
  describeLoad,
  directPatches,
  ensureZone,
  fmt,
  median,
  PASSWORD,
  type StackEnv,
  startApi,
} from './stack.ts';

export interface WritePathContext {
  readonly db: Database;
  readonly dns: PowerDnsClient;
  readonly env: StackEnv;
  /** PowerDNS's DNS port, for the authoritative answers. */
  readonly dnsPort: number;
  readonly concurrency: number;
  /**
   * Another checkout (e.g. main's, with its node_modules) whose API is
   * measured in the same run, alternating with this one, on a database and a
   * zone of its own (BENCH_BASELINE_CHECKOUT).
   */
  readonly baselineCheckout?: string | undefined;
}

const ZONE = 'write.bench';
const HOSTS = Number(process.env.BENCH_WRITE_HOSTS ?? 1000);
/** Each measured pass sends this many requests per host, one host after the other. */
const PER_HOST = 3;
const REPS = 5;
const LATENCY_HOSTS = 20;
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 500);

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** PATCHes of `perPatch` rrsets each, one after another; rrsets/s. */
async function rrsetPatches(
  dns: PowerDnsClient,
  zone: string,
  patches: number,
  rrsets: (patch: number) => ReturnType<typeof hostRrsets>,
): Promise<number> {
  let sent = 0;
  const started = performance.now();
  for (let patch = 0; patch < patches; patch++) {
    const batch = rrsets(patch);
    await dns.patchZone(zone, batch);
    sent += batch.length;
  }
  return sent / ((performance.now() - started) / 1000);
}

interface RawCapacity {
  /** One-rrset PATCHes per second. */
  readonly single: number;
  /** rrsets/s in PATCHes of 100 A rrsets. */
  readonly hundred: number;
  /** hosts/s in PATCHes of 25 hosts' projections (4 rrsets each, as the zone writer sends them). */
  readonly hostShaped: number;
}

let rawRound = 0;
async function rawCapacity(dns: PowerDnsClient, zone: string): Promise<RawCapacity> {
  const round = ++rawRound;
  const single = await directPatches(dns, zone, 300);
  const hundred = await rrsetPatches(dns, zone, 30, (patch) =>
    Array.from({ length: 100 }, (_, i) => ({
      name: `raw${patch * 100 + i}.${zone}`,
      type: 'A' as const,
      ttl: 60,
      records: [`10.253.${round}.${i + 1}`],
    })),
  );
  const hostShaped =
    (await rrsetPatches(dns, zone, 30, (patch) =>
      Array.from({ length: 25 }, (_, i) =>
        hostRrsets(
          zone,
          `shaped${patch * 25 + i}`,
          {
            name: `shaped${patch * 25 + i}`,
            ipv4: `10.252.${round}.${i + 1}`,
            ipv6: null,
            status: 'active',
            acme: [],
            mailEnabled: false,
          },
          60,
        ),
      ).flat(),
    )) / 4;
  return { single, hundred, hostShaped };
}

const meanOf = (a: RawCapacity, b: RawCapacity): RawCapacity => ({
  single: (a.single + b.single) / 2,
  hundred: (a.hundred + b.hundred) / 2,
  hostShaped: (a.hostShaped + b.hostShaped) / 2,
});

const hostName = (i: number) => `w${i + 1}`;
const address = (step: number, i: number) => `10.${step + 1}.${(i + 1) >> 8}.${(i + 1) & 255}`;

interface LatencySamples {
  /** From sending the change until PowerDNS's DNS port answers it, ms. */
  readonly dns: number[];
  /** From sending the change until its reply (`good`, or the PATCH's), ms. */
  readonly reply: number[];
  /** Samples where PowerDNS still answered the old address after the reply had come. */
  readonly staleAfterReply: number;
}

/**
 * Sends `change(sample)` one at a time and polls the name's A record back to
 * back from the moment it is sent, until it is the new address (at most 30 s:
 * longer than PowerDNS's 20-second caches).
 */
async function latencySamples(
  dnsPort: number,
  zone: string,
  change: (sample: number) => { name: string; ip: string; send: () => Promise<void> },
  range: { first: number; count: number } = { first: 0, count: LATENCY_SAMPLES },
): Promise<LatencySamples> {
  const query = createDnsQuery(dnsPort);
  const reply: number[] = [];
  const dns: number[] = [];
  let staleAfterReply = 0;
  for (let sample = range.first; sample < range.first + range.count; sample++) {
    const { name, ip, send } = change(sample);
    const started = performance.now();
    let repliedAt: number | undefined;
    const replied = send().then(() => {
      repliedAt = performance.now();
      reply.push(repliedAt - started);
    });
    let stale = false;
    for (;;) {
      const asked = performance.now();
      const answer = await query.a(`${name}.${zone}`);
      if (answer.length === 1 && answer[0] === ip) break;
      if (repliedAt !== undefined && asked > repliedAt) stale = true;
      if (performance.now() - started > 30_000) throw new Error(`${name} never answered ${ip}`);
    }
    dns.push(performance.now() - started);
    if (stale) staleAfterReply++;
    await replied;
  }
  return { dns, reply, staleAfterReply };
}

/** Updates through the API, one at a time. */
async function updateLatency(
  port: number,
  dnsPort: number,
  zone: string,
  range: { first: number; count: number },
): Promise<LatencySamples> {
  const send = async (name: string, ip: string) => {
    const response = await fetch(`http://127.0.0.1:${port}/nic/update?hostname=${name}&myip=${ip}`, {
      headers: authHeader(name),
    });
    const body = await response.text();
    if (body !== `good ${ip}`) throw new Error(`latency sample for ${name}: ${body}`);
  };
  // One bcrypt per host first (the credential cache), unmeasured.
  if (range.first === 0) for (let h = 1; h <= LATENCY_HOSTS; h++) await send(`lat${h}`, `10.240.0.${h}`);
  return latencySamples(
    dnsPort,
    zone,
    (sample) => {
      const h = (sample % LATENCY_HOSTS) + 1;
      const name = `lat${h}`;
      const ip = `10.241.${Math.floor(sample / LATENCY_HOSTS) % 250}.${h}`;
      return { name, ip, send: () => send(name, ip) };
    },
    range,
  );
}

/** The baseline: one-rrset PATCHes straight to PowerDNS, one at a time. */
function patchLatency(dns: PowerDnsClient, dnsPort: number, zone: string): Promise<LatencySamples> {
  return latencySamples(dnsPort, zone, (sample) => {
    const h = (sample % LATENCY_HOSTS) + 1;
    const name = `plat${h}`;
    const ip = `10.242.${Math.floor(sample / LATENCY_HOSTS) % 250}.${h}`;
    return {
      name,
      ip,
      send: () => dns.patchZone(zone, [{ name: `${name}.${zone}`, type: 'A', ttl: 60, records: [ip] }]),
    };
  });
}

/** One API under test, with its own database and zone. */
interface Side {
  readonly label: string;
  readonly zone: string;
  readonly db: Database;
  readonly env: StackEnv;
  /** The checkout whose API runs (undefined: this one). */
  readonly checkout: string | undefined;
  readonly goods: LoadResult[];
  readonly nochgs: LoadResult[];
  api?: { port: number; pid: number; stop: () => Promise<void> };
  latency?: LatencySamples;
  /** The pass whose addresses the hosts hold now. */
  step: number;
  /** What the API's metrics counted during the measured good passes (deltas). */
  readonly during: Map<string, number>;
  /** The same during the latency samples. */
  readonly duringLatency: Map<string, number>;
  /** CPU ms by program during the measured passes (cpu.ts), good and nochg. */
  readonly cpu: { readonly good: Map<string, number>; readonly nochg: Map<string, number> };
}

const addTo = (totals: Map<string, number>, more: Map<string, number>) => {
  for (const [name, value] of more) totals.set(name, (totals.get(name) ?? 0) + value);
};

/** A measured pass, with the CPU each program spent on it. */
async function measured(side: Side, kind: 'good' | 'nochg', concurrency: number): Promise<LoadResult> {
  const before = snapshotCpu();
  const result = await pass(side, kind, HOSTS * PER_HOST, concurrency);
  addTo(side.cpu[kind], cpuBetween(before, snapshotCpu(), side.api?.pid ?? 0));
  return result;
}

/** CPU per request by program, and how busy that kept the machine's cores. */
function describeCpu(cpu: Map<string, number>, results: readonly LoadResult[]): string {
  const requests = results.reduce((sum, r) => sum + r.requests, 0);
  const seconds = results.reduce((sum, r) => sum + r.seconds, 0);
  const total = [...cpu.values()].reduce((sum, ms) => sum + ms, 0);
  const each = [...cpu.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name} ${fmt((1000 * ms) / requests)}`)
    .join(', ');
  return `${fmt((1000 * total) / requests)} µs per request (${each}); ${(total / 1000 / seconds).toFixed(2)} of ${availableParallelism()} cores`;
}

/** The API's unlabelled metric values (counters, histogram sums and counts). */
async function scrape(port: number): Promise<Map<string, number>> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const values = new Map<string, number>();
  for (const match of text.matchAll(/^(mydns_[a-z_]+) ([0-9.e+-]+)$/gm))
    if (match[1] && match[2]) values.set(match[1], Number(match[2]));
  return values;
}

/** Where a good pass spent its time, from the API's metrics: group and batch sizes and their times. */
function describeDuring(during: Map<string, number>): string {
  const mean = (name: string) =>
    (during.get(`${name}_sum`) ?? 0) / (during.get(`${name}_count`) || Number.NaN);
  const parts = [
    `${fmt(during.get('mydns_address_commit_changes_count') ?? Number.NaN)} commits of ${mean('mydns_address_commit_changes').toFixed(1)} changes in ${(1000 * mean('mydns_address_commit_seconds')).toFixed(1)} ms`,
    `${fmt(during.get('mydns_powerdns_patch_seconds_count') ?? Number.NaN)} PATCHes of ${mean('mydns_zone_writer_batch_rrsets').toFixed(0)} rrsets in ${(1000 * mean('mydns_powerdns_patch_seconds')).toFixed(1)} ms`,
  ];
  return parts.join('; ');
}

async function prepareSide(side: Side, hash: string): Promise<void> {
  await createHosts(side.db, side.zone, 'w', HOSTS, hash, '10.0.0.1');
  await createHosts(side.db, side.zone, 'lat', LATENCY_HOSTS, hash, '10.0.0.1');
  side.api = await startApi(side.env, side.zone, {}, side.checkout);
}

async function pass(
  side: Side,
  kind: 'good' | 'nochg',
  total: number,
  concurrency: number,
): Promise<LoadResult> {
  const api = side.api;
  if (!api) throw new Error(`${side.label} has no API`);
  const first = kind === 'good' ? side.step + 1 : side.step;
  if (kind === 'good') side.step += Math.ceil(total / HOSTS);
  const result = await runLoad({
    port: api.port,
    concurrency,
    total,
    maxMs: 120_000,
    next: (i) => ({
      path: `/nic/update?hostname=${hostName(i % HOSTS)}&myip=${address(kind === 'good' ? first + Math.floor(i / HOSTS) : first, i % HOSTS)}`,
      headers: authHeader(hostName(i % HOSTS)),
    }),
  });
  if ((result.bodies[kind] ?? 0) === total) return result;
  // What the API counted, to tell a refusal's reason (the replies say only `abuse`).
  const metrics = await fetch(`http://127.0.0.1:${api.port}/metrics`).then((r) => r.text());
  const counted = metrics
    .split('\n')
    .filter((line) => /^mydns_(login_refusals|update_results|credential_cache|host_cache|bcrypt)/.test(line));
  throw new Error(`${side.label}, ${kind} pass: ${describeLoad(result)}\n${counted.join('\n')}`);
}

/**
 * The baseline checkout's own database, on the same Postgres, migrated by the
 * baseline's own migrations (its API refuses a database with migrations it
 * does not know).
 */
async function baselineDatabase(
  ctx: WritePathContext,
  checkout: string,
): Promise<{ db: Database; url: string }> {
  await ctx.db.raw('create database mydns_bench_baseline');
  const url = new URL(ctx.env.databaseUrl);
  url.pathname = '/mydns_bench_baseline';
  const own = (await import(join(checkout, 'packages/db/src/index.ts'))) as {
    createDatabase: typeof createDatabase;
    migrateLatest: typeof migrateLatest;
  };
  const db = own.createDatabase({ url: url.toString(), poolMax: 4 });
  await own.migrateLatest(db);
  return { db, url: url.toString() };
}

export async function runWritePathBenchmarks(ctx: WritePathContext): Promise<void> {
  // The write path is measured with a warm credential cache: bcrypt's cost is
  // beside the point, and cost 4 warms 1,000 hosts in seconds, not minutes.
  const hash = bcrypt.hashSync(PASSWORD, 4);
  const sides: Side[] = [
    {
      label: 'this checkout',
      zone: ZONE,
      db: ctx.db,
      env: ctx.env,
      checkout: undefined,
      goods: [],
      nochgs: [],
      step: -1,
      during: new Map(),
      duringLatency: new Map(),
      cpu: { good: new Map(), nochg: new Map() },
    },
  ];
  const baseline = ctx.baselineCheckout ? await baselineDatabase(ctx, ctx.baselineCheckout) : undefined;
  if (baseline && ctx.baselineCheckout) {
    sides.push({
      label: `baseline ${ctx.baselineCheckout}`,
      zone: `baseline-${ZONE}`,
      db: baseline.db,
      env: { ...ctx.env, databaseUrl: baseline.url },
      checkout: ctx.baselineCheckout,
      goods: [],
      nochgs: [],
      step: -1,
      during: new Map(),
      duringLatency: new Map(),
      cpu: { good: new Map(), nochg: new Map() },
    });
  }
  for (const side of sides) await ensureZone(ctx.dns, side.zone);
  const rawBefore = await rawCapacity(ctx.dns, ZONE);
  try {
    for (const side of sides) await prepareSide(side, hash);
    // The first pass warms up: one bcrypt per host fills the credential cache,
    // a few at a time (250 at once would overflow the bcrypt queue: `abuse`).
    for (const side of sides) await pass(side, 'good', HOSTS, 8);
    // Everything alternates, the order of the sides too, so that every
    // figure sees the same machine; medians are reported.
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const port = side.api?.port ?? 0;
        const before = await scrape(port);
        side.goods.push(await measured(side, 'good', ctx.concurrency));
        for (const [name, value] of await scrape(port))
          side.during.set(name, (side.during.get(name) ?? 0) + value - (before.get(name) ?? 0));
        // A change evicts its host from the host cache: one unmeasured pass reads them back.
        await pass(side, 'nochg', HOSTS, ctx.concurrency);
        side.nochgs.push(await measured(side, 'nochg', ctx.concurrency));
      }
    }
    // Latency: blocks of ten samples, the sides taking turns, so that both see the same moments.
    const before = new Map(
      await Promise.all(sides.map(async (side) => [side, await scrape(side.api?.port ?? 0)] as const)),
    );
    const blocks = LATENCY_SAMPLES / 10;
    for (let block = 0; block < blocks; block++) {
      const order = block % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const api = side.api;
        if (!api) continue;
        const samples = await updateLatency(api.port, ctx.dnsPort, side.zone, {
          first: block * 10,
          count: 10,
        });
        side.latency = {
          dns: [...(side.latency?.dns ?? []), ...samples.dns],
          reply: [...(side.latency?.reply ?? []), ...samples.reply],
          staleAfterReply: (side.latency?.staleAfterReply ?? 0) + samples.staleAfterReply,
        };
      }
    }
    for (const side of sides) {
      const earlier = before.get(side) ?? new Map<string, number>();
      for (const [name, value] of await scrape(side.api?.port ?? 0))
        side.duringLatency.set(name, value - (earlier.get(name) ?? 0));
    }
  } finally {
    for (const side of sides) await side.api?.stop();
  }
  const raw = meanOf(rawBefore, await rawCapacity(ctx.dns, ZONE));
  const direct = await patchLatency(ctx.dns, ctx.dnsPort, ZONE);

  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const p = (samples: LatencySamples | undefined, q: number) => percentile(samples?.dns ?? [], q);
  const describeLatency = (samples: LatencySamples, what: string) =>
    `→ DNS answer p50 ${ms(percentile(samples.dns, 0.5))}, p99 ${ms(percentile(samples.dns, 0.99))}; ` +
    `→ ${what} p50 ${ms(percentile(samples.reply, 0.5))}, p99 ${ms(percentile(samples.reply, 0.99))}; ` +
    `old answer after the ${what}: ${samples.staleAfterReply} of ${samples.dns.length}`;
  console.log(
    `\n6. the write path, ${fmt(HOSTS)} hosts, concurrency ${ctx.concurrency} (medians of ${REPS} alternating passes of ${fmt(HOSTS * PER_HOST)} requests)`,
  );
  console.log(
    `   PowerDNS alone (mean of before and after): one-rrset PATCHes ${fmt(raw.single)}/s; ` +
      `100-rrset PATCHes ${fmt(raw.hundred)} rrsets/s; 25 hosts × 4 rrsets per PATCH ${fmt(raw.hostShaped)} hosts/s`,
  );
  console.log(`   PATCH straight to PowerDNS, one at a time: ${describeLatency(direct, 'PATCH reply')}`);
  for (const side of sides) {
    const good = median(side.goods);
    const nochg = median(side.nochgs);
    console.log(`   ${side.label}:`);
    console.log(`     good updates, every request a new address: ${describeLoad(good)}`);
    console.log(`     baseline nochg, same API, same hosts:      ${describeLoad(nochg)}`);
    const rates = (results: LoadResult[]) => results.map((r) => fmt(r.perSecond)).join(', ');
    console.log(`     (every pass: good ${rates(side.goods)}; nochg ${rates(side.nochgs)})`);
    console.log(`     during the good passes: ${describeDuring(side.during)}`);
    console.log(`     CPU, good: ${describeCpu(side.cpu.good, side.goods)}`);
    console.log(`     CPU, nochg: ${describeCpu(side.cpu.nochg, side.nochgs)}`);
    console.log(`     ratio good ÷ nochg: ${ratio(good.perSecond, nochg.perSecond)} (aim ≥ 0.5×)`);
    console.log(
      `     ratio good ÷ one-rrset PATCHes ${ratio(good.perSecond, raw.single)}; ` +
        `÷ 100-rrset PATCH capacity ${ratio(good.perSecond, raw.hundred)}; ` +
        `÷ host-shaped PATCH capacity ${ratio(good.perSecond, raw.hostShaped)}`,
    );
    if (side.latency) {
      console.log(`     latency at light load (${LATENCY_SAMPLES} updates one at a time):`);
      console.log(`     ${describeLatency(side.latency, 'good reply')} (aim p99 < 50 ms)`);
      console.log(`     meanwhile: ${describeDuring(side.duringLatency)}`);
      console.log(
        `     ratio to the PATCH straight to PowerDNS: p50 ${ratio(p(side.latency, 0.5), p(direct, 0.5))}, ` +
          `p99 ${ratio(p(side.latency, 0.99), p(direct, 0.99))}`,
      );
    }
  }
  const [mine, base] = sides;
  if (mine && base) {
    const rate = (side: Side, which: 'goods' | 'nochgs') => median(side[which]).perSecond;
    console.log(
      `   this checkout ÷ baseline: good ${ratio(rate(mine, 'goods'), rate(base, 'goods'))}, ` +
        `nochg ${ratio(rate(mine, 'nochgs'), rate(base, 'nochgs'))}, ` +
        `latency p50 ${ratio(p(mine.latency, 0.5), p(base.latency, 0.5))}, p99 ${ratio(p(mine.latency, 0.99), p(base.latency, 0.99))}`,
    );
  }
  await baseline?.db.destroy();
  await runCommitStrategies({ db: ctx.db, url: ctx.env.databaseUrl, hash });
}
