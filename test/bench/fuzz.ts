/**
 * Fuzzing at scale (README, "Benchmarks", figure 7): the seeded fuzzer of
 * test/integration/fuzz.test.ts, 100,000 requests instead of 3,000, against
 * one API process with the SMTP relay inside it (as `npm start` runs them):
 * update endpoints and the JSON API (test/support/fuzz-requests.ts), the web
 * forms (test/support/fuzz-web.ts) and relay sessions
 * (test/support/fuzz-smtp.ts). It reports
 *
 * - unintended 5xx (and any other reply the judges refuse),
 * - state changes from refused requests: every row of hosts, tokens, history,
 *   ACME values, sessions, outboxes and quarantine, and the zone in PowerDNS,
 *   before and after; and messages at the home server that no 2xx announced,
 * - memory: the API's RSS sampled every second; its growth from the first
 *   10% of the run (the baseline: caches and JIT warmed) to the end.
 *
 * MYDNS_FUZZ_SEED replays a run, BENCH_FUZZ_REQUESTS sets the count.
 * Loopback only; bounded; everything started here is stopped here, by PID.
 * `runFuzzBenchmark()` is called from test/bench/run.ts; alone:
 * `npx tsx test/bench/fuzz.ts`.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createDatabase, migrateLatest, startEmbeddedPostgres } from '@mydns/db';
import { startManagedPowerDns } from '@mydns/powerdns';
import { createLogger, createShutdown } from '@mydns/runtime';
import { createRandom, rawExchange } from '../support/faults-http.ts';
import { createHttpFuzzer, type Generated, show } from '../support/fuzz-requests.ts';
import { createSmtpFuzzer, runSmtpSession } from '../support/fuzz-smtp.ts';
import { createWebFuzzer, type WebCredentials } from '../support/fuzz-web.ts';
import { basic } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { startProgram } from '../support/programs.ts';
import { startSmtpSink } from '../support/smtp.ts';
import { waitFor } from '../support/wait.ts';

const root = resolve(import.meta.dirname, '../..');
const SEED = Number(process.env.MYDNS_FUZZ_SEED ?? 20261201);
const REQUESTS = Number(process.env.BENCH_FUZZ_REQUESTS ?? 100_000);
const CONCURRENCY = 8;
const PASSWORD = 'fuzz-bench-password-1';
const HOSTS = ['alice', 'bob', 'carol', 'dave'];
/** The mix: update endpoints and JSON API, web forms, relay sessions. */
const SHARES = { http: 0.6, web: 0.3, smtp: 0.1 } as const;

const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
}

/** Every row a refused request must leave as it was, and the zone (SOA aside). */
async function snapshot(
  db: ReturnType<typeof createDatabase>,
  zone: string,
  pdns: { apiUrl: string; apiKey: string },
) {
  const rows = async (query: string) =>
    ((await db.raw(query)) as { rows: { row: string }[] }).rows.map((r) => r.row);
  const response = await fetch(`${pdns.apiUrl}/api/v1/servers/localhost/zones/${zone}.`, {
    headers: { 'x-api-key': pdns.apiKey },
  });
  const zoneData = (await response.json()) as {
    rrsets: { name: string; type: string; records: { content: string }[] }[];
  };
  return {
    hosts: await rows('select h::text as row from hosts h order by id'),
    tokens: await rows('select t::text as row from update_tokens t order by id'),
    acme: await rows('select t::text as row from acme_challenges t order by id'),
    dnsOutbox: await rows('select t::text as row from dns_outbox t order by id'),
    mailOutbox: await rows('select t::text as row from mail_outbox t order by id'),
    quarantine: await rows('select t::text as row from name_quarantine t order by 1'),
    // A session's expiry may slide with use; which sessions exist may not change.
    sessions: await rows('select (id, host_id, csrf, created_at)::text as row from sessions order by id'),
    zone: zoneData.rrsets
      .filter((rrset) => rrset.type !== 'SOA')
      .map(
        (rrset) =>
          `${rrset.name} ${rrset.type} ${rrset.records
            .map((r) => r.content)
            .sort()
            .join(' ')}`,
      )
      .sort(),
  };
}

function cookieOf(response: Response, name: string): string {
  for (const header of response.headers.getSetCookie()) {
    const [pair] = header.split(';');
    if (pair?.startsWith(`${name}=`)) return pair;
  }
  throw new Error(`no ${name} cookie`);
}

async function anonymousPair(url: string) {
  const response = await fetch(`${url}/register`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await response.text())?.[1];
  if (!csrf) throw new Error('no CSRF value on /register');
  return { cookie: cookieOf(response, 'mydns_csrf'), csrf };
}

