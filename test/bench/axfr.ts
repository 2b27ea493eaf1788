/**
 * What AXFR costs, beside the replica path (`npm run bench -- axfr`, only
 * when named; README "Benchmarks" and "Growing past one machine"). One zone
 * of BENCH_AXFR_HOSTS hosts (1,000,000), created in bulk in Postgres and in
 * the primary PowerDNS's gpgsql tables (test/bench/replica.ts's pieces), and
 * BENCH_AXFR_RATE (100) changes a second to hosts of their own through the
 * API for BENCH_AXFR_SECONDS (120), twice on the same zone, one path at a
 * time:
 *
 * 1. AXFR: BIND 9 (Debian's named, test/support/bind.ts) as a secondary of
 *    the zone, started here on a loopback port with its own work folder; the
 *    API lists it in MYDNS_SECONDARIES with the default MYDNS_NOTIFY_INTERVAL.
 *    Its transfers pass through a counting proxy (test/support/counting-proxy.ts)
 *    in front of the primary's DNS port: the bytes are the transport's.
 * 2. the replica path: a streaming standby of the bench's Postgres and a
 *    pdns_server on pdns/pdns-replica.conf reading it; the bytes are the WAL
 *    the primary wrote in the window (all of it streams to the standby).
 *
 * For each: the lag from `good` to the follower answering the new address
 * (every SAMPLE_EVERY-th change, test/bench/steady-changes.ts), p50 and p99,
 * and the CPU seconds per second of the window of the primary pdns_server,
 * the API, the follower and the primary Postgres (/proc/<pid>/stat). The
 * window runs from the first change to the last followed change answered.
 * Before each, the bench waits for its processes to be quiet (the API's start
 * pass, the secondary's first transfer), so that the window measures the
 * changes, not the set-up. The machine's load average is printed with each.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBindSecondary } from '../support/bind.ts';
import { startCountingProxy } from '../support/counting-proxy.ts';
import { createDnsQuery } from '../support/dns.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';
import { type CpuSnapshot, cpuBetween, snapshotCpu, treeCpuMs } from './cpu.ts';
import { type ReplicaContext, sampleReplication, startGpgsqlPrimary } from './replica.ts';
import { fmt, startApi } from './stack.ts';
import { ms, percentile, runSteadyChanges, type SteadyResult } from './steady-changes.ts';

const ZONE = 'axfr.bench';
const PREFIX = 'x';
const HOSTS = Number(process.env.BENCH_AXFR_HOSTS ?? 1_000_000);
const RATE = Number(process.env.BENCH_AXFR_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_AXFR_SECONDS ?? 120);
const SAMPLE_EVERY = 10;
/** A followed change no follower answered after this long counts as never answered. */
const FOLLOW_TIMEOUT_MS = 300_000;
/** Set-up (a first transfer of the whole zone, a base backup) on a loaded machine. */
const SETUP_TIMEOUT_MS = 1_800_000;

const load = () =>
  loadavg()
    .map((n) => n.toFixed(1))
    .join(' / ');
const perSecond = (cpuMs: number, windowMs: number) => `${(cpuMs / windowMs).toFixed(2)} CPU s/s`;
const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

/** Until each process tree used under 5% of a core over two seconds (bounded). */
async function waitForQuiet(what: string, roots: readonly number[]) {
  let before = snapshotCpu();
  await waitFor(
    async () => {
      await sleep(2000);
      const after = snapshotCpu();
      const busy = roots.some((pid) => treeCpuMs(before, after, pid) > 100);
      before = after;
      return !busy;
    },
    { timeoutMs: SETUP_TIMEOUT_MS, intervalMs: 0, message: `${what} to be quiet` },
  );
}

interface Window {
  started: number;
  cpu: CpuSnapshot;
  load: string;
}

const openWindow = (): Window => ({ started: performance.now(), cpu: snapshotCpu(), load: load() });

function describeRun(name: string, run: SteadyResult) {
  const lags = run.lags[name] ?? { ms: [], neverAnswered: 0, withoutSerialChange: 0, queryMs: [] };
  return {
    lags,
    line:
      `   ${fmt(run.sent)} changes (${(run.sent / run.seconds).toFixed(0)}/s reached; replies p50 ${ms(percentile(run.replies, 0.5))}, ` +
      `p99 ${ms(percentile(run.replies, 0.99))}; not good ${run.notGood}); ${lags.ms.length} of ${run.followed} followed answered ` +
      `(never within ${FOLLOW_TIMEOUT_MS / 1000} s: ${lags.neverAnswered}; seen without a serial change: ${lags.withoutSerialChange}); ` +
      `the primary answered ${run.primaryAnswered} at once; baselines: good → the primary's answer p50 ${ms(percentile(run.primaryMs, 0.5))}, ` +
      `p99 ${ms(percentile(run.primaryMs, 0.99))}; a query's round trip at the follower: ` +
      `p50 ${ms(percentile(lags.queryMs, 0.5))}, p99 ${ms(percentile(lags.queryMs, 0.99))} (${fmt(lags.queryMs.length)} serial queries)`,
  };
}

