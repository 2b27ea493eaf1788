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
 *     is sent), p50 and p99, beside the time to the `good` reply.
 */
import type { Database } from '@mydns/db';
import { hostRrsets, type PowerDnsClient } from '@mydns/powerdns';
import { createDnsQuery } from '../support/dns.ts';
import { type LoadResult, runLoad } from './load.ts';
import {
  authHeader,
  createHosts,
  describeLoad,
  directPatches,
  ensureZone,
  fmt,
  median,
  type StackEnv,
  startApi,
} from './stack.ts';

export interface WritePathContext {
  readonly db: Database;
  readonly dns: PowerDnsClient;
  readonly env: StackEnv;
  /** bcrypt hash of PASSWORD. */
  readonly hash: string;
  /** PowerDNS's DNS port, for the authoritative answers. */
  readonly dnsPort: number;
  readonly concurrency: number;
}

const ZONE = 'write.bench';
const HOSTS = 1000;
/** Each measured pass sends this many requests per host, one host after the other. */
const PER_HOST = 3;
const REPS = 5;
const LATENCY_HOSTS = 20;
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300);

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

/** One update to a light-loaded API, and the time until PowerDNS answers it. */
async function latencySamples(port: number, dnsPort: number): Promise<{ reply: number[]; dns: number[] }> {
  const query = createDnsQuery(dnsPort);
  const send = (name: string, ip: string) =>
    fetch(`http://127.0.0.1:${port}/nic/update?hostname=${name}&myip=${ip}`, {
      headers: authHeader(name),
    }).then((response) => response.text());
  // One bcrypt per host first (the credential cache), unmeasured.
  for (let h = 1; h <= LATENCY_HOSTS; h++) await send(`lat${h}`, `10.240.0.${h}`);
  const reply: number[] = [];
  const dns: number[] = [];
  for (let sample = 0; sample < LATENCY_SAMPLES; sample++) {
    const h = (sample % LATENCY_HOSTS) + 1;
    const name = `lat${h}`;
    const ip = `10.241.${Math.floor(sample / LATENCY_HOSTS) % 250}.${h}`;
    const started = performance.now();
    const answered = send(name, ip).then((body) => {
      if (body !== `good ${ip}`) throw new Error(`latency sample ${sample}: ${body}`);
      reply.push(performance.now() - started);
    });
    // Polled back to back from the moment the update is sent, for at most 10 s.
    for (;;) {
      const answer = await query.a(`${name}.${ZONE}`);
      if (answer.length === 1 && answer[0] === ip) break;
      if (performance.now() - started > 10_000) throw new Error(`${name} never answered ${ip}`);
    }
    dns.push(performance.now() - started);
    await answered;
  }
  return { reply, dns };
}

export async function runWritePathBenchmarks(ctx: WritePathContext): Promise<void> {
  await ensureZone(ctx.dns, ZONE);
  await createHosts(ctx.db, 'w', HOSTS, ctx.hash, '10.0.0.1');
  await createHosts(ctx.db, 'lat', LATENCY_HOSTS, ctx.hash, '10.0.0.1');
  const rawBefore = await rawCapacity(ctx.dns);

  const api = await startApi(ctx.env, ZONE);
  const goods: LoadResult[] = [];
  const nochgs: LoadResult[] = [];
  let latency: { reply: number[]; dns: number[] };
  try {
    const pass = (total: number, path: (i: number) => string, concurrency = ctx.concurrency) =>
      runLoad({
        port: api.port,
        concurrency,
        total,
        maxMs: 120_000,
        next: (i) => ({ path: path(i), headers: authHeader(hostName(i % HOSTS)) }),
      });
    const expect = async (result: LoadResult, body: string, what: string) => {
      if ((result.bodies[body] ?? 0) === result.requests) return result;
      // What the API counted, to tell a refusal's reason (the replies say only `abuse`).
      const metrics = await fetch(`http://127.0.0.1:${api.port}/metrics`).then((r) => r.text());
      const counted = metrics.split('\n').filter((line) => /^mydns_(login_refusals|update_results)/.test(line));
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
    latency = await latencySamples(api.port, ctx.dnsPort);
  } finally {
    await api.stop();
  }
  const raw = meanOf(rawBefore, await rawCapacity(ctx.dns));

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
  console.log(
    `   latency at light load (${LATENCY_SAMPLES} updates one at a time): update → DNS answer p50 ${ms(percentile(latency.dns, 0.5))}, ` +
      `p99 ${ms(percentile(latency.dns, 0.99))} (aim p99 < 50 ms); update → good reply p50 ${ms(percentile(latency.reply, 0.5))}, ` +
      `p99 ${ms(percentile(latency.reply, 0.99))}`,
  );
}
