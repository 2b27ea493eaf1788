/**
 * A million hosts (README "Benchmarks", "A million hosts"): `npm run bench -- million`, or alone
 * with `npx tsx test/bench/million.ts`. Every figure is printed beside its
 * baseline from the same run: first a 1,000-host zone, then a zone of
 * BENCH_HOSTS hosts (default 1,000,000), both created in bulk (Postgres by
 * generate_series, PowerDNS straight into the managed pdns_server's sqlite
 * database), with the same records MyDNS would write, so the reconciler
 * finds nothing to change.
 *
 * - good updates/s, 1,000 hosts changing, in either zone;
 * - the API's RSS (VmRSS of the node process itself: it runs as
 *   `node --import tsx`, like `npm start`, so there is no wrapper);
 * - start to ready (/readyz 200);
 * - the reconciler pass at start (it runs in the background while the
 *   service answers) and the good-update rate meanwhile;
 * - the dormancy job's pass (apps/api/src/lifecycle/maintenance.ts), run
 *   here as a second replica would run it, with a tenth of the hosts
 *   inactive, and the update rate meanwhile;
 * - the thundering herd: BENCH_HERD hosts (default 100,000) each changing
 *   address once, sent at a fixed rate (BENCH_HERD_RATE, default 1,700/s)
 *   whatever the replies do, bounded by count and by in-flight requests.
 *
 * bcrypt: the hosts' hash is of cost 4, so that warming the credential cache
 * for the herd (one check per host, not measured) takes seconds, not the hour
 * 100,000 checks at cost 10 take on 2 cores (printed from a measured check);
 * every measured request is served from that cache, as a router updating
 * every few minutes is.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createAcmeRepository,
  createDatabase,
  createHistoryRepository,
  createHostsRepository,
  type Database,
  migrateLatest,
  startEmbeddedPostgres,
} from '@mydns/db';
import { createPowerDnsClient, type PowerDnsClient, startManagedPowerDns } from '@mydns/powerdns';
import { createLogger, createShutdown, type Logger, type Shutdown } from '@mydns/runtime';
import bcrypt from 'bcryptjs';
import { createMaintenance } from '../../apps/api/src/lifecycle/maintenance.ts';
import { freePort } from '../support/ports.ts';
import { startProgram } from '../support/programs.ts';
import { waitFor } from '../support/wait.ts';
import { type LoadResult, runLoad } from './load.ts';

const root = resolve(import.meta.dirname, '../..');
const PASSWORD = 'bench-password';
const HOSTS = Number(process.env.BENCH_HOSTS ?? 1_000_000);
const SMALL = 1000;
const HERD = Number(process.env.BENCH_HERD ?? Math.min(100_000, Math.floor(HOSTS / 2)));
const HERD_RATE = Number(process.env.BENCH_HERD_RATE ?? 1700);
/** At most this many herd requests in flight (the generator's bound; more wait their turn). */
const HERD_IN_FLIGHT = Number(process.env.BENCH_HERD_IN_FLIGHT ?? 2000);
const GOOD_CONCURRENCY = Number(process.env.BENCH_GOOD_CONCURRENCY ?? 250);
const TTL = 60;
const SEED_ADDRESS = '10.255.0.1';
const DAY_MS = 86_400_000;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (kb: number) => `${Math.round(kb / 1024)} MB`;
const authHeader = (name: string) => ({
  authorization: `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`,
});

