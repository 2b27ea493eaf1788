import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPowerDnsClient } from '@mydns/powerdns';
import { createDnsQuery } from '../support/dns.ts';
import {
  type ApiProcess,
  pendingPushes,
  postgresAddresses,
  powerDnsPid,
  powerDnsRecords,
  registerHosts,
  sendUpdate,
  sql,
  startApiProcess,
  stopAllApiProcesses,
  type UpdateReply,
  workFolder,
} from '../support/faults.ts';
import { keepAliveSession, rawExchange } from '../support/faults-http.ts';
import { type OwnPostgres, startOwnPostgres } from '../support/faults-postgres.ts';
import { harness } from '../support/harness.ts';
import { basic, createTestDatabase, uniqueZone } from '../support/mydns.ts';
import { type PrivatePowerDns, startPrivatePowerDns } from '../support/powerdns.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Faults under a bounded update load against an API process:
 * PowerDNS killed, Postgres restarted (and frozen, and disconnected), and the
 * API itself stopped with SIGTERM. Each time the replies are only what the
 * protocol allows, nothing a client was told is lost, and Postgres, PowerDNS
 * and real DNS answers agree at the end.
 */

const PASSWORD = 'faults-password';

after(async () => {
  await stopAllApiProcesses();
});

interface Sent {
  readonly host: string;
  readonly ip: string;
  readonly reply: UpdateReply;
  readonly startedAt: number;
  readonly endedAt: number;
}

/**
 * `clients` clients, each owning its own hosts and updating them in turn with
 * a new address every time (`pauseMs` apart), until it sent `minimum`
 * requests and `enough()` holds; never more than `maximum` requests or
 * `maxMs` in all. Per host, requests are sequential: the last address sent is
 * the one that must win.
 */