export async function runFuzzBenchmark(): Promise<void> {
  const logger = createLogger({ level: process.env.BENCH_LOG ? 'debug' : 'warn', format: 'pretty' });
  const shutdown = createShutdown(logger);
  try {
    const work = mkdtempSync(join(tmpdir(), 'mydns-bench-fuzz-'));
    chmodSync(work, 0o755);
    shutdown.add('work folder', () => rmSync(work, { recursive: true, force: true }));
    const postgres = await startEmbeddedPostgres({
      dataDir: join(work, 'pg'),
      logger,
      database: 'mydns_bench_fuzz',
      port: await freePort(),
      durability: 'fast',
    });
    shutdown.add('postgres', () => postgres.stop());
    const db = createDatabase({ url: postgres.url, poolMax: 2 });
    shutdown.add('db', () => db.destroy());
    await migrateLatest(db);
    const dnsPort = await freePort();
    const pdns = await startManagedPowerDns({
      dir: join(work, 'pdns'),
      dnsPort,
      apiPort: await freePort(),
      logger,
    });
    shutdown.add('powerdns', () => pdns.stop());
    const pdnsTarget = { apiUrl: pdns.apiUrl, apiKey: pdns.apiKey };
    const sink = await startSmtpSink({ args: ['-c'] });
    shutdown.add('smtp-sink', async () => {
      await sink.stop();
    });

    const zone = 'fuzz.bench';
    const port = await freePort();
    const smtpPort = await freePort();
    // `node --import tsx` so that the PID whose memory is sampled is the API itself.
    const api = startProgram(process.execPath, ['--import', 'tsx', 'apps/api/src/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        LOG_LEVEL: 'error',
        DATABASE_URL: postgres.url,
        MYDNS_PDNS_API_URL: pdns.apiUrl,
        MYDNS_PDNS_API_KEY: pdns.apiKey,
        MYDNS_ZONE: zone,
        MYDNS_HTTP_PORT: String(port),
        MYDNS_HTTP_ADDRESS: '127.0.0.1',
        MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true',
        // The fuzzer looks for mistakes, not for bcrypt's speed; its wrong passwords would all be bcrypts.
        MYDNS_BCRYPT_COST: '4',
        MYDNS_BCRYPT_QUEUE: '10000',
        // Everything comes from 127.0.0.1: the limits would soon answer everything and hide the code behind them.
        MYDNS_HOST_UPDATE_LIMIT: '100000000/10m',
        MYDNS_LOGIN_FAILURE_LIMIT: '100000000/10m',
        MYDNS_LOGIN_HOST_FAILURE_LIMIT: '100000000/10m',
        MYDNS_REGISTRATION_LIMIT: '100000000/1h',
        MYDNS_SMTP_PORT: String(smtpPort),
        MYDNS_SMTP_ADDRESS: '127.0.0.1',
        MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: 'true',
        MYDNS_RELAY_CLIENT_SESSIONS: '1000',
        MYDNS_RELAY_CLIENT_RATE: '100000000/1m',
        MYDNS_RELAY_CLIENT_HOST_SESSIONS: '10',
        // Custom-domain MX look-ups go to our own PowerDNS, never out.
        MYDNS_RELAY_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      },
      onOutput: (text) => process.stderr.write(text),
    });
    shutdown.add('api', async () => {
      await api.stop({ timeoutMs: 30_000 });
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(`${url}/healthz`).then((r) => r.ok), {
      timeoutMs: 60_000,
      message: 'the API to start',
      giveUp: () => (api.hasExited() ? 'it exited' : undefined),
    });

    // The hosts, one of them forwarding mail to the sink, a token and an ACME value: rows to keep.
    for (const name of HOSTS) {
      const created = await fetch(`${url}/api/v1/hosts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hostname: name, password: PASSWORD }),
      });
      if (created.status !== 201) throw new Error(`registering ${name}: ${created.status}`);
    }
    for (const [i, name] of HOSTS.entries()) {
      const myip = name === 'alice' ? '127.0.0.1' : `10.0.0.${i + 1}`;
      const update = await fetch(`${url}/nic/update?hostname=${name}&myip=${myip}`, {
        headers: { authorization: basic(name, PASSWORD) },
      });
      const text = await update.text();
      if (text !== `good ${myip}`) throw new Error(`first update of ${name}: ${text}`);
    }
    await db('hosts')
      .where({ name: 'alice' })
      .update({ mail_enabled: true, mail_port: sink.port, mail_client_address: 'xclient', mail_tls: 'none' });
    const token = await fetch(`${url}/api/v1/hosts/bob/tokens`, {
      method: 'POST',
      headers: { authorization: basic('bob', PASSWORD), 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'router' }),
    });
    if (token.status !== 201) throw new Error(`token: ${token.status}`);
    const acme = await fetch(`${url}/api/v1/hosts/carol/acme-challenge`, {
      method: 'POST',
      headers: { authorization: basic('carol', PASSWORD), 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'fuzz-acme-value-0123456789abcdefghijklmnopq' }),
    });
    if (acme.status !== 201) throw new Error(`acme: ${acme.status}`);
    const anonymous = [await anonymousPair(url), await anonymousPair(url), await anonymousPair(url)];
    const signIn = anonymous[0];
    if (!signIn) throw new Error('no CSRF pair');
    const login = await fetch(`${url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: signIn.cookie },
      body: new URLSearchParams({ _csrf: signIn.csrf, hostname: 'dave', password: PASSWORD }).toString(),
    });
    if (login.status !== 303) throw new Error(`sign-in: ${login.status}`);
    const credentials: WebCredentials = { anonymous, session: cookieOf(login, 'mydns_session') };
    // Let the outbox drain and the relay's host cache see alice's mail settings.
    await waitFor(async () => Number((await db('dns_outbox').count({ n: '*' }))[0]?.n) === 0, {
      timeoutMs: 30_000,
      message: 'the outbox to drain',
    });
    await new Promise((r) => setTimeout(r, 6000));

    const target = { zone, hosts: HOSTS, password: PASSWORD };
    const http = createHttpFuzzer(target);
    const web = createWebFuzzer(target, credentials);
    const smtp = createSmtpFuzzer({ zone, routedHost: 'alice', otherHosts: ['bob', 'carol', 'dave'] });
    const routedDomain = `alice.${zone}`;
    const before = await snapshot(db, zone, pdnsTarget);
    const sinkBefore = sinkCount(sink.output());
    const historyBefore = Number(
      ((await db.raw('select coalesce(max(id), 0) as n from update_history')) as { rows: { n: string }[] })
        .rows[0]?.n,
    );

    const r = createRandom(SEED);
    const failures: string[] = [];
    let bad = 0;
    let fiveHundreds = 0;
    const statuses = new Map<string, number>();
    const counts = { http: 0, web: 0, smtp: 0, smtpCommands: 0 };
    let delivered = 0;
    let done = 0;
    const note = (problems: string[], what: () => string) => {
      if (problems.length === 0) return;
      bad++;
      if (problems.some((p) => /^HTTP 5/.test(p))) fiveHundreds++;
      if (failures.length < 15) failures.push(`${problems.join('; ')}\n      ${what()}`);
    };

    const samples: { done: number; kb: number }[] = [];
    const sampler = setInterval(() => samples.push({ done, kb: rssKb(api.pid) }), 1000);
    const started = performance.now();
    let issued = 0;
    const worker = async () => {
      while (issued < REQUESTS) {
        issued++;
        const pick = r.next();
        if (pick < SHARES.smtp) {
          counts.smtp++;
          const steps = smtp.generate(r);
          const outcome = await runSmtpSession(smtpPort, steps, routedDomain);
          counts.smtpCommands += outcome.commands;
          delivered += outcome.delivered;
          for (const [code, n] of outcome.codes)
            statuses.set(`smtp ${code}`, (statuses.get(`smtp ${code}`) ?? 0) + n);
          note(outcome.problems, () => steps.map((s) => show(s.bytes.subarray(0, 200))).join(' '));
        } else {
          const isWeb = pick < SHARES.smtp + SHARES.web;
          const request: Generated = isWeb ? web.generate(r) : http.generate(r);
          if (isWeb) counts.web++;
          else counts.http++;
          const outcome = await rawExchange(port, request.bytes, {
            timeoutMs: 15_000,
            noBody: request.method === 'HEAD' || request.method === 'head',
          });
          const key = String(outcome.reply?.status ?? 'none');
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          const problems = isWeb ? web.judge(request, outcome) : http.judge(request, outcome);
          note(
            problems,
            () => `sent ${show(request.bytes)}\n      got  ${show(outcome.bytes.subarray(0, 400))}`,
          );
        }
        done++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    samples.push({ done, kb: rssKb(api.pid) });

    // Messages that reached the home server: exactly the ones the relay answered 2xx after their data.
    const arrived = () => sinkCount(sink.output()) - sinkBefore;
    await waitFor(() => arrived() >= delivered, {
      timeoutMs: 10_000,
      message: () => `${delivered} messages at the sink (${arrived()} arrived)`,
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
    const health = await fetch(`${url}/healthz`).then((response) => response.status, String);
    await waitFor(async () => Number((await db('dns_outbox').count({ n: '*' }))[0]?.n) === 0, {
      timeoutMs: 10_000,
      message: 'the outbox to drain',
    }).catch(() => undefined);
    const after = await snapshot(db, zone, pdnsTarget);
    // An authenticated refused update is written to the host's history by design (README, "Web pages": the
    // history says why a refused one was refused): new rows may only be such refusals, the address unchanged.
    const historyChanges =
      (
        (await db.raw(
          `select count(*)::int as n from update_history
          where id > ? and not (result = 'dnserr' and new_ipv4 is not distinct from old_ipv4
                                and new_ipv6 is not distinct from old_ipv6)`,
          [historyBefore],
        )) as { rows: { n: number }[] }
      ).rows[0]?.n ?? 0;
    const changed = Object.keys(before).filter(
      (key) => !isDeepStrictEqual(before[key as keyof typeof before], after[key as keyof typeof after]),
    );
    const extraMessages = arrived() - delivered;

    const warm = samples.find((s) => s.done >= REQUESTS * 0.1) ?? samples[0];
    const last = samples[samples.length - 1];
    const peak = Math.max(...samples.map((s) => s.kb));
    console.log(
      `\n7. fuzzing at scale: ${fmt(REQUESTS)} seeded requests (seed ${SEED}), ${CONCURRENCY} at a time, in ${seconds.toFixed(0)} s`,
    );
    console.log(
      `   the mix: ${fmt(counts.http)} update-endpoint and JSON API requests, ${fmt(counts.web)} web-form posts, ` +
        `${fmt(counts.smtp)} relay sessions (${fmt(counts.smtpCommands)} commands, ${delivered} messages accepted)`,
    );
    console.log(
      `   answers: ${[...statuses.entries()]
        .sort()
        .map(([k, v]) => `${k}×${v}`)
        .join(' ')}`,
    );
    console.log(
      `   unintended 5xx: ${fiveHundreds} (aim 0); other replies the judges refuse: ${bad - fiveHundreds}; the API ${api.hasExited() ? 'DIED' : `still answers (/healthz ${health})`}`,
    );
    console.log(
      `   state changes from refused requests: ${changed.length + Math.abs(extraMessages) + historyChanges} (aim 0)${
        changed.length ? `: changed ${changed.join(', ')}` : ''
      }${extraMessages ? `; ${extraMessages} messages at the sink that no 2xx announced` : ''}${
        historyChanges ? `; ${historyChanges} history rows that are not refusals` : ''
      }`,
    );
    if (warm && last) {
      const growth = last.kb - warm.kb;
      console.log(
        `   API RSS (relay inside), sampled every second: baseline after the first 10% ${mib(warm.kb)}; ` +
          `at the end ${mib(last.kb)} (${growth >= 0 ? '+' : ''}${mib(growth)}, ${((100 * growth) / warm.kb).toFixed(1)}%); peak ${mib(peak)} (aim flat)`,
      );
      // RSS rises and falls with each garbage collection: a leak shows as a rising floor, so each quarter's lowest.
      const floors = [0, 0.25, 0.5, 0.75].map((from) => {
        const inQuarter = samples.filter(
          (s) => s.done >= REQUESTS * from && s.done <= REQUESTS * (from + 0.25),
        );
        return Math.min(...inQuarter.map((s) => s.kb));
      });
      console.log(
        `   RSS floor (lowest sample) per quarter of the run: ${floors.map((kb) => mib(kb)).join(', ')}; ` +
          `last quarter vs second: ${(((floors[3] ?? 0) - (floors[1] ?? 0)) / 1024).toFixed(1)} MiB`,
      );
    }
    for (const failure of failures) console.log(`   ✗ ${failure}`);
    if (changed.length > 0) {
      for (const key of changed) {
        const a = before[key as keyof typeof before];
        const b = after[key as keyof typeof after];
        console.log(
          `   ${key} before: ${JSON.stringify(a).slice(0, 600)}\n   ${key} after:  ${JSON.stringify(b).slice(0, 600)}`,
        );
      }
    }
  } finally {
    await shutdown.run('fuzz benchmark finished');
  }
}

/** Messages smtp-sink has counted (its -c counter), read from the end of its output. */
function sinkCount(output: string): number {
  const at = output.lastIndexOf('mesg=');
  if (at < 0) return 0;
  return Number(/^mesg=(\d+)/.exec(output.slice(at, at + 20))?.[1] ?? 0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runFuzzBenchmark();
}