function describeLoad(result: LoadResult): string {
  const bodies = Object.entries(result.bodies)
    .map(([body, count]) => `${body}×${count}`)
    .join(' ');
  return `${fmt(result.perSecond)}/s (${result.requests} in ${result.seconds.toFixed(2)} s; ${bodies})`;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** VmRSS of a process, in kB (0 once it is gone). */
function rssKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(match?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** APIs still running: stopped before Postgres and PowerDNS whatever failed. */
const running = new Set<{ stop(): Promise<unknown> }>();

export interface Api {
  readonly port: number;
  readonly pid: number;
  /** Spawn to the first /readyz 200. */
  readonly readyMs: number;
  /** The highest VmRSS seen since the last call (sampled every 250 ms), in kB. */
  takePeakRss(): number;
  /** Resolves with the reconcile pass's duration and differences when the next "done" (or failure) line comes. */
  nextReconcilePass(): Promise<{ ms: number; differences: number } | { failed: string }>;
  /** How many reconcile passes have started and ended (done or failed) so far. */
  reconcilePasses(): { started: number; ended: number };
  stop(): Promise<void>;
}

export async function startApi(
  env: { databaseUrl: string; pdnsUrl: string; pdnsKey: string },
  zone: string,
  settings: Record<string, string> = {},
): Promise<Api> {
  const port = await freePort();
  const waiters: ((line: string) => boolean)[] = [];
  const passes = { started: 0, ended: 0 };
  const started = performance.now();
  // `node --import tsx`, as `npm start`: the PID is the API's own node process.
  // BENCH_API_NODE_FLAGS="--trace-gc" (or a profile's flags), as in stack.ts.
  const nodeFlags = process.env.BENCH_API_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const api = startProgram(process.execPath, [...nodeFlags, '--import', 'tsx', 'apps/api/src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      // info: the reconciler's start and end lines (nothing per request is logged at info).
      LOG_LEVEL: 'info',
      DATABASE_URL: env.databaseUrl,
      MYDNS_PDNS_API_URL: env.pdnsUrl,
      MYDNS_PDNS_API_KEY: env.pdnsKey,
      MYDNS_ZONE: zone,
      MYDNS_HTTP_PORT: String(port),
      MYDNS_HTTP_ADDRESS: '127.0.0.1',
      MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true',
      MYDNS_RECORD_TTL: String(TTL),
      // The benchmark sends far more per host than any router would.
      MYDNS_HOST_UPDATE_LIMIT: '1000000000/10m',
      MYDNS_PUSH_TIMEOUT: '30s',
      MYDNS_DB_POOL_SIZE: '20',
      MYDNS_RELAY_ENABLED: 'false',
      // Every router here comes from 127.0.0.1: the per-source limits would count them as one guesser.
      MYDNS_LOGIN_FAILURE_LIMIT: '1000000/10m',
      MYDNS_LOGIN_HOST_FAILURE_LIMIT: '1000000/10m',
      MYDNS_BCRYPT_QUEUE: '100000',
      // The dormancy pass is run by the bench itself (see dormancy below).
      MYDNS_MAINTENANCE_INTERVAL: '24h',
      ...settings,
    },
    onLine: (line) => {
      if (/reconcile pass of \S+ started/.test(line)) passes.started++;
      if (/reconcile pass of \S+ done in|reconcile failed/.test(line)) passes.ended++;
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]?.(line)) waiters.splice(i, 1);
      if (!line.includes('"level":"info"')) process.stderr.write(`${line}\n`);
    },
  });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKb(api.pid));
  }, 250);
  sampler.unref();
  running.add(api);
  try {
    await waitFor(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200), {
      timeoutMs: 300_000,
      intervalMs: 50,
      message: 'the API to be ready',
      giveUp: () => (api.hasExited() ? 'it exited' : undefined),
    });
  } catch (error) {
    clearInterval(sampler);
    await api.stop({ signal: 'SIGKILL' });
    throw error;
  }
  const readyMs = performance.now() - started;
  return {
    port,
    pid: api.pid,
    readyMs,
    takePeakRss() {
      const seen = Math.max(peak, rssKb(api.pid));
      peak = 0;
      return seen;
    },
    nextReconcilePass: () =>
      new Promise((resolvePass) => {
        waiters.push((line) => {
          const done = /reconcile pass of \S+ done in ([\d.]+) s: (\d+) differences/.exec(line);
          if (done) {
            resolvePass({ ms: Number(done[1]) * 1000, differences: Number(done[2]) });
            return true;
          }
          if (line.includes('reconcile failed')) {
            resolvePass({ failed: line });
            return true;
          }
          return false;
        });
      }),
    reconcilePasses: () => ({ ...passes }),
    async stop() {
      clearInterval(sampler);
      await api.stop({ timeoutMs: 60_000 });
    },
  };
}