async function runLoad(options: {
  url: () => string;
  hosts: readonly string[];
  clients: number;
  minimum: number;
  enough: (sent: readonly Sent[]) => boolean;
  maximum?: number;
  maxMs?: number;
  pauseMs?: number;
  /** Called after every reply, with every request sent so far. */
  onReply?: (sent: readonly Sent[]) => void;
  timeoutMs?: number;
}): Promise<Sent[]> {
  const sent: Sent[] = [];
  const hostIndex = new Map(options.hosts.map((host, i) => [host, i]));
  const deadline = Date.now() + (options.maxMs ?? 60_000);
  const maximum = options.maximum ?? 1000;
  await Promise.all(
    Array.from({ length: options.clients }, async (_, client) => {
      const own = options.hosts.filter((_, i) => i % options.clients === client);
      for (
        let n = 0;
        n < maximum && Date.now() < deadline && (n < options.minimum || !options.enough(sent));
        n++
      ) {
        const host = own[n % own.length] ?? '';
        const ip = `10.${hostIndex.get(host)}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
        const startedAt = Date.now();
        const reply = await sendUpdate(options.url(), host, PASSWORD, ip, options.timeoutMs ?? 30_000);
        sent.push({ host, ip, reply, startedAt, endedAt: Date.now() });
        options.onReply?.(sent);
        // Pacing, not waiting for anything: a steady load rather than a flood.
        await sleep(options.pauseMs ?? 10);
      }
    }),
  );
  return sent;
}

/**
 * When updates were `good` again after a fault ended at `endedAt`: the end of
 * the first good reply to a request sent after it. The zone writer retries a
 * failing PowerDNS or Postgres with a backoff (up to 10 s), so a push may wait
 * for the end of that backoff even when the dependency is already back.
 */
function firstGoodAfter(sent: readonly Sent[], endedAt: number): number | undefined {
  const goods = sent.filter((s) => s.startedAt > endedAt && s.reply.body === `good ${s.ip}`);
  return goods.length === 0 ? undefined : Math.min(...goods.map((s) => s.endedAt));
}

/** The API process's count of requests waiting for PowerDNS (its /metrics). */
async function waitingRequests(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  return Number(/^mydns_zone_writer_waiting_requests (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** How many requests sent after `since` have been answered (with anything). */
const answeredSince = (sent: readonly Sent[], since: number, marginMs = 0) =>
  sent.filter((s) => s.startedAt > since + marginMs).length;

/** The last request sent for each host. */
function lastSent(sent: readonly Sent[]): Map<string, Sent> {
  const last = new Map<string, Sent>();
  for (const entry of [...sent].sort((x, y) => x.startedAt - y.startedAt)) last.set(entry.host, entry);
  return last;
}

/** Postgres, PowerDNS and DNS all hold `expected` for each host. */
async function assertConverged(
  databaseUrl: string,
  target: { apiUrl: string; apiKey: string; dnsPort: number },
  zone: string,
  expected: ReadonlyMap<string, string>,
): Promise<void> {
  await waitFor(async () => (await pendingPushes(databaseUrl)) === 0, {
    message: 'the outbox to drain',
    timeoutMs: 30_000,
  });
  const inPostgres = await postgresAddresses(databaseUrl);
  const inPowerDns = await powerDnsRecords(target, zone);
  const query = createDnsQuery(target.dnsPort);
  for (const [host, ip] of expected) {
    assert.equal(inPostgres.get(host)?.ipv4, ip, `Postgres holds the last address sent for ${host}`);
    assert.deepEqual(inPowerDns.get(host), [ip], `PowerDNS serves one A record for ${host}`);
    assert.deepEqual(await query.a(`${host}.${zone}`), [ip], `DNS answers the last address for ${host}`);
  }
}

describe('PowerDNS killed (SIGKILL) under update load', () => {
  let pdns: PrivatePowerDns;
  let database: { url: string; drop(): Promise<void> };
  let api: ApiProcess;
  const zone = uniqueZone();

  before(async () => {
    pdns = await startPrivatePowerDns();
    database = await createTestDatabase();
    api = await startApiProcess({
      name: 'pdns-killed',
      databaseUrl: database.url,
      zone,
      powerdns: pdns,
      env: { MYDNS_PUSH_TIMEOUT: '1s', MYDNS_HOST_UPDATE_LIMIT: '100000/10m' },
    });
  });
  after(async () => {
    await api?.stop();
    await createPowerDnsClient(pdns)
      .deleteZone(zone)
      .catch(() => undefined);
    await pdns?.remove();
    await database?.drop();
  });

  test('good or dnserr only; after the restart every host converges to its last address', async () => {
    const hosts = Array.from({ length: 12 }, (_, i) => `k${i}`);
    await registerHosts(api.url, hosts, PASSWORD);
    let killedAt: number | undefined;
    let restartingAt: number | undefined;
    let restartedAt: number | undefined;
    let outage: Promise<void> | undefined;
    const sent = await runLoad({
      url: () => api.url,
      hosts,
      clients: 4,
      minimum: 30,
      enough: (sent) => {
        const back = restartedAt === undefined ? undefined : firstGoodAfter(sent, restartedAt);
        return back !== undefined && Date.now() > back + 2000;
      },
      maxMs: 60_000,
      onReply: (sent) => {
        if (sent.length !== 40 || outage) return;
        outage = (async () => {
          process.kill(powerDnsPid(pdns.apiUrl), 'SIGKILL');
          const at = Date.now();
          killedAt = at;
          // Down until every client has had a couple of requests answered while it is.
          await waitFor(() => answeredSince(sent, at, 100) >= 8, {
            message: 'requests answered while PowerDNS is down',
          });
          restartingAt = Date.now();
          await pdns.restart();
          restartedAt = Date.now();
        })();
      },
    });
    await outage;
    assert.ok(killedAt && restartedAt, 'PowerDNS was killed and restarted during the load');

    const wrong = sent.filter(
      (s) => s.reply.status !== 200 || ![`good ${s.ip}`, 'dnserr'].includes(s.reply.body),
    );
    assert.deepEqual(wrong, [], 'every reply is good <its address> or dnserr');
    const whileDown = sent.filter(
      (s) => s.startedAt > (killedAt ?? 0) + 100 && s.endedAt < (restartingAt ?? 0),
    );
    assert.ok(whileDown.length > 0, 'requests were answered while PowerDNS was down');
    assert.deepEqual(
      whileDown.filter((s) => s.reply.body !== 'dnserr'),
      [],
      'dnserr while PowerDNS is down',
    );
    // Back to good within the writer's longest retry delay (10 s), and good from then on.
    const back = firstGoodAfter(sent, restartedAt ?? 0);
    assert.ok(
      back !== undefined && back - (restartedAt ?? 0) < 12_000,
      `good again ${(back ?? 0) - (restartedAt ?? 0)} ms after the restart`,
    );
    const afterRecovery = sent.filter((s) => s.startedAt > (back ?? 0));
    assert.ok(afterRecovery.length > 0);
    assert.deepEqual(
      afterRecovery.filter((s) => s.reply.body !== `good ${s.ip}`),
      [],
      'good for every update once PowerDNS takes changes again',
    );
    assert.ok(api.isAlive(), 'the API process runs on');

    // No update lost: every host ends with the last address it was sent.
    const expected = new Map([...lastSent(sent)].map(([host, s]) => [host, s.ip]));
    await assertConverged(database.url, pdns, zone, expected);
  });
});

describe('Postgres restarted, frozen and disconnected under update load', () => {
  let postgres: OwnPostgres;
  let api: ApiProcess;
  const zone = uniqueZone();
  const target = () => ({
    apiUrl: harness().pdnsApiUrl,
    apiKey: harness().pdnsApiKey,
    dnsPort: harness().dnsPort,
  });
  const hosts = Array.from({ length: 8 }, (_, i) => `d${i}`);

  before(async () => {
    // The run's shared Postgres is never touched: this one is the test's own.
    postgres = await startOwnPostgres(workFolder('own-postgres'));
    api = await startApiProcess({
      name: 'postgres-faults',
      databaseUrl: postgres.url,
      zone,
      powerdns: target(),
      env: { MYDNS_HOST_UPDATE_LIMIT: '100000/10m', MYDNS_PUSH_TIMEOUT: '2s' },
    });
    await registerHosts(api.url, hosts, PASSWORD);
  });
  after(async () => {
    await api?.stop();
    await createPowerDnsClient(target())
      .deleteZone(zone)
      .catch(() => undefined);
    await postgres?.stop();
  });

  /** The JSON API and /readyz while Postgres is away: a JSON 503 each, within `withinMs`. */
  async function probeJsonApi(
    withinMs: number,
  ): Promise<{ path: string; status: number; type: string; body: string; ms: number }[]> {
    const probes = [
      { path: '/api/v1/hosts/d0', headers: { authorization: basic('d0', PASSWORD) } },
      { path: '/readyz', headers: {} },
    ];
    return Promise.all(
      probes.map(async ({ path, headers }) => {
        const started = Date.now();
        try {
          const response = await fetch(`${api.url}${path}`, {
            headers,
            signal: AbortSignal.timeout(withinMs),
          });
          const body = await response.text();
          return {
            path,
            status: response.status,
            type: response.headers.get('content-type') ?? '',
            body,
            ms: Date.now() - started,
          };
        } catch (error) {
          return { path, status: 0, type: '', body: String((error as Error).name), ms: Date.now() - started };
        }
      }),
    );
  }

  function assertUnavailable(probes: Awaited<ReturnType<typeof probeJsonApi>>): void {
    for (const probe of probes) {
      assert.equal(
        probe.status,
        503,
        `${probe.path} answers 503 while Postgres is away: ${JSON.stringify(probe)}`,
      );
      assert.match(probe.type, /^application\/json/, `${probe.path} answers JSON`);
      const body = JSON.parse(probe.body) as { error?: { code?: unknown }; failing?: unknown };
      if (probe.path === '/readyz') assert.deepEqual(body.failing, ['postgres']);
      else assert.equal(typeof body.error?.code, 'string', `${probe.path}: {"error":{"code",…}}`);
    }
  }

  test('stopped and started again on the same port: 911 while it is down, recovery without an API restart', async () => {
    let stoppedAt: number | undefined;
    let restartingAt: number | undefined;
    let upAt: number | undefined;
    let whileDown: Awaited<ReturnType<typeof probeJsonApi>> = [];
    let outage: Promise<void> | undefined;
    const sent = await runLoad({
      url: () => api.url,
      hosts,
      clients: 4,
      minimum: 20,
      enough: (sent) => {
        const back = upAt === undefined ? undefined : firstGoodAfter(sent, upAt);
        return back !== undefined && Date.now() > Math.max(back, (upAt ?? 0) + 1000) + 2000;
      },
      maxMs: 60_000,
      timeoutMs: 20_000,
      onReply: (sent) => {
        if (sent.length !== 30 || outage) return;
        outage = (async () => {
          await postgres.stop();
          const at = Date.now();
          stoppedAt = at;
          const refused = () => sent.filter((s) => s.startedAt > at && s.reply.body === '911').length;
          // The API has seen Postgres go (an update answered 911) before the JSON API is probed …
          await waitFor(() => refused() >= 1, { message: 'an update answered 911 after the stop' });
          whileDown = await probeJsonApi(10_000);
          // … and Postgres stays down until every client has had a couple of requests answered.
          await waitFor(() => answeredSince(sent, at) >= 8, {
            message: 'requests answered while Postgres is down',
          });
          restartingAt = Date.now();
          await postgres.start();
          upAt = Date.now();
        })();
      },
    });
    await outage;
    assert.ok(stoppedAt && restartingAt && upAt, 'Postgres was stopped and started during the load');

    const allowed = (s: Sent) =>
      (s.reply.status === 200 && (s.reply.body === `good ${s.ip}` || s.reply.body === 'dnserr')) ||
      (s.reply.status === 500 && s.reply.body === '911');
    assert.deepEqual(
      sent.filter((s) => !allowed(s)),
      [],
      'every reply is good, dnserr or 911 (HTTP 500)',
    );
    const down = sent.filter((s) => s.startedAt > (stoppedAt ?? 0) && s.endedAt < (restartingAt ?? 0));
    assert.ok(down.length > 0, 'requests were answered while Postgres was down');
    assert.deepEqual(
      down.filter((s) => s.reply.status !== 500 || s.reply.body !== '911'),
      [],
      '911 (HTTP 500) while Postgres is down',
    );
    // A second after Postgres is back, no more 911; good as soon as the zone
    // writer's retry delay (it may have failed on Postgres too) has passed.
    const recovered = sent.filter((s) => s.startedAt > (upAt ?? 0) + 1000);
    assert.ok(recovered.length > 0);
    assert.deepEqual(
      recovered.filter((s) => s.reply.body === '911'),
      [],
      'no 911 a second after Postgres is back, without restarting the API',
    );
    const back = firstGoodAfter(sent, upAt ?? 0);
    assert.ok(
      back !== undefined && back - (upAt ?? 0) < 12_000,
      `good again ${(back ?? 0) - (upAt ?? 0)} ms after`,
    );
    assert.deepEqual(
      sent.filter(
        (s) => s.startedAt > Math.max(back ?? 0, (upAt ?? 0) + 1000) && s.reply.body !== `good ${s.ip}`,
      ),
      [],
      'good for every update from then on',
    );
    assert.ok(api.isAlive(), 'the same API process runs on');

    const last = lastSent(sent);
    for (const [host, s] of last)
      assert.equal(s.reply.body, `good ${s.ip}`, `the last update of ${host} is good`);
    await assertConverged(postgres.url, target(), zone, new Map([...last].map(([host, s]) => [host, s.ip])));
    assertUnavailable(whileDown);
  });

  test('frozen (SIGSTOP): updates are answered 911 and the JSON API 503 in bounded time; SIGCONT recovers', async () => {
    // Postgres accepts nothing and answers nothing, as a hung server or a
    // network partition looks. The pool's connections stay open, so only a
    // deadline of the API's own can turn the wait into 911/503 (knex's
    // acquireConnectionTimeout, 5 s, says "fail fast": 911 instead of hanging).
    postgres.freeze();
    const started = Date.now();
    let updates: (UpdateReply & { ms: number })[] = [];
    let probes: Awaited<ReturnType<typeof probeJsonApi>> = [];
    try {
      [updates, probes] = await Promise.all([
        Promise.all(
          hosts.slice(0, 4).map(async (host, i) => {
            const at = Date.now();
            const reply = await sendUpdate(api.url, host, PASSWORD, `10.99.0.${i + 1}`, 15_000);
            return { ...reply, ms: Date.now() - at };
          }),
        ),
        probeJsonApi(15_000),
      ]);
    } finally {
      postgres.thaw();
    }
    const summary = {
      updates: updates.map((u) => ({ status: u.status, body: u.body, inTime: u.ms < 12_000 })),
      probes: probes.map((p) => ({ path: p.path, status: p.status, inTime: p.ms < 12_000 })),
    };
    assert.deepEqual(
      summary,
      {
        updates: updates.map(() => ({ status: 500, body: '911', inTime: true })),
        probes: probes.map((p) => ({ path: p.path, status: 503, inTime: true })),
      },
      `while Postgres answers nothing (frozen for ${Date.now() - started} ms; times: ${JSON.stringify([...updates, ...probes].map((x) => x.ms))})`,
    );
    assertUnavailable(probes);

    await waitFor(
      async () => /^(good|nochg) /.test((await sendUpdate(api.url, 'd5', PASSWORD, '10.98.0.1', 5000)).body),
      { message: 'updates to succeed again after SIGCONT' },
    );
  });

  test('every session ended (pg_terminate_backend) under load: the API reconnects at once', async () => {
    const cuts: number[] = [];
    let cutting: Promise<void> | undefined;
    const sent = await runLoad({
      url: () => api.url,
      hosts,
      clients: 4,
      minimum: 60,
      enough: () => cuts.length === 2 && Date.now() > (cuts[1] ?? 0) + 2000,
      onReply: (sent) => {
        if (sent.length !== 20 || cutting) return;
        cutting = (async () => {
          for (let i = 0; i < 2; i++) {
            assert.ok((await postgres.terminateSessions('mydns')) > 0);
            const cut = Date.now();
            cuts.push(cut);
            // The load goes on between the cuts: every client has had requests answered since.
            await waitFor(() => answeredSince(sent, cut) >= 8, {
              message: 'requests answered after the cut',
            });
          }
        })();
      },
    });
    await cutting;
    // A statement in flight on a session that is ended may fail (911); nothing else may.
    const inFlight = (s: Sent) => cuts.some((cut) => s.startedAt <= cut && s.endedAt >= cut - 50);
    const wrong = sent.filter(
      (s) =>
        s.reply.body !== `good ${s.ip}` && !(inFlight(s) && s.reply.status === 500 && s.reply.body === '911'),
    );
    assert.deepEqual(wrong, [], 'good, except 911 for a request whose statement was cut');
    const last = lastSent(sent);
    await assertConverged(postgres.url, target(), zone, new Map([...last].map(([host, s]) => [host, s.ip])));
  });
});

describe('SIGTERM under update load', () => {
  let pdns: PrivatePowerDns;
  let database: { url: string; drop(): Promise<void> };
  const zone = uniqueZone();
  const hosts = Array.from({ length: 12 }, (_, i) => `s${i}`);
  const settings = () => ({
    databaseUrl: database.url,
    zone,
    powerdns: pdns,
    env: { MYDNS_PUSH_TIMEOUT: '3s', MYDNS_HOST_UPDATE_LIMIT: '100000/10m' },
  });

  before(async () => {
    pdns = await startPrivatePowerDns();
    database = await createTestDatabase();
  });
  after(async () => {
    await createPowerDnsClient(pdns)
      .deleteZone(zone)
      .catch(() => undefined);
    await pdns?.remove();
    await database?.drop();
  });

  const request = (host: string, ip: string, connection: 'close' | 'keep-alive') =>
    `GET /nic/update?hostname=${host}&myip=${ip} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basic(host, PASSWORD)}\r\nConnection: ${connection}\r\n\r\n`;

  test('in-flight requests finish, pending pushes stay pending, and the next start completes them', async () => {
    const first = await startApiProcess({ ...settings(), name: 'sigterm-first' });
    await registerHosts(first.url, hosts, PASSWORD);
    for (const [i, host] of hosts.entries()) {
      assert.equal(
        (await sendUpdate(first.url, host, PASSWORD, `10.1.0.${i + 1}`)).body,
        `good 10.1.0.${i + 1}`,
      );
    }
    // PowerDNS goes away: every change now waits for its push (3 s) and stays pending.
    await pdns.stop();

    // A wave of updates, one per host (s0–s7), all in flight when SIGTERM comes …
    const wave = hosts.slice(0, 8).map((host, i) => ({ host, ip: `10.2.0.${i + 1}` }));
    const waveReplies = Promise.all(
      wave.map(({ host, ip }) => rawExchange(first.port, request(host, ip, 'close'), { timeoutMs: 20_000 })),
    );
    // … a keep-alive client (s8) in the middle of a request …
    let keepAliveSent: string[] = [];
    const keepAlive = keepAliveSession(
      first.port,
      (n) => {
        if (n >= 20) return undefined;
        keepAliveSent = [...keepAliveSent, `10.3.0.${n + 1}`];
        return request('s8', `10.3.0.${n + 1}`, 'keep-alive');
      },
      30_000,
    );
    // SIGTERM comes once all of them (8 + the keep-alive one) wait for their push.
    await waitFor(async () => (await waitingRequests(first.url)) >= 9, {
      message: 'the wave and the keep-alive request to wait for PowerDNS',
    });
    first.signal('SIGTERM');
    const signalledAt = Date.now();
    // … and clients that keep connecting while it stops (s9–s11).
    const late = await Promise.all(
      hosts.slice(9).map(async (host, c) => {
        const outcomes: { ip: string; outcome: Awaited<ReturnType<typeof rawExchange>> }[] = [];
        for (let n = 0; n < 40; n++) {
          const ip = `10.4.${c}.${n + 1}`;
          const outcome = await rawExchange(first.port, request(host, ip, 'close'), { timeoutMs: 20_000 });
          outcomes.push({ ip, outcome });
          if (outcome.error === 'ECONNREFUSED') break;
          // Pacing: a client that keeps coming back while the API stops, not a flood.
          await sleep(100);
        }
        return { host, outcomes };
      }),
    );
    const exit = await first.exited;
    const stoppedInMs = Date.now() - signalledAt;
    assert.deepEqual(
      exit,
      { code: 0, signal: null },
      `a clean exit on SIGTERM:\n${first.output().slice(-3000)}`,
    );
    assert.ok(stoppedInMs < 15_000, `stopped within the grace period (${stoppedInMs} ms)`);

    // Every in-flight request finished with a whole reply: the change is kept (dnserr).
    for (const [i, outcome] of (await waveReplies).entries()) {
      assert.equal(outcome.reply?.status, 200, `wave request ${i}: ${outcome.bytes.toString()}`);
      assert.equal(outcome.reply?.body.toString(), 'dnserr');
    }
    const session = await keepAlive;
    assert.equal(session.ending, 'server-close', `the keep-alive client: ${JSON.stringify(session)}`);
    assert.ok(session.replies.length >= 1);
    for (const reply of session.replies) assert.equal(reply.body.toString(), 'dnserr');
    // The others got a whole reply or a clean connection error, never half a reply.
    for (const { host, outcomes } of late) {
      for (const { ip, outcome } of outcomes) {
        const clean = outcome.reply !== undefined || (outcome.bytes.length === 0 && outcome.closed);
        assert.ok(clean, `${host} ${ip}: ${JSON.stringify({ ...outcome, bytes: outcome.bytes.toString() })}`);
        if (outcome.reply) assert.equal(outcome.reply.body.toString(), 'dnserr');
      }
      assert.equal(
        outcomes.at(-1)?.outcome.error,
        'ECONNREFUSED',
        `${host} ends refused: the port is closed`,
      );
    }

    // What was answered is committed and still pending; PowerDNS has none of it.
    const expected = new Map<string, string>(hosts.map((host, i) => [host, `10.1.0.${i + 1}`]));
    for (const { host, ip } of wave) expected.set(host, ip);
    const keepAliveAnswered = keepAliveSent.slice(0, session.replies.length);
    if (keepAliveAnswered.length > 0) expected.set('s8', keepAliveAnswered.at(-1) ?? '');
    for (const { host, outcomes } of late) {
      const answered = outcomes.filter((o) => o.outcome.reply);
      if (answered.length > 0) expected.set(host, answered.at(-1)?.ip ?? '');
    }
    const inPostgres = await postgresAddresses(database.url);
    const changed = [...expected]
      .filter(([host, ip]) => ip !== `10.1.0.${hosts.indexOf(host) + 1}`)
      .map(([host]) => host);
    for (const host of changed)
      assert.equal(inPostgres.get(host)?.ipv4, expected.get(host), `Postgres holds ${host}'s change`);
    const queued = await sql<{ name: string }>(
      database.url,
      'select distinct name from dns_outbox order by name',
    );
    assert.deepEqual(
      queued.map((row) => row.name),
      [...changed].sort(),
      'each change is still pending in the outbox',
    );
    await pdns.restart();
    const stale = await powerDnsRecords(pdns, zone);
    for (const [i, host] of hosts.entries()) assert.deepEqual(stale.get(host), [`10.1.0.${i + 1}`]);

    // The next start pushes them, with no client sending anything.
    const second = await startApiProcess({ ...settings(), name: 'sigterm-second' });
    try {
      await assertConverged(database.url, pdns, zone, expected);
    } finally {
      await second.stop();
    }
  });
});
