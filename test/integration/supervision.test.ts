import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { findRunningEmbeddedPostgres } from '@mydns/db';
import { createDnsQuery } from '../support/dns.ts';
import { sql } from '../support/faults.ts';
import { harness } from '../support/harness.ts';
import {
  isRunning,
  killAll,
  managedPids,
  type StartedMyDns,
  startMyDnsProcess,
  waitForOutput,
  waitUntil,
} from '../support/npm-start.ts';
import { freePort } from '../support/ports.ts';
import { noteSecret } from '../support/secrets.ts';

/**
 * `npm start` watches the embedded Postgres and the managed pdns_server: a
 * `kill -9` of either under a light update load is logged as an error,
 * /readyz says which part is down, the part comes back by itself, and no
 * committed change is lost on the way to DNS. The API process itself is never
 * restarted.
 */

const zone = 'watched.test';
const hosts = ['ann', 'bob', 'cy', 'dee'];
const password = 'watched-password';

/** How many of the two host caches (API, relay) hold their LISTEN connection. */
async function listeners(url: string): Promise<number> {
  const rows = await sql<{ count: number }>(
    url,
    "select count(distinct application_name)::int as count from pg_stat_activity where application_name in ('mydns-host-cache', 'mydns-smtp-relay')",
  );
  return rows[0]?.count ?? 0;
}

interface Readiness {
  status: number;
  body: { status: string; failing: string[]; checks: Record<string, { ok: boolean; error?: string }> };
}