export async function ensureZone(dns: PowerDnsClient, zone: string) {
  await dns.createZone({
    name: zone,
    kind: 'Native',
    nameservers: [`ns1.${zone}`],
    soa: { ttl: 300, content: `ns1.${zone}. hostmaster.${zone}. 1 10800 3600 604800 60` },
  });
}

const hostName = (prefix: string, i: number) => `${prefix}${i}`;

/**
 * `count` hosts `<prefix>1…` in Postgres, all at SEED_ADDRESS; those past
 * `activeUntil` were last seen 40 days ago (the dormancy job's work).
 */
export async function createHostRows(
  db: Database,
  zone: string,
  prefix: string,
  count: number,
  hash: string,
  activeUntil = count,
): Promise<number> {
  const started = performance.now();
  await db.raw(
    `insert into hosts (zone, name, password_hash, ipv4, last_seen_at)
     select ?, ? || g, ?, ?, case when g <= ? then now() else now() - interval '40 days' end
       from generate_series(1, ?) g`,
    [zone, prefix, hash, SEED_ADDRESS, activeUntil, count],
  );
  await db.raw('analyze hosts');
  return performance.now() - started;
}

/**
 * The same hosts' A records straight into the managed pdns_server's sqlite
 * database, in one transaction, as its API writes them (no rectify:
 * ordername empty, auth 1; names without the final dot).
 */
export function insertRecordsSqlite(sqlitePath: string, zone: string, prefix: string, count: number): number {
  const started = performance.now();
  const sql = `.timeout 60000
begin;
insert into records (domain_id, name, type, content, ttl, prio, disabled, ordername, auth)
  with recursive g(i) as (select 1 union all select i + 1 from g where i < ${count})
  select (select id from domains where name = '${zone}'), '${prefix}' || i || '.${zone}', 'A', '${SEED_ADDRESS}', ${TTL}, 0, 0, null, 1
    from g;
commit;
`;
  execFileSync('/usr/bin/sqlite3', [sqlitePath], { input: sql });
  return performance.now() - started;
}

/** The other way: PATCHes of 5,000 rrsets each through the API (what run.ts's seedZone does). */
async function insertRecordsPatch(dns: PowerDnsClient, zone: string, prefix: string, count: number) {
  const started = performance.now();
  for (let start = 1; start <= count; start += 5000) {
    const changes = [];
    for (let i = start; i < Math.min(start + 5000, count + 1); i++) {
      changes.push({ name: `${prefix}${i}.${zone}`, type: 'A' as const, ttl: TTL, records: [SEED_ADDRESS] });
    }
    await dns.patchZone(zone, changes);
  }
  return performance.now() - started;
}

let round = 0;
/** Hosts 1…SMALL each move to a new address (10.<round>.x.y; never the herd's 172.16/12). */
async function goodRound(api: Api, prefix: string, zone?: string): Promise<LoadResult> {
  round = (round % 200) + 1;
  const r = round;
  const result = await runLoad({
    port: api.port,
    concurrency: GOOD_CONCURRENCY,
    total: SMALL,
    maxMs: 120_000,
    next: (i) => {
      // The full name in a zone other than the API's first.
      const name = zone ? `${hostName(prefix, i + 1)}.${zone}` : hostName(prefix, i + 1);
      return {
        path: `/nic/update?hostname=${name}&myip=10.${r}.${(i + 1) >> 8}.${(i + 1) & 255}`,
        headers: authHeader(name),
      };
    },
  });
  if ((result.bodies.good ?? 0) !== SMALL) throw new Error(`good round: ${describeLoad(result)}`);
  return result;
}

function median(results: LoadResult[]): LoadResult {
  const sorted = [...results].sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor(sorted.length / 2)] as LoadResult;
}

