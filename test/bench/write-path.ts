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
import type { Database } from '@mydns/db';
import { hostRrsets, type PowerDnsClient } from '@mydns/powerdns';
import bcrypt from 'bcryptjs';
import { createDnsQuery } from '../support/dns.ts';
import { runCommitStrategies } from './commit-strategies.ts';
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
  patches: number,
  rrsets: (patch: number) => ReturnType<typeof hostRrsets>,
): Promise<number> {
  let sent = 0;
  const started = performance.now();
  for (let patch = 0; patch < patches; patch++) {
    const batch = rrsets(patch);
    await dns.patchZone(ZONE, batch);
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
async function rawCapacity(dns: PowerDnsClient): Promise<RawCapacity> {
  const round = ++rawRound;
  const single = await directPatches(dns, ZONE, 300);
  const hundred = await rrsetPatches(dns, 30, (patch) =>
    Array.from({ length: 100 }, (_, i) => ({
      name: `raw${patch * 100 + i}.${ZONE}`,
      type: 'A' as const,
      ttl: 60,
      records: [`10.253.${round}.${i + 1}`],
    })),
  );
  const hostShaped =
    (await rrsetPatches(dns, 30, (patch) =>
      Array.from({ length: 25 }, (_, i) =>
        hostRrsets(
          ZONE,
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
const address = (pass: number, i: number) => `10.${pass + 1}.${(i + 1) >> 8}.${(i + 1) & 255}`;

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
  change: (sample: number) => { name: string; ip: string; send: () => Promise<void> },
): Promise<LatencySamples> {
  const query = createDnsQuery(dnsPort);
  const reply: number[] = [];
  const dns: number[] = [];
  let staleAfterReply = 0;
  for (let sample = 0; sample < LATENCY_SAMPLES; sample++) {
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
      const answer = await query.a(`${name}.${ZONE}`);
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
async function updateLatency(port: number, dnsPort: number): Promise<LatencySamples> {
  const send = async (name: string, ip: string) => {
    const response = await fetch(`http://127.0.0.1:${port}/nic/update?hostname=${name}&myip=${ip}`, {
      headers: authHeader(name),
    });
    const body = await response.text();
    if (body !== `good ${ip}`) throw new Error(`latency sample for ${name}: ${body}`);
  };
  // One bcrypt per host first (the credential cache), unmeasured.
  for (let h = 1; h <= LATENCY_HOSTS; h++) await send(`lat${h}`, `10.240.0.${h}`);
  return latencySamples(dnsPort, (sample) => {
    const h = (sample % LATENCY_HOSTS) + 1;
    const name = `lat${h}`;
    const ip = `10.241.${Math.floor(sample / LATENCY_HOSTS) % 250}.${h}`;
    return { name, ip, send: () => send(name, ip) };
  });
}

/** The baseline: one-rrset PATCHes straight to PowerDNS, one at a time. */
function patchLatency(dns: PowerDnsClient, dnsPort: number): Promise<LatencySamples> {
  return latencySamples(dnsPort, (sample) => {
    const h = (sample % LATENCY_HOSTS) + 1;
    const name = `plat${h}`;
    const ip = `10.242.${Math.floor(sample / LATENCY_HOSTS) % 250}.${h}`;
    return {
      name,
      ip,
      send: () => dns.patchZone(ZONE, [{ name: `${name}.${ZONE}`, type: 'A', ttl: 60, records: [ip] }]),
    };
  });
}

export async function runWritePathBenchmarks(ctx: WritePathContext): Promise<void> {
  await ensureZone(ctx.dns, ZONE);
  // The write path is measured with a warm credential cache: bcrypt's cost is
  // beside the point, and cost 4 warms 1,000 hosts in seconds, not minutes.
  const hash = bcrypt.hashSync(PASSWORD, 4);
  await createHosts(ctx.db, 'w', HOSTS, hash, '10.0.0.1');
  await createHosts(ctx.db, 'lat', LATENCY_HOSTS, hash, '10.0.0.1');
  const rawBefore = await rawCapacity(ctx.dns);

  const api = await startApi(ctx.env, ZONE);
  const goods: LoadResult[] = [];
  const nochgs: LoadResult[] = [];
  let latency: LatencySamples;
  try {
    const pass = (total: number, path: (i: number) => string, concurrency = ctx.concurrency) =>
      runLoad({
        port: api.port,
        concurrency,
        total,
        maxMs: 120_000,
        next: (i) => ({ path: path(i), headers: authHeader(hostName(i % HOSTS)) }),
      });
    const expect = async (result: LoadResult, total: number, body: string, what: string) => {
      if ((result.bodies[body] ?? 0) === total) return result;
      // What the API counted, to tell a refusal's reason (the replies say only `abuse`).
      const metrics = await fetch(`http://127.0.0.1:${api.port}/metrics`).then((r) => r.text());
      const counted = metrics
        .split('\n')
        .filter((line) =>
          /^mydns_(login_refusals|update_results|credential_cache|host_cache|bcrypt)/.test(line),
        );
      throw new Error(`${what}: ${describeLoad(result)}\n${counted.join('\n')}`);
    };
    let step = 0;
    const goodPass = async (total: number, concurrency = ctx.concurrency) => {
      const first = step;
      step += Math.ceil(total / HOSTS);
      return expect(
        await pass(
          total,
          (i) =>
            `/nic/update?hostname=${hostName(i % HOSTS)}&myip=${address(first + Math.floor(i / HOSTS), i % HOSTS)}`,
          concurrency,
        ),
        total,
        'good',
        `good pass ${first}`,
      );
    };
    const nochgPass = async (total: number) => {
      const last = step - 1;
      return expect(
        await pass(
          total,
          (i) => `/nic/update?hostname=${hostName(i % HOSTS)}&myip=${address(last, i % HOSTS)}`,
        ),
        total,
        'nochg',
        `nochg pass after ${last}`,
      );
    };
    // Pass 0 warms up: one bcrypt per host fills the credential cache, a few
    // at a time (250 at once would overflow the bcrypt queue: `abuse`).
    await goodPass(HOSTS, 8);
    // Alternate the two so that both see the same machine; medians are reported.
    for (let rep = 0; rep < REPS; rep++) {
      goods.push(await goodPass(HOSTS * PER_HOST));
      // A change evicts its host from the host cache: one unmeasured pass reads them back.
      await nochgPass(HOSTS);
      nochgs.push(await nochgPass(HOSTS * PER_HOST));
    }
    latency = await updateLatency(api.port, ctx.dnsPort);
  } finally {
    await api.stop();
  }
  const raw = meanOf(rawBefore, await rawCapacity(ctx.dns));
  const direct = await patchLatency(ctx.dns, ctx.dnsPort);

  const good = median(goods);
  const nochg = median(nochgs);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  console.log(
    `\n5. the write path, ${fmt(HOSTS)} hosts, concurrency ${ctx.concurrency} (medians of ${REPS} alternating passes of ${fmt(HOSTS * PER_HOST)} requests)`,
  );
  console.log(`   good updates, every request a new address: ${describeLoad(good)}`);
  console.log(`   baseline nochg, same API, same hosts:      ${describeLoad(nochg)}`);
  console.log(`   ratio good ÷ nochg: ${ratio(good.perSecond, nochg.perSecond)} (aim ≥ 0.5×)`);
  console.log(
    `   PowerDNS alone (mean of before and after): one-rrset PATCHes ${fmt(raw.single)}/s; ` +
      `100-rrset PATCHes ${fmt(raw.hundred)} rrsets/s; 25 hosts × 4 rrsets per PATCH ${fmt(raw.hostShaped)} hosts/s`,
  );
  console.log(`   ratio good ÷ one-rrset PATCHes: ${ratio(good.perSecond, raw.single)}`);
  console.log(`   ratio good ÷ 100-rrset PATCH capacity: ${ratio(good.perSecond, raw.hundred)}`);
  console.log(`   ratio good ÷ host-shaped PATCH capacity: ${ratio(good.perSecond, raw.hostShaped)}`);
  const describeLatency = (samples: LatencySamples, what: string) =>
    `→ DNS answer p50 ${ms(percentile(samples.dns, 0.5))}, p99 ${ms(percentile(samples.dns, 0.99))}; ` +
    `→ ${what} p50 ${ms(percentile(samples.reply, 0.5))}, p99 ${ms(percentile(samples.reply, 0.99))}; ` +
    `old answer after the ${what}: ${samples.staleAfterReply} of ${samples.dns.length}`;
  console.log(`   latency at light load (${LATENCY_SAMPLES} changes one at a time):`);
  console.log(
    `   update through the API:            ${describeLatency(latency, 'good reply')} (aim p99 < 50 ms)`,
  );
  console.log(`   baseline, PATCH straight to PowerDNS: ${describeLatency(direct, 'PATCH reply')}`);
  console.log(
    `   ratio update ÷ PATCH, p50 ${ratio(percentile(latency.dns, 0.5), percentile(direct.dns, 0.5))}, ` +
      `p99 ${ratio(percentile(latency.dns, 0.99), percentile(direct.dns, 0.99))}`,
  );
  await runCommitStrategies({ db: ctx.db, url: ctx.env.databaseUrl, hash });
}
