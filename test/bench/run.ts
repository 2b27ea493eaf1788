/**
 * `npm run bench`: every figure is printed with a baseline measured in the
 * same run on the same machine (shared, noisy machines: compare ratios, not
 * absolute numbers). Everything runs on loopback; every loop is bounded;
 * everything started here is stopped here.
 *
 * 1. nochg updates/s through the API (warm credential cache) vs /healthz, a
 *    hello-world route of the same server (same middleware).
 * 2. good updates/s end to end, 1,000 hosts each changing address, vs direct
 *    one-rrset PATCHes to the same PowerDNS.
 * 3. the same with 100,000 hosts in the zone, vs the 1,000-host figure.
 * 4. the SMTP relay: throughput and latency against smtp-sink directly, and
 *    1,000 idle sessions (test/bench/smtp.ts).
 * 5. a legitimate cold login while 300 wrong passwords arrive at once from one
 *    address, vs the same login unloaded (test/bench/logins.ts).
 * 6. the write path: good vs nochg and vs what PowerDNS takes, and the
 *    latency from an update to the authoritative answer (test/bench/write-path.ts).
 * 7. fuzzing at scale: 100,000 seeded malformed requests (update endpoints,
 *    JSON API, web forms, relay sessions): unintended 5xx, state changes,
 *    the API's memory over the run (test/bench/fuzz.ts).
 * 8. the replica path: a PowerDNS on a Postgres hot standby, its lag behind
 *    `good` under a steady rate of changes (test/bench/replica.ts).
 * 9. DNSSEC: the ways to keep a signed zone's negative answers valid after
 *    every batch, timed at 1,000 and 100,000 names (test/bench/dnssec.ts).
 * 10. a PUT of 50 owner records, to the DNS answer of the last one, vs a
 *    one-address update to its answer (test/bench/records.ts).
 * 13. a signed zone's write path: good updates/s with 100,000 hosts signed vs
 *    1,000 signed vs 1,000 unsigned, alternated rounds (test/bench/signed-flat.ts).
 *
 * Benchmarks 2 and 3 run on signed zones (MYDNS_DNSSEC's default); 2 also
 * runs on an unsigned zone, for the cost of signing.
 * 10. nochg updates/s with an account's token (username = the account's
 *     address) vs the same with a host's own update token, same server.
 * 12. good updates/s with a notice mailed for every change vs notices off,
 *     same server (test/bench/notices.ts).
 * 14. the background jobs' share at 100,000 hosts, only when named: the update
 *    rate during a reconciler pass, paced and not, and the dormancy job's
 *    passes (test/bench/background.ts).
 * million: a million hosts, only when named (`npm run bench -- million`;
 *    test/bench/million.ts, BENCH_HOSTS).
 * axfr: AXFR to a BIND secondary vs the replica path, a million hosts, 100
 *    changes/s; only when named (`npm run bench -- axfr`; test/bench/axfr.ts,
 *    BENCH_AXFR_HOSTS).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, migrateLatest, startEmbeddedPostgres } from '@mydns/db';
import {
  createPowerDnsClient,
  type PowerDnsClient,
  SQLITE_SCHEMA,
  startManagedPowerDns,
} from '@mydns/powerdns';
import { createLogger, createShutdown } from '@mydns/runtime';
import bcrypt from 'bcryptjs';
import { generateToken, hashToken } from '../../apps/api/src/auth/tokens.ts';
import { freePort } from '../support/ports.ts';
import { runAxfrBenchmark } from './axfr.ts';
import { DNSSEC_OPTIONS, measureOption, needsTriggers, type OptionResult } from './dnssec.ts';
import { runFuzzBenchmark } from './fuzz.ts';
import { type LoadResult, runLoad } from './load.ts';
import { runLoginFlood } from './logins.ts';
import { runNoticesBenchmark } from './notices.ts';
import { runRecordsBenchmark } from './records.ts';
import { runReplicaBenchmark } from './replica.ts';
import { runSignedFlatBenchmark } from './signed-flat.ts';
import { runSmtpBenchmarks } from './smtp.ts';
import {
  authHeader,
  createHosts,
  describeLoad,
  directPatches,
  ensureZone,
  fmt,
  median,
  PASSWORD,
  pct,
  removeHosts,
  startApi,
} from './stack.ts';
import { runWritePathBenchmarks } from './write-path.ts';

/**
 * Which benchmarks run: all by default; `npm run bench -- write-path good`
 * names some (see PARTS), and BENCH_ONLY=1,3 numbers them (the third needs the
 * second's figure, so it runs it too).
 */