/**
 * Rounds 1-2 warm up (credential cache, JIT); the median of rounds 3-7. With `alongside` (a
 * second zone the same API serves), its rounds alternate with these, so that both medians
 * come from the same minutes of this shared machine.
 */
async function goodBenchmark(
  api: Api,
  prefix: string,
  alongside?: Alongside,
): Promise<{ good: LoadResult; alongside?: LoadResult }> {
  const results: LoadResult[] = [];
  const other: LoadResult[] = [];
  for (let i = 1; i <= 7; i++) {
    const result = await goodRound(api, prefix);
    const second = alongside ? await goodRound(api, alongside.prefix, alongside.zone) : undefined;
    if (i <= 2) continue;
    results.push(result);
    if (second) other.push(second);
  }
  return { good: median(results), ...(other.length > 0 ? { alongside: median(other) } : {}) };
}

/** The 1,000-host zone, served beside the big one by the same API (the good figure's baseline). */
interface Alongside {
  zone: string;
  prefix: string;
}

/** Good rounds, one after another, while `going()`; the rate over all of them. */
export async function roundsWhile(api: Api, prefix: string, going: () => boolean) {
  let good = 0;
  let ms = 0;
  let rounds = 0;
  while (going()) {
    const result = await goodRound(api, prefix);
    good += result.bodies.good ?? 0;
    ms += result.seconds * 1000;
    rounds++;
  }
  return { perSecond: ms > 0 ? good / (ms / 1000) : 0, rounds };
}

/**
 * The herd: request i (host i+1, a new address) is due at i / rate seconds
 * and sent then, whatever the earlier ones are doing (open loop), unless
 * HERD_IN_FLIGHT are outstanding (then as soon as one is answered). Reply
 * time counts from when it was due, so waiting for its turn counts too.
 */