describe('npm start restarts a Postgres or PowerDNS that dies', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let httpUrl: string;
  let dnsPort: number;
  let mydns: StartedMyDns;
  /** Ends a load a failed test left running. */
  let stopLoad = () => {};

  const readiness = async (): Promise<Readiness> => {
    const response = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: (await response.json()) as Readiness['body'] };
  };

  const update = async (host: string, address: string): Promise<string> => {
    const query = `hostname=${host}&password=${password}&myip=${address}`;
    try {
      const response = await fetch(`${httpUrl}/u.php?${query}`, { signal: AbortSignal.timeout(15_000) });
      return (await response.text()).trim();
    } catch (error) {
      return `no reply: ${(error as Error).message}`;
    }
  };

  /**
   * Each host updated over and over, one request at a time (as a router
   * does), until `stop()`; at most `limit` rounds. Returns every reply.
   */
  const runLoad = (limit: number) => {
    let stopped = false;
    stopLoad = () => {
      stopped = true;
    };
    const replies = new Map<string, { address: string; reply: string }[]>();
    const done = Promise.all(
      hosts.map(async (host, h) => {
        const log: { address: string; reply: string }[] = [];
        replies.set(host, log);
        for (let i = 1; i <= limit && !stopped; i++) {
          const address = `10.${h + 1}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
          log.push({ address, reply: await update(host, address) });
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    return {
      replies,
      count: () => [...replies.values()].reduce((sum, log) => sum + log.length, 0),
      async stop() {
        stopped = true;
        await done;
        return replies;
      },
    };
  };

  /**
   * Polls /readyz until it answers 503 naming `part` as being restarted;
   * returns that answer. (For the first moment after a kill, before the exit
   * is noticed, the check may fail with the dead connection's own error.)
   */
  const waitForUnready = async (part: string): Promise<Readiness> => {
    let seen: Readiness | undefined;
    await waitUntil(
      `/readyz to report ${part} down`,
      async () => {
        const ready = await readiness();
        const restarting = /^down: restarting/.test(ready.body.checks[part]?.error ?? '');
        if (ready.status === 503 && ready.body.failing.includes(part) && restarting) seen = ready;
        return seen !== undefined;
      },
      10_000,
      20,
    );
    return seen as Readiness;
  };

  const errorLines = () => mydns.errorLines();

  before(async () => {
    dataDir = mkdtempSync(join(harness().workDir, 'watched-'));
    chmodSync(dataDir, 0o755);
    dnsPort = await freePort();
    const httpPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MYDNS_DATA_DIR: dataDir,
      MYDNS_ZONE: zone,
      MYDNS_HTTP_PORT: String(httpPort),
      MYDNS_HTTP_ADDRESS: '127.0.0.1',
      MYDNS_DNS_PORT: String(dnsPort),
      MYDNS_PDNS_API_PORT: String(await freePort()),
      MYDNS_SMTP_PORT: String(await freePort()),
      MYDNS_SMTP_ADDRESS: '127.0.0.1',
      MYDNS_BCRYPT_COST: '4',
      MYDNS_BCRYPT_THREADS: '1',
      MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true',
      MYDNS_HOST_UPDATE_LIMIT: '100000/1m',
      MYDNS_REGISTRATION_LIMIT: '1000/1h',
      // Updates during an outage answer dnserr after 1 s instead of 3, so the load keeps moving.
      MYDNS_PUSH_TIMEOUT: '1s',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
    };
    noteSecret(password);
    mydns = startMyDnsProcess(env);
    await waitForOutput(mydns, /ready: try http/);
    for (const host of hosts) {
      const response = await fetch(`${httpUrl}/api/v1/hosts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hostname: host, password }),
      });
      assert.equal(response.status, 201, await response.text());
    }
  });

  afterEach(() => stopLoad());

  after(async () => {
    const pids = managedPids(dataDir);
    if (!mydns.hasExited()) {
      mydns.child.kill('SIGTERM');
      await Promise.race([mydns.exited, new Promise((r) => setTimeout(r, 30_000).unref())]);
    }
    killAll([mydns.pid, pids.postgres, pids.pdns]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('kill -9 of pdns_server: readiness names powerdns, it comes back, every committed address is served', async () => {
    const query = createDnsQuery(dnsPort);
    const load = runLoad(2000);
    await waitUntil('a few updates before the kill', () => load.count() >= hosts.length * 3);
    const before = managedPids(dataDir).pdns;
    assert.ok(isRunning(before), 'pdns_server runs');
    process.kill(before as number, 'SIGKILL');

    const down = await waitForUnready('powerdns');
    assert.deepEqual(down.body.failing, ['powerdns']);
    assert.match(down.body.checks.powerdns?.error ?? '', /^down: restarting/);
    await waitUntil('/readyz to answer 200 again', async () => (await readiness()).status === 200);
    const after = managedPids(dataDir).pdns;
    assert.notEqual(after, before, 'a new pdns_server');
    assert.ok(isRunning(after), 'the new pdns_server runs');
    // A few more rounds of updates once it is back, then the load ends.
    const settled = load.count();
    await waitUntil('updates after the restart', () => load.count() >= settled + hosts.length * 3);
    const replies = await load.stop();

    assert.ok(
      errorLines().some((line) => /pdns_server exited unexpectedly/.test(line.message)),
      `an error line about pdns_server in:\n${mydns.output().slice(-5000)}`,
    );
    for (const host of hosts) {
      const log = replies.get(host) ?? [];
      // Postgres stayed up: every update was committed (good, or dnserr while PowerDNS was away).
      const odd = log.filter((entry) => !/^(good|dnserr)\b/.test(entry.reply));
      assert.deepEqual(odd, [], `${host}: replies other than good/dnserr`);
      const last = log.at(-1);
      assert.ok(last);
      await waitUntil(
        `${host}.${zone} to be served with its last committed address ${last.address}`,
        async () => (await query.a(`${host}.${zone}`)).join(',') === last.address,
      );
    }
    assert.ok(!mydns.hasExited(), 'the API process was never restarted');
  });

  test('kill -9 of the embedded Postgres: readiness names postgres, it comes back, updates work again', async () => {
    const query = createDnsQuery(dnsPort);
    const url = findRunningEmbeddedPostgres(dataDir);
    assert.ok(url);
    noteSecret(new URL(url).password);
    assert.equal(await listeners(url), 2, 'the API and the relay listen for host changes');
    const load = runLoad(2000);
    await waitUntil('a few updates before the kill', () => load.count() >= hosts.length * 3);
    const before = managedPids(dataDir).postgres;
    assert.ok(isRunning(before), 'Postgres runs');
    process.kill(before as number, 'SIGKILL');

    const down = await waitForUnready('postgres');
    assert.ok(down.body.failing.includes('postgres'));
    assert.match(down.body.checks.postgres?.error ?? '', /^down: restarting/);
    await waitUntil('/readyz to answer 200 again', async () => (await readiness()).status === 200, 60_000);
    const after = managedPids(dataDir).postgres;
    assert.notEqual(after, before, 'a new postmaster');
    assert.ok(isRunning(after), 'the new postmaster runs');
    // The load turns good again by itself: pool connections, prepared statements.
    const marks = new Map(hosts.map((host) => [host, load.replies.get(host)?.length ?? 0]));
    await waitUntil('every host to be answered good after the restart', () =>
      hosts.every((host) =>
        load.replies
          .get(host)
          ?.slice(marks.get(host))
          .some((entry) => entry.reply.startsWith('good')),
      ),
    );
    const replies = await load.stop();

    assert.ok(
      errorLines().some((line) => /postgres exited unexpectedly/.test(line.message)),
      `an error line about postgres in:\n${mydns.output().slice(-5000)}`,
    );
    // Nothing committed was lost: each host's last good (or dnserr) address is what Postgres
    // holds, unless a later update whose reply was lost with the connection committed after it;
    // and what Postgres holds is what DNS serves.
    const rows = new Map(
      (await sql<{ name: string; ipv4: string | null }>(url, 'select name, ipv4 from hosts')).map((row) => [
        row.name,
        row.ipv4,
      ]),
    );
    for (const host of hosts) {
      const log = replies.get(host) ?? [];
      const lastCommitted = log.findLastIndex((entry) => /^(good|dnserr)\b/.test(entry.reply));
      const candidates = log.slice(lastCommitted).map((entry) => entry.address);
      assert.ok(candidates.includes(rows.get(host) ?? ''), `${host}: Postgres holds ${rows.get(host)}`);
      await waitUntil(
        `${host}.${zone} to be served with ${rows.get(host)}`,
        async () => (await query.a(`${host}.${zone}`)).join(',') === rows.get(host),
      );
    }
    // One more update per host: good, served by DNS, and a repeat is nochg.
    for (const [h, host] of hosts.entries()) {
      const address = `10.${h + 1}.99.99`;
      assert.equal(await update(host, address), `good ${address}`);
      assert.deepEqual(await query.a(`${host}.${zone}`), [address]);
      assert.equal(await update(host, address), `nochg ${address}`);
    }
    // The host caches (the API's and the relay's) listen for changes again: their LISTEN
    // connections reconnect with backoff.
    await waitUntil(
      'the LISTEN connections of both host caches to be back',
      async () => (await listeners(url)) === 2,
      60_000,
      500,
    );
    assert.ok(!mydns.hasExited(), 'the API process was never restarted');
  });

  test('a stop is a stop: SIGTERM ends everything, and nothing is restarted', async () => {
    const pids = managedPids(dataDir);
    const errorsBefore = errorLines().length;
    mydns.child.kill('SIGTERM');
    assert.deepEqual(await mydns.exited, { code: 0, signal: null });
    assert.ok(!isRunning(pids.postgres), 'Postgres stopped');
    assert.ok(!isRunning(pids.pdns), 'pdns_server stopped');
    // A clean Postgres shutdown removes its postmaster.pid.
    assert.equal(managedPids(dataDir).postgres, undefined);
    assert.equal(errorLines().length, errorsBefore, 'no error while stopping');
  });
});