const PARTS: Record<string, string> = {
  nochg: '1',
  good: '2',
  'large-zone': '3',
  smtp: '4',
  logins: '5',
  'write-path': '6',
  fuzz: '7',
  replica: '8',
  dnssec: '9',
  accounts: '10',
  records: '11',
  notices: '12',
  'signed-flat': '13',
  // Minutes at 100,000 hosts, so only when named.
  background: '14',
  // Hours on two cores, so never part of the default run.
  million: 'million',
  // Minutes of bulk creation and two 2-minute windows: also only when named.
  axfr: 'axfr',
};
const named = process.argv.slice(2).map((arg) => {
  const part = PARTS[arg];
  if (!part) throw new Error(`unknown benchmark ${arg}: one of ${Object.keys(PARTS).join(', ')}`);
  return part;
});
const ONLY = new Set(
  named.length > 0
    ? named
    : (process.env.BENCH_ONLY ?? '1,2,3,4,5,6,7,8,9,10,11,12,13').split(',').map((part) => part.trim()),
);
/** Open connections: routers and scripts talking at once. */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const GOOD_CONCURRENCY = Number(process.env.BENCH_GOOD_CONCURRENCY ?? 250);
const logger = createLogger({ level: process.env.BENCH_LOG ? 'debug' : 'warn', format: 'pretty' });
const shutdown = createShutdown(logger);
process.on('SIGINT', () => void shutdown.run('interrupted').then(() => process.exit(130)));

async function seedZone(dns: PowerDnsClient, zone: string, prefix: string, count: number) {
  for (let start = 1; start <= count; start += 5000) {
    const changes = [];
    for (let i = start; i < Math.min(start + 5000, count + 1); i++) {
      changes.push({ name: `${prefix}${i}.${zone}`, type: 'A' as const, ttl: 60, records: ['10.255.0.1'] });
    }
    await dns.patchZone(zone, changes);
  }
}

/** Every host in `names` moves to a new address in round `round`; returns the good-updates rate. */
async function goodRound(port: number, prefix: string, hosts: number, round: number): Promise<LoadResult> {
  return runLoad({
    port,
    concurrency: GOOD_CONCURRENCY,
    total: hosts,
    maxMs: 120_000,
    next: (i) => {
      const name = `${prefix}${i + 1}`;
      return {
        path: `/nic/update?hostname=${name}&myip=10.${round}.${(i + 1) >> 8}.${(i + 1) & 255}`,
        headers: authHeader(name),
      };
    },
  });
}