export async function runAxfrBenchmark(ctx: ReplicaContext): Promise<void> {
  const primary = await startGpgsqlPrimary(ctx);
  const stops: (() => Promise<unknown>)[] = [() => primary.stop()];
  const stopAll = async () => {
    for (const stop of stops.splice(0))
      await stop().catch((error: unknown) => console.error(`stopping: ${String(error)}`));
  };
  const env = { databaseUrl: ctx.databaseUrl, pdnsUrl: primary.apiUrl, pdnsKey: primary.apiKey };
  const pdnsPid = primary.pdns.program.pid;
  const atPrimary = createDnsQuery(primary.dnsPort);
  const steady = (
    apiPort: number,
    firstOctet: number,
    followers: Parameters<typeof runSteadyChanges>[0]['followers'],
  ) =>
    runSteadyChanges({
      apiPort,
      zone: ZONE,
      prefix: PREFIX,
      hosts: HOSTS,
      rate: RATE,
      seconds: SECONDS,
      sampleEvery: SAMPLE_EVERY,
      maxInFlight: 500,
      followTimeoutMs: FOLLOW_TIMEOUT_MS,
      firstOctet,
      primary: atPrimary,
      followers,
    });
  try {
    const seedSeconds = await primary.seedZone(ZONE, PREFIX, HOSTS);
    const last = `${PREFIX}${HOSTS}.${ZONE}`;
    console.log(
      `\naxfr: ${fmt(HOSTS)} hosts (seeded in bulk in ${seedSeconds.toFixed(1)} s), ${RATE} changes/s for ${SECONDS} s ` +
        `to hosts of their own, every ${SAMPLE_EVERY}th followed; load average at the start ${load()}`,
    );

    // 1. AXFR to a BIND secondary, through the counting proxy.
    const proxy = await startCountingProxy({ targetPort: primary.dnsPort });
    stops.unshift(() => proxy.stop());
    const secondaryPort = await freePort();
    // First: its start makes the zone a Master zone with the secondary as ALSO-NOTIFY.
    const axfrApi = await startApi(env, ZONE, {
      MYDNS_RECONCILE_INTERVAL: '0',
      MYDNS_SECONDARIES: `127.0.0.1:${secondaryPort}`,
    });
    stops.unshift(() => axfrApi.stop());
    const setupStarted = performance.now();
    const secondary = await startBindSecondary({
      zone: ZONE,
      primaryPort: proxy.port,
      dnsPort: secondaryPort,
      workDir: primary.work,
    });
    stops.unshift(() => secondary.stop());
    const atSecondary = createDnsQuery(secondaryPort);
    await waitFor(async () => (await atSecondary.a(last))[0] === '10.0.0.1', {
      timeoutMs: SETUP_TIMEOUT_MS,
      intervalMs: 500,
      message: () => `the secondary's first transfer:\n${secondary.output().slice(-2000)}`,
    });
    const firstTransfer = { ms: performance.now() - setupStarted, ...proxy.counts() };
    await waitForQuiet('the primary, the API and the secondary', [pdnsPid, axfrApi.pid, secondary.pid]);
    const axfrWindow = openWindow();
    const axfrBefore = {
      ...proxy.counts(),
      transfers: secondary.transfers(),
      notifies: secondary.notifies(),
    };
    const axfrBytesBefore = secondary.transferredBytes();
    const axfrRun = await steady(axfrApi.port, 1, { secondary: atSecondary });
    const axfrMs = performance.now() - axfrWindow.started;
    const axfrCpu = snapshotCpu();
    const axfrAfter = proxy.counts();
    const axfr = describeRun('secondary', axfrRun);
    const axfrPostgres = cpuBetween(axfrWindow.cpu, axfrCpu, axfrApi.pid).get('postgres') ?? 0;
    console.log(
      `\n   1. AXFR to a BIND 9 secondary (MYDNS_NOTIFY_INTERVAL default), window ${(axfrMs / 1000).toFixed(1)} s, load average ${axfrWindow.load} → ${load()}`,
    );
    console.log(
      `   the secondary's first transfer of the zone: ${(firstTransfer.ms / 1000).toFixed(1)} s, ${mib(firstTransfer.tcpToClient)}`,
    );
    console.log(axfr.line);
    console.log(
      `   good reply → the secondary's answer: p50 ${ms(percentile(axfr.lags.ms, 0.5))}, p99 ${ms(percentile(axfr.lags.ms, 0.99))}, max ${ms(percentile(axfr.lags.ms, 1))}`,
    );
    console.log(
      `   transferred: ${mib(axfrAfter.tcpToClient - axfrBefore.tcpToClient)} over TCP to the secondary in ${axfrAfter.tcpConnections - axfrBefore.tcpConnections} connections ` +
        `(${mib((axfrAfter.tcpToClient - axfrBefore.tcpToClient) / (axfrMs / 1000))}/s; UDP ${fmt(axfrAfter.udpToClient - axfrBefore.udpToClient)} bytes); ` +
        `named: ${secondary.transfers() - axfrBefore.transfers} transfers completed, ${mib(secondary.transferredBytes() - axfrBytesBefore)}, ` +
        `${secondary.notifies() - axfrBefore.notifies} NOTIFYs received`,
    );
    console.log(
      `   CPU: primary pdns_server ${perSecond(treeCpuMs(axfrWindow.cpu, axfrCpu, pdnsPid), axfrMs)}, API ${perSecond(treeCpuMs(axfrWindow.cpu, axfrCpu, axfrApi.pid), axfrMs)}, ` +
        `named ${perSecond(treeCpuMs(axfrWindow.cpu, axfrCpu, secondary.pid), axfrMs)}, Postgres ${perSecond(axfrPostgres, axfrMs)}`,
    );
    // Each path alone on the machine: the secondary and its API go before the replica comes.
    for (const stop of stops.splice(0, 3)) await stop();

    // 2. The replica path, same zone, same load.
    const replica = await primary.startReplica();
    const atReplica = createDnsQuery(replica.dnsPort);
    await waitFor(async () => (await atReplica.a(last))[0] !== undefined, {
      timeoutMs: SETUP_TIMEOUT_MS,
      intervalMs: 500,
      message: 'the replica to serve the zone',
    });
    const replicaApi = await startApi(env, ZONE, { MYDNS_RECONCILE_INTERVAL: '0' });
    stops.unshift(() => replicaApi.stop());
    await waitForQuiet('the primary, the API and the replica', [
      pdnsPid,
      replicaApi.pid,
      replica.pdns.program.pid,
      replica.standby.pid,
    ]);
    const replication = await sampleReplication(primary.adminUrl);
    let sampled: Awaited<ReturnType<typeof replication.stop>> | undefined;
    stops.unshift(async () => {
      sampled ??= await replication.stop();
    });
    const replicaWindow = openWindow();
    const replicaRun = await steady(replicaApi.port, 101, { replica: atReplica });
    const replicaMs = performance.now() - replicaWindow.started;
    const replicaCpu = snapshotCpu();
    sampled = await replication.stop();
    const standbyMs = treeCpuMs(replicaWindow.cpu, replicaCpu, replica.standby.pid);
    const replicaPostgres =
      (cpuBetween(replicaWindow.cpu, replicaCpu, replicaApi.pid).get('postgres') ?? 0) - standbyMs;
    const rep = describeRun('replica', replicaRun);
    console.log(
      `\n   2. the replica path (a streaming standby and pdns-replica.conf), window ${(replicaMs / 1000).toFixed(1)} s, load average ${replicaWindow.load} → ${load()}`,
    );
    console.log(rep.line);
    console.log(
      `   good reply → the replica's answer: p50 ${ms(percentile(rep.lags.ms, 0.5))}, p99 ${ms(percentile(rep.lags.ms, 0.99))}, max ${ms(percentile(rep.lags.ms, 1))} (aim p99 < 1 s); ` +
        `baseline, Postgres's replay lag of the standby: p50 ${ms(percentile(sampled.replayLags, 0.5))}, p99 ${ms(percentile(sampled.replayLags, 0.99))}`,
    );
    console.log(
      `   streamed: ${mib(sampled.walBytes)} of WAL (the whole cluster's, MyDNS's own tables too; ${mib(sampled.walBytes / (replicaMs / 1000))}/s)`,
    );
    console.log(
      `   CPU: primary pdns_server ${perSecond(treeCpuMs(replicaWindow.cpu, replicaCpu, pdnsPid), replicaMs)}, API ${perSecond(treeCpuMs(replicaWindow.cpu, replicaCpu, replicaApi.pid), replicaMs)}, ` +
        `replica pdns_server ${perSecond(treeCpuMs(replicaWindow.cpu, replicaCpu, replica.pdns.program.pid), replicaMs)}, standby ${perSecond(standbyMs, replicaMs)}, primary Postgres ${perSecond(replicaPostgres, replicaMs)}`,
    );
    const axfrBytes = axfrAfter.tcpToClient - axfrBefore.tcpToClient;
    console.log(
      `\n   AXFR vs the replica path: ${mib(axfrBytes)} vs ${mib(sampled.walBytes)} (${(axfrBytes / Math.max(1, sampled.walBytes)).toFixed(1)}×); ` +
        `lag p99 ${ms(percentile(axfr.lags.ms, 0.99))} vs ${ms(percentile(rep.lags.ms, 0.99))}`,
    );
  } finally {
    await stopAll();
  }
}