async function runHerd(port: number, prefix: string, count: number, rate: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const latencies: number[] = [];
  const bodies: Record<string, number> = {};
  let inFlight = 0;
  let nextIndex = 0;
  let answered = 0;
  const started = performance.now();
  const deadline = started + 600_000;
  await new Promise<void>((resolveAll, reject) => {
    const send = (i: number) => {
      const due = started + (i * 1000) / rate;
      const name = hostName(prefix, i + 1);
      const n = i + 1;
      const path = `/nic/update?hostname=${name}&myip=172.${16 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
      inFlight++;
      const req = request({ host: '127.0.0.1', port, path, headers: authHeader(name), agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          latencies.push(performance.now() - due);
          const body = Buffer.concat(chunks).toString().split(/\s/)[0] ?? '';
          bodies[body] = (bodies[body] ?? 0) + 1;
          inFlight--;
          answered++;
          if (answered === count) resolveAll();
          else pump();
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    };
    const pump = () => {
      const now = performance.now();
      if (now > deadline) {
        reject(new Error(`the herd was not served within 600 s (${answered} of ${count})`));
        return;
      }
      while (nextIndex < count && inFlight < HERD_IN_FLIGHT && started + (nextIndex * 1000) / rate <= now) {
        send(nextIndex++);
      }
    };
    const ticker = setInterval(() => {
      pump();
      if (nextIndex >= count) clearInterval(ticker);
    }, 5);
  });
  const ms = performance.now() - started;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    ms,
    bodies,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? 0,
  };
}

interface ZoneFigures {
  hosts: number;
  pgMs: number;
  sqliteMs: number;
  readyMs: number;
  startPass: { ms: number; differences: number } | { failed: string };
  idleRssKb: number;
  good: LoadResult;
  /** The alongside zone's rounds, alternated with `good`'s. */
  goodAlongside?: LoadResult;
  goodRssKb: number;
  duringPass?: { perSecond: number; rounds: number };
  passRssKb?: number;
}

const describePass = (pass: ZoneFigures['startPass']) =>
  'failed' in pass ? `FAILED: ${pass.failed}` : `${seconds(pass.ms)}, ${pass.differences} differences`;

async function measureZone(
  ctx: Context,
  zone: string,
  prefix: string,
  hosts: number,
  options: { loadDuringPass: boolean; activeUntil?: number; alongside?: Alongside },
): Promise<{ figures: ZoneFigures; api: Api }> {
  await ensureZone(ctx.dns, zone);
  const pgMs = await createHostRows(ctx.db, zone, prefix, hosts, ctx.hash, options.activeUntil);
  const sqliteMs = insertRecordsSqlite(ctx.sqlitePath, zone, prefix, hosts);
  const { alongside } = options;
  const api = await startApi(ctx.env, zone, alongside ? { MYDNS_ZONES: `${zone},${alongside.zone}` } : {});
  // The start pass runs in the background from before ready on.
  const pass = api.nextReconcilePass();
  let passDone = false;
  void pass.then(() => {
    passDone = true;
  });
  const idleRssKb = rssKb(api.pid);
  let duringPass: ZoneFigures['duringPass'];
  let passRssKb: number | undefined;
  if (options.loadDuringPass) {
    api.takePeakRss();
    duringPass = await roundsWhile(api, prefix, () => !passDone);
    passRssKb = api.takePeakRss();
  }
  const startPass = await pass;
  api.takePeakRss();
  const { good, alongside: goodAlongside } = await goodBenchmark(api, prefix, alongside);
  const goodRssKb = api.takePeakRss();
  return {
    api,
    figures: {
      hosts,
      pgMs,
      sqliteMs,
      readyMs: api.readyMs,
      startPass,
      idleRssKb,
      good,
      ...(goodAlongside ? { goodAlongside } : {}),
      goodRssKb,
      ...(duringPass ? { duringPass } : {}),
      ...(passRssKb === undefined ? {} : { passRssKb }),
    },
  };
}

export interface Context {
  db: Database;
  dns: PowerDnsClient;
  env: { databaseUrl: string; pdnsUrl: string; pdnsKey: string };
  sqlitePath: string;
  hash: string;
  logger: Logger;
}

/**
 * A Postgres and a managed PowerDNS of the benchmark's own in a fresh folder, migrated, each
 * stopped by the shutdown (the folder too): what the million-host and background benchmarks share.
 */
export async function startBenchStack(
  name: string,
  password: string,
  logger: Logger,
  shutdown: Shutdown,
): Promise<Context> {
  const work = mkdtempSync(join(tmpdir(), `mydns-${name}-`));
  chmodSync(work, 0o755);
  shutdown.add('work folder', () => rmSync(work, { recursive: true, force: true }));
  const postgres = await startEmbeddedPostgres({
    dataDir: join(work, 'pg'),
    logger,
    database: `mydns_${name}`,
    port: await freePort(),
  });
  shutdown.add('postgres', () => postgres.stop());
  const db = createDatabase({ url: postgres.url, poolMax: 4 });
  shutdown.add('db', () => db.destroy());
  await migrateLatest(db);
  const pdnsDir = join(work, 'pdns');
  const pdns = await startManagedPowerDns({
    dir: pdnsDir,
    dnsPort: await freePort(),
    apiPort: await freePort(),
    logger,
  });
  shutdown.add('powerdns', () => pdns.stop());
  const dns = createPowerDnsClient({ apiUrl: pdns.apiUrl, apiKey: pdns.apiKey, timeoutMs: 600_000 });
  return {
    db,
    dns,
    env: { databaseUrl: postgres.url, pdnsUrl: pdns.apiUrl, pdnsKey: pdns.apiKey },
    sqlitePath: join(pdnsDir, 'pdns.sqlite3'),
    hash: bcrypt.hashSync(password, 4),
    logger,
  };
}

/** The dormancy job, run as another replica would: passes until none finds anything, with updates meanwhile. */
export async function dormancy(ctx: Context, api: Api, prefix: string, normal: number) {
  const hosts = createHostsRepository(ctx.db);
  const maintenance = createMaintenance({
    db: ctx.db,
    hosts,
    acme: createAcmeRepository(ctx.db),
    history: createHistoryRepository(ctx.db),
    logger: ctx.logger,
    inactivityDays: 30,
    historyMaxPerHost: 100,
    historyMaxAgeMs: 365 * DAY_MS,
    intervalMs: 60_000,
  });
  const passes: { ms: number; dormant: number }[] = [];
  let working = true;
  const load = roundsWhile(api, prefix, () => working);
  const started = performance.now();
  try {
    for (;;) {
      const passStarted = performance.now();
      const report = await maintenance.runOnce();
      passes.push({ ms: performance.now() - passStarted, dormant: report?.dormant.length ?? 0 });
      if (!report || report.dormant.length === 0) break;
    }
    // Their records leave PowerDNS through the API's zone writer (it sweeps the outbox every 5 s).
    await waitFor(
      async () => {
        const row = await ctx.db('dns_outbox').count<{ count: string }[]>({ count: '*' }).first();
        return Number(row?.count ?? 0) === 0;
      },
      { timeoutMs: 600_000, intervalMs: 200, message: 'the dormant hosts to leave PowerDNS' },
    );
  } finally {
    working = false;
  }
  const allMs = performance.now() - started;
  const rate = await load;
  const dormantRows = await ctx.db('hosts').where({ status: 'dormant' }).count<{ count: string }[]>({
    count: '*',
  });
  const idle = passes[passes.length - 1]?.ms ?? 0;
  const working_ = passes.filter((pass) => pass.dormant > 0);
  return {
    dormant: Number(dormantRows[0]?.count ?? 0),
    passes: working_.length,
    perPassMs: working_.reduce((sum, pass) => sum + pass.ms, 0) / Math.max(1, working_.length),
    idleMs: idle,
    allMs,
    rate: rate.perSecond,
    ratio: rate.perSecond / normal,
  };
}

/** Nochg with each herd host's current address: one bcrypt each, so the herd finds its credential cached. */
async function warmHerd(api: Api, prefix: string, count: number) {
  const started = performance.now();
  const result = await runLoad({
    port: api.port,
    concurrency: 64,
    total: count,
    maxMs: 1_800_000,
    next: (i) => {
      const name = hostName(prefix, i + 1);
      const current = i + 1 <= SMALL ? undefined : SEED_ADDRESS;
      // Hosts 1…1,000 moved in the good rounds: an address of their own space keeps them off `good` here.
      return {
        path: `/nic/update?hostname=${name}${current ? `&myip=${current}` : ''}`,
        headers: authHeader(name),
      };
    },
  });
  if ((result.statuses['200'] ?? 0) !== count) throw new Error(`herd warm-up: ${describeLoad(result)}`);
  return performance.now() - started;
}

function sqliteCount(path: string, where: string): number {
  return Number(
    execFileSync('/usr/bin/sqlite3', [path], {
      input: `.timeout 60000\nselect count(*) from records where ${where};\n`,
    })
      .toString()
      .trim(),
  );
}

export async function runMillionBenchmark(): Promise<void> {
  const logger = createLogger({ level: process.env.BENCH_LOG ? 'debug' : 'warn', format: 'pretty' });
  const shutdown: Shutdown = createShutdown(logger);
  const onInterrupt = () => void shutdown.run('interrupted').then(() => process.exit(130));
  process.on('SIGINT', onInterrupt);
  try {
    await run(logger, shutdown);
  } finally {
    process.off('SIGINT', onInterrupt);
    for (const api of running) await api.stop();
    await shutdown.run('million-host benchmark finished');
  }
}

async function run(logger: Logger, shutdown: Shutdown) {
  const ctx = await startBenchStack('million', PASSWORD, logger, shutdown);
  const { db, dns } = ctx;
  const cost10 = bcrypt.hashSync(PASSWORD, 10);
  const checkStarted = performance.now();
  for (let i = 0; i < 5; i++) bcrypt.compareSync(PASSWORD, cost10);
  const cost10Ms = (performance.now() - checkStarted) / 5;
  const cores = availableParallelism();
  console.log(
    `MyDNS million-host benchmark — ${new Date().toISOString()}, ${cores} cores, ${fmt(HOSTS)} hosts, ` +
      `good concurrency ${GOOD_CONCURRENCY}, herd ${fmt(HERD)} at ${fmt(HERD_RATE)}/s, durable Postgres, load average ${loadavg()[0]?.toFixed(1)}`,
  );

  // Baseline: a 1,000-host zone, same steps.
  const small = await measureZone(ctx, 'small.bench', 's', SMALL, { loadDuringPass: false });
  await small.api.stop();
  await db('dns_outbox').delete();

  // PowerDNS bulk, the other way, on a sample: PATCHes of 5,000 rrsets.
  const patchSample = Math.min(100_000, HOSTS);
  await ensureZone(dns, 'patch.bench');
  const patchMs = await insertRecordsPatch(dns, 'patch.bench', 'p', patchSample);
  await dns.deleteZone('patch.bench');

  // The big zone: a tenth of its hosts (the last) inactive for 40 days, for the dormancy job.
  const stale = Math.floor(HOSTS / 10);
  const big = await measureZone(ctx, 'million.bench', 'm', HOSTS, {
    loadDuringPass: true,
    activeUntil: HOSTS - stale,
    // The 1,000-host zone again, in the same API, its good rounds alternated with the big zone's.
    alongside: { zone: 'small.bench', prefix: 's' },
  });
  const { api } = big;
  const s = small.figures;
  const m = big.figures;
  console.log(`\nBulk creation of ${fmt(HOSTS)} hosts`);
  console.log(`   Postgres (insert … select from generate_series, then analyze): ${seconds(m.pgMs)}`);
  console.log(
    `   PowerDNS, straight into its sqlite database (one transaction): ${seconds(m.sqliteMs)} ` +
      `(${fmt(HOSTS / (m.sqliteMs / 1000))} records/s)`,
  );
  console.log(
    `   PowerDNS, PATCHes of 5,000 rrsets (sample of ${fmt(patchSample)}): ${seconds(patchMs)} ` +
      `(${fmt(patchSample / (patchMs / 1000))} records/s)`,
  );
  const baseline = m.goodAlongside ?? s.good;
  console.log(
    `\nGood updates, 1,000 hosts changing (medians of 5 rounds, the two zones' rounds alternated in one API)`,
  );
  console.log(`   baseline, a 1,000-host zone:   ${describeLoad(baseline)}`);
  console.log(`   in the ${fmt(HOSTS)}-host zone: ${describeLoad(m.good)}`);
  console.log(`   ratio: ${(m.good.perSecond / baseline.perSecond).toFixed(2)} (aim ≥ 0.9)`);
  console.log(`   (the 1,000-host zone alone in its own API, earlier: ${describeLoad(s.good)})`);
  console.log(`\nAPI RSS (VmRSS of its node process; peak, sampled every 250 ms)`);
  console.log(
    `   baseline, 1,000 hosts: ${mb(s.idleRssKb)} at ready, ${mb(s.goodRssKb)} under the good load`,
  );
  console.log(
    `   ${fmt(HOSTS)} hosts:         ${mb(m.idleRssKb)} at ready, ${mb(m.goodRssKb)} under the good load, ` +
      `${mb(m.passRssKb ?? 0)} during the reconcile pass (aim < 512 MB; the herd's below)`,
  );
  console.log(`\nStart to ready (spawn to /readyz 200)`);
  console.log(`   baseline, 1,000 hosts: ${seconds(s.readyMs)}`);
  console.log(`   ${fmt(HOSTS)} hosts:         ${seconds(m.readyMs)} (aim < 15 s)`);
  console.log(`\nThe reconciler's pass at start (in the background; the API answers meanwhile)`);
  console.log(`   baseline, 1,000 hosts, no load: ${describePass(s.startPass)}`);
  console.log(`   ${fmt(HOSTS)} hosts, under good load: ${describePass(m.startPass)}`);
  const during = m.duringPass?.perSecond ?? 0;
  console.log(
    `   good updates/s meanwhile: ${fmt(during)} (${m.duringPass?.rounds ?? 0} rounds) vs ${fmt(m.good.perSecond)} after it: ` +
      `ratio ${(during / m.good.perSecond).toFixed(2)} (aim ≥ 0.8)`,
  );
  let herd: Awaited<ReturnType<typeof runHerd>> | undefined;
  let dormant: Awaited<ReturnType<typeof dormancy>> | undefined;
  let warmMs = 0;
  let herdRssKb = 0;
  let served = 0;
  let inDns = 0;
  let cacheSizes = '';
  try {
    dormant = await dormancy(ctx, api, 'm', big.figures.good.perSecond);
    console.log(`\nThe dormancy job over ${fmt(HOSTS)} hosts, ${fmt(stale)} of them inactive for 40 days`);
    console.log(
      `   ${dormant.passes} passes (at most 10,000 hosts each) of ${seconds(dormant.perPassMs)} on average; ` +
        `a pass with nothing to do: ${(dormant.idleMs / 1000).toFixed(2)} s`,
    );
    console.log(
      `   ${fmt(dormant.dormant)} dormant and out of PowerDNS after ${seconds(dormant.allMs)}; good updates/s meanwhile: ` +
        `${fmt(dormant.rate)} vs ${fmt(m.good.perSecond)} normal: ratio ${dormant.ratio.toFixed(2)}`,
    );
    // BENCH_HERD=0: no herd (a shorter run).
    if (HERD === 0) return;
    warmMs = await warmHerd(api, 'm', HERD);
    api.takePeakRss();
    herd = await runHerd(api.port, 'm', HERD, HERD_RATE);
    herdRssKb = api.takePeakRss();
    const rows = await db('hosts')
      .where({ zone: 'million.bench' })
      .andWhere('ipv4', 'like', '172.%')
      .count<{ count: string }[]>({ count: '*' });
    served = Number(rows[0]?.count ?? 0);
    inDns = sqliteCount(
      ctx.sqlitePath,
      `name like 'm%.million.bench' and type = 'A' and content like '172.%'`,
    );
    const metrics = await fetch(`http://127.0.0.1:${api.port}/metrics`).then((r) => r.text());
    cacheSizes = metrics
      .split('\n')
      .filter((line) => /^mydns_(host|credential)_cache_(hits|misses)_total/.test(line))
      .join('; ');
    console.log(
      `\nThundering herd: ${fmt(HERD)} hosts each changing address once, sent at ${fmt(HERD_RATE)}/s ` +
        `(${seconds((HERD / HERD_RATE) * 1000)} of sending; at most ${HERD_IN_FLIGHT} in flight)`,
    );
    console.log(
      `   credential cache warmed first (${seconds(warmMs)}: one cost-4 check per host); ` +
        `cold at cost 10 it would be ${fmt(cost10Ms)} ms per check here, ≈ ${fmt((HERD * cost10Ms) / cores / 1000)} s of bcrypt on ${cores} cores`,
    );
    console.log(
      `   all served after ${seconds(herd.ms)} (baseline: the sending itself, ${seconds((HERD / HERD_RATE) * 1000)}); ` +
        `replies ${Object.entries(herd.bodies)
          .map(([body, count]) => `${body}×${count}`)
          .join(' ')}`,
    );
    console.log(
      `   reply time from when each was due: p50 ${fmt(herd.p50)} ms, p99 ${fmt(herd.p99)} ms, max ${fmt(herd.max)} ms ` +
        `(baseline: a good update in the 1,000-host rounds, ${GOOD_CONCURRENCY} in flight: ≈ ${fmt((1000 * GOOD_CONCURRENCY) / s.good.perSecond)} ms, in flight ÷ rate)`,
    );
    console.log(
      `   afterwards: ${fmt(served)} hosts at their new address in Postgres, ${fmt(inDns)} in PowerDNS`,
    );
    console.log(`   API RSS during the herd: ${mb(herdRssKb)} (aim < 512 MB)`);
    if (cacheSizes) console.log(`   cache counters after the herd: ${cacheSizes}`);
  } finally {
    await api.stop();
  }
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await runMillionBenchmark();