async function goodBenchmark(port: number, prefix: string, hosts: number): Promise<LoadResult> {
  // Rounds 1-2 warm up (round 1 runs one bcrypt per host to fill the credential
  // cache; both let the JIT settle); rounds 3-7 are measured, the median reported.
  const results: LoadResult[] = [];
  for (let round = 1; round <= 7; round++) {
    const result = await goodRound(port, prefix, hosts, round);
    if ((result.bodies.good ?? 0) !== hosts) throw new Error(`round ${round}: ${describeLoad(result)}`);
    if (round > 2) results.push(result);
  }
  return median(results);
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'mydns-bench-'));
  chmodSync(work, 0o755);
  shutdown.add('work folder', () => rmSync(work, { recursive: true, force: true }));
  const postgres = await startEmbeddedPostgres({
    dataDir: join(work, 'pg'),
    logger,
    database: 'mydns_bench',
    port: await freePort(),
  });
  shutdown.add('postgres', () => postgres.stop());
  const db = createDatabase({ url: postgres.url, poolMax: 4 });
  shutdown.add('db', () => db.destroy());
  await migrateLatest(db);
  const pdns = await startManagedPowerDns({
    dir: join(work, 'pdns'),
    dnsPort: await freePort(),
    apiPort: await freePort(),
    logger,
    // Benchmark 8 also times RFC 2136 updates (nsupdate over loopback).
    extraConfig: ['dnsupdate=yes', 'allow-dnsupdate-from=127.0.0.0/8'],
  });
  shutdown.add('powerdns', () => pdns.stop());
  const dns = createPowerDnsClient({ apiUrl: pdns.apiUrl, apiKey: pdns.apiKey });
  const env = { databaseUrl: postgres.url, pdnsUrl: pdns.apiUrl, pdnsKey: pdns.apiKey };
  const hash = bcrypt.hashSync(PASSWORD, 10);
  // Benchmarks 2 and 3 measure warm rounds only; their hosts' cheaper hash
  // shortens the warm-up round (one bcrypt per host), which a busy machine
  // otherwise cannot finish within its bound.
  const warmupHash = bcrypt.hashSync(PASSWORD, 4);
  console.log(
    `MyDNS benchmarks — ${new Date().toISOString()}, ${availableParallelism()} cores, ` +
      `concurrency ${CONCURRENCY} (good: ${GOOD_CONCURRENCY}), bcrypt cost 10, durable Postgres`,
  );

  // 1. nochg vs hello-world, with the update history on (the default) and off.
  if (ONLY.has('1')) {
    const zone = 'nochg.bench';
    await createHosts(db, zone, 'n', 200, hash, '10.0.0.1');
    const nochgPath = (i: number) => `/nic/update?hostname=n${(i % 200) + 1}&myip=10.0.0.1`;
    const measure = async (settings: Record<string, string>) => {
      const api = await startApi(env, zone, settings);
      try {
        const warm = await runLoad({
          port: api.port,
          concurrency: 8,
          total: 200,
          maxMs: 60_000,
          next: (i) => ({ path: nochgPath(i), headers: authHeader(`n${(i % 200) + 1}`) }),
        });
        if (warm.bodies.nochg !== 200) throw new Error(`warm-up: ${describeLoad(warm)}`);
        const load = (next: (i: number) => { path: string; headers?: Record<string, string> }) =>
          runLoad({ port: api.port, concurrency: CONCURRENCY, total: 30_000, maxMs: 15_000, next });
        // Alternate the two, three times each, so both see the same machine; report medians.
        const hellos: LoadResult[] = [];
        const nochgs: LoadResult[] = [];
        for (let rep = 0; rep < 3; rep++) {
          hellos.push(await load(() => ({ path: '/healthz' })));
          const n = await load((i) => ({ path: nochgPath(i), headers: authHeader(`n${(i % 200) + 1}`) }));
          if ((n.bodies.nochg ?? 0) !== n.requests) throw new Error(`nochg run: ${describeLoad(n)}`);
          nochgs.push(n);
        }
        return { hello: median(hellos), nochg: median(nochgs) };
      } finally {
        await api.stop();
      }
    };
    const withHistory = await measure({});
    const withoutHistory = await measure({ MYDNS_HISTORY_MAX_PER_HOST: '0' });
    await removeHosts(db, zone);
    const on = withHistory.nochg.perSecond / withHistory.hello.perSecond;
    const off = withoutHistory.nochg.perSecond / withoutHistory.hello.perSecond;
    console.log(`\n1. nochg through the API (warm credential cache, 200 hosts, update history on)`);
    console.log(`   baseline GET /healthz (same server): ${describeLoad(withHistory.hello)}`);
    console.log(`   GET /nic/update → nochg:            ${describeLoad(withHistory.nochg)}`);
    console.log(`   ratio: ${pct(on, 1)} of the baseline (aim ≥ 40%)`);
    console.log(
      `   history off (MYDNS_HISTORY_MAX_PER_HOST=0): ${describeLoad(withoutHistory.nochg)}, ${pct(off, 1)} of its baseline`,
    );
    console.log(`   cost of the history: nochg keeps ${pct(on, off)} of its history-off rate (aim ≥ 90%)`);
  }

  // 2. good updates, 1,000 hosts, vs direct PATCHes; signed and unsigned in the same run.
  let goodSmall: LoadResult | undefined;
  if (ONLY.has('2') || ONLY.has('3')) {
    const run = async (zone: string, prefix: string, dnssec: boolean) => {
      await ensureZone(dns, zone, { dnssec });
      await createHosts(db, zone, prefix, 1000, warmupHash, null);
      const api = await startApi(env, zone);
      try {
        return await goodBenchmark(api.port, prefix, 1000);
      } finally {
        await api.stop();
        await removeHosts(db, zone);
      }
    };
    await ensureZone(dns, 'direct.bench');
    const direct = await directPatches(dns, 'direct.bench', 300);
    const unsigned = await run('good1k-unsigned.bench', 'u', false);
    goodSmall = await run('good1k.bench', 'a', true);
    console.log(`\n2. good updates end to end, 1,000 hosts each changing address (median of 5 rounds)`);
    console.log(
      `   baseline: direct one-rrset PATCHes to the same PowerDNS: ${fmt(direct)}/s (300 sequential)`,
    );
    console.log(`   through the API, signed zone (DNSSEC on):              ${describeLoad(goodSmall)}`);
    console.log(`   ratio: ${(goodSmall.perSecond / direct).toFixed(1)}× the direct rate (aim ≥ 10×)`);
    console.log(`   through the API, unsigned zone (DNSSEC off):           ${describeLoad(unsigned)}`);
    console.log(
      `   DNSSEC on vs off: ${pct(goodSmall.perSecond, unsigned.perSecond)} of the unsigned rate (aim ≥ 80%)`,
    );
  }

  // 3. the same with 100,000 hosts in the zone.
  if (ONLY.has('3') && goodSmall) {
    const zone = 'good100k.bench';
    // Seeded unsigned, then signed: one rectify instead of one per seeding PATCH.
    await ensureZone(dns, zone);
    const seeded = performance.now();
    await createHosts(db, zone, 'b', 100_000, warmupHash, '10.255.0.1');
    await seedZone(dns, zone, 'b', 100_000);
    await dns.secureZone(zone);
    const seedSeconds = (performance.now() - seeded) / 1000;
    const api = await startApi(env, zone);
    let large: LoadResult;
    try {
      large = await goodBenchmark(api.port, 'b', 1000);
    } finally {
      await api.stop();
      await removeHosts(db, zone);
    }
    console.log(
      `\n3. good updates with 100,000 hosts in a signed zone (1,000 of them changing; seeding and signing took ${seedSeconds.toFixed(1)} s)`,
    );
    console.log(`   baseline: the 1,000-host figure above (signed): ${fmt(goodSmall.perSecond)}/s`);
    console.log(`   with 100,000 hosts:                    ${describeLoad(large)}`);
    console.log(
      `   ratio: ${pct(large.perSecond, goodSmall.perSecond)} of the 1,000-host figure (aim ≥ 80%)`,
    );
  }

  // 9. DNSSEC: the options for valid negative answers, at 1,000 and 100,000 names.
  if (ONLY.has('9')) {
    const withTriggers = { dns, apiUrl: pdns.apiUrl, apiKey: pdns.apiKey, dnsPort: pdns.dnsPort };
    // The options PowerDNS offers by itself, on a database with its own schema alone
    // (made here, so that the managed server does not add MyDNS's order-name triggers).
    const plainDir = join(work, 'pdns-plain');
    mkdirSync(plainDir, { mode: 0o700 });
    execFileSync('/usr/bin/sqlite3', [join(plainDir, 'pdns.sqlite3')], {
      input: readFileSync(SQLITE_SCHEMA, 'utf8'),
    });
    const plain = await startManagedPowerDns({
      dir: plainDir,
      dnsPort: await freePort(),
      apiPort: await freePort(),
      logger,
      extraConfig: ['dnsupdate=yes', 'allow-dnsupdate-from=127.0.0.0/8'],
    });
    shutdown.add('powerdns without triggers', () => plain.stop());
    const withoutTriggers = {
      dns: createPowerDnsClient({ apiUrl: plain.apiUrl, apiKey: plain.apiKey }),
      apiUrl: plain.apiUrl,
      apiKey: plain.apiKey,
      dnsPort: plain.dnsPort,
    };
    const large = Number(process.env.BENCH_DNSSEC_NAMES ?? 100_000);
    // BENCH_DNSSEC_OPTIONS=nsec3-kept,nsec3-api-rectify: some rows only.
    const chosen = process.env.BENCH_DNSSEC_OPTIONS?.split(',').map((option) => option.trim());
    console.log(
      `\n9. DNSSEC: ms per batch of address changes, 1,000 vs ${fmt(large)} names (median; straight to PowerDNS)`,
    );
    console.log(
      '   option                                                        batch  1,000 names  large zone  growth  NODATA valid  AXFR',
    );
    for (const { option, what } of DNSSEC_OPTIONS.filter(
      ({ option }) => !chosen || chosen.includes(option),
    )) {
      const target = needsTriggers(option) ? withTriggers : withoutTriggers;
      // An RFC 2136 delete costs a scan of the zone in PowerDNS 4.7: few, small batches.
      const [rounds, size] = option === 'nsec3-dns-update' ? [3, 5] : [7, 100];
      const results: OptionResult[] = [];
      for (const names of [1000, large])
        results.push(await measureOption(target, option, names, rounds, size));
      const [small, big] = results as [OptionResult, OptionResult];
      const valid = big.nodataValid === undefined ? '—' : big.nodataValid && small.nodataValid ? 'yes' : 'no';
      console.log(
        `   ${what.padEnd(62)} ${String(size).padStart(5)} ${`${small.batchMs.toFixed(0)} ms`.padStart(12)} ${`${big.batchMs.toFixed(0)} ms`.padStart(11)} ${`${(big.batchMs / small.batchMs).toFixed(1)}×`.padStart(7)} ${valid.padStart(13)} ${(small.axfr ? 'yes' : 'refused').padStart(8)}`,
      );
    }
  }

  // 5. a cold login during a flood of wrong passwords, with the default limits.
  if (ONLY.has('5')) {
    const zone = 'logins.bench';
    await ensureZone(dns, zone);
    const rounds = 7;
    await createHosts(db, zone, 'cold', 2 * rounds, hash, null);
    await createHosts(db, zone, 'target', 1, hash, null);
    await db.raw("update hosts set name = 'target' where name = 'target1'");
    const api = await startApi(env, zone, {
      MYDNS_LOGIN_FAILURE_LIMIT: '20/10m',
      MYDNS_LOGIN_HOST_FAILURE_LIMIT: '10/10m',
      MYDNS_BCRYPT_QUEUE: process.env.BENCH_BCRYPT_QUEUE ?? '128',
    });
    let result: Awaited<ReturnType<typeof runLoginFlood>>;
    try {
      result = await runLoginFlood({ port: api.port, password: PASSWORD, rounds, floodSize: 300 });
    } finally {
      await api.stop();
    }
    console.log(
      `\n5. a cold login (bcrypt cost 10) while 300 wrong passwords arrive at once from one address (median of ${rounds})`,
    );
    console.log(`   baseline: the same login with nothing else going on: ${result.unloadedMs.toFixed(0)} ms`);
    console.log(`   during the flood:                                    ${result.floodedMs.toFixed(0)} ms`);
    console.log(
      `   ratio: ${(result.floodedMs / result.unloadedMs).toFixed(2)}× (aim < 3×); each flood: ${result.flood.checked} checked (401), ${result.flood.refused} refused at once (abuse)`,
    );
  }

  // 6. the write path: good vs nochg and vs PowerDNS's own capacity, and update → answer latency.
  if (ONLY.has('6')) {
    await runWritePathBenchmarks({
      db,
      dns,
      env,
      dnsPort: pdns.dnsPort,
      concurrency: GOOD_CONCURRENCY,
      baselineCheckout: process.env.BENCH_BASELINE_CHECKOUT,
    });
  }

  // 8. the replica path: lag of a PowerDNS on a streaming standby.
  if (ONLY.has('8')) await runReplicaBenchmark({ db, databaseUrl: postgres.url, workDir: work });

  // 10. nochg with an account token vs a host token: 200 hosts, each in an account of its own.
  if (ONLY.has('10')) {
    const zone = 'accounts.bench';
    const count = 200;
    await createHosts(db, zone, 'a', count, hash, '10.0.0.1');
    const hostTokens: string[] = [];
    const accountTokens: string[] = [];
    for (let i = 1; i <= count; i++) {
      const [account] = await db('accounts')
        .insert({ email: `owner${i}@bench.example`, password_hash: hash })
        .returning('id');
      const [host] = await db('hosts')
        .where({ zone, name: `a${i}` })
        .update({ account_id: account.id })
        .returning('id');
      const hostToken = generateToken();
      const accountToken = generateToken();
      await db('update_tokens').insert({
        host_id: host.id,
        label: 'bench',
        token_hash: hashToken(hostToken),
      });
      await db('account_tokens').insert({
        account_id: account.id,
        label: 'bench',
        token_hash: hashToken(accountToken),
      });
      hostTokens.push(hostToken);
      accountTokens.push(accountToken);
    }
    const basic = (user: string, secret: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`,
    });
    const path = (i: number) => `/nic/update?hostname=a${(i % count) + 1}&myip=10.0.0.1`;
    const byHost = (i: number) => ({
      path: path(i),
      headers: basic(`a${(i % count) + 1}`, hostTokens[i % count] ?? ''),
    });
    const byAccount = (i: number) => ({
      path: path(i),
      headers: basic(`owner${(i % count) + 1}@bench.example`, accountTokens[i % count] ?? ''),
    });
    const api = await startApi(env, zone);
    const hosts: LoadResult[] = [];
    const accounts: LoadResult[] = [];
    try {
      for (const next of [byHost, byAccount]) {
        const warm = await runLoad({ port: api.port, concurrency: 8, total: count, maxMs: 60_000, next });
        if (warm.bodies.nochg !== count) throw new Error(`warm-up: ${describeLoad(warm)}`);
      }
      const load = (next: (i: number) => { path: string; headers: Record<string, string> }) =>
        runLoad({ port: api.port, concurrency: CONCURRENCY, total: 30_000, maxMs: 15_000, next });
      // Alternated, three times each, so both see the same machine; medians reported.
      for (let rep = 0; rep < 3; rep++) {
        hosts.push(await load(byHost));
        accounts.push(await load(byAccount));
      }
    } finally {
      await api.stop();
    }
    await db('hosts').where({ zone }).delete();
    await db('accounts').where('email', 'like', '%@bench.example').delete();
    for (const result of [...hosts, ...accounts])
      if ((result.bodies.nochg ?? 0) !== result.requests)
        throw new Error(`nochg run: ${describeLoad(result)}`);
    const host = median(hosts);
    const account = median(accounts);
    console.log(`\n10. nochg with an account token vs a host token (${count} hosts, one account each)`);
    console.log(`   baseline, a host's update token:              ${describeLoad(host)}`);
    console.log(`   the account's address and an account token:   ${describeLoad(account)}`);
    console.log(`   ratio: ${pct(account.perSecond, host.perSecond)} of the host-token rate (aim ≥ 90%)`);
  }
  if (ONLY.has('11')) await runRecordsBenchmark({ db, env, dnsPort: pdns.dnsPort, hash });
  if (ONLY.has('12')) await runNoticesBenchmark({ db, env, hash: warmupHash, concurrency: GOOD_CONCURRENCY });
  if (ONLY.has('13'))
    await runSignedFlatBenchmark({ db, dns, env, hash: warmupHash, concurrency: GOOD_CONCURRENCY });

  // axfr: a BIND secondary by AXFR vs the replica path, same zone, same load.
  if (ONLY.has('axfr')) await runAxfrBenchmark({ db, databaseUrl: postgres.url, workDir: work });
}

try {
  await main();
} finally {
  await shutdown.run('benchmarks finished');
}
if (ONLY.has('4')) {
  console.log('\n4. the SMTP relay');
  await runSmtpBenchmarks();
}
if (ONLY.has('7')) await runFuzzBenchmark();
if (ONLY.has('14')) await (await import('./background.ts')).runBackgroundBenchmark();
if (ONLY.has('million')) await (await import('./million.ts')).runMillionBenchmark();
