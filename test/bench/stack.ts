/**
 * What the benchmarks share: the API as a separate process (as in
 * production), hosts made in bulk, zones, direct PATCHes as a baseline, and
 * the printing of figures.
 */
import { join, resolve } from 'node:path';
import type { Database } from '@mydns/db';
import type { PowerDnsClient } from '@mydns/powerdns';
import { freePort } from '../support/ports.ts';
import { startProgram } from '../support/programs.ts';
import { waitFor } from '../support/wait.ts';
import type { LoadResult } from './load.ts';

const root = resolve(import.meta.dirname, '../..');
export const PASSWORD = 'bench-password';

export interface StackEnv {
  readonly databaseUrl: string;
  readonly pdnsUrl: string;
  readonly pdnsKey: string;
}

export const authHeader = (name: string) => ({
  authorization: `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`,
});
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
export const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;

export function describeLoad(result: LoadResult): string {
  const bodies = Object.entries(result.bodies)
    .map(([body, count]) => `${body}×${count}`)
    .join(' ');
  return `${fmt(result.perSecond)}/s (${result.requests} in ${result.seconds.toFixed(2)} s; ${bodies})`;
}

/** The run with the median rate. */
export function median(results: LoadResult[]): LoadResult {
  const sorted = [...results].sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor(sorted.length / 2)] as LoadResult;
}

/** The API of this checkout, or of the one at `checkout` (a baseline measured in the same run). */
export async function startApi(
  env: StackEnv,
  zone: string,
  settings: Record<string, string> = {},
  checkout: string = root,
): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  // BENCH_API_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the API (node refuses it in
  // NODE_OPTIONS); BENCH_PROFILE=<dir> is short for those two.
  const profile = process.env.BENCH_PROFILE;
  const nodeFlags = [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    ...(process.env.BENCH_API_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
  ];
  const api = startProgram(join(checkout, 'node_modules/.bin/tsx'), [...nodeFlags, 'apps/api/src/main.ts'], {
    cwd: checkout,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: env.databaseUrl,
      MYDNS_PDNS_API_URL: env.pdnsUrl,
      MYDNS_PDNS_API_KEY: env.pdnsKey,
      MYDNS_ZONE: zone,
      MYDNS_HTTP_PORT: String(port),
      MYDNS_HTTP_ADDRESS: '127.0.0.1',
      MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true',
      // The benchmark sends far more per host than any router would.
      MYDNS_HOST_UPDATE_LIMIT: '1000000000/10m',
      MYDNS_PUSH_TIMEOUT: '30s',
      MYDNS_DB_POOL_SIZE: '20',
      MYDNS_RELAY_ENABLED: 'false',
      // Thousands of routers' first (cold) logins all come from 127.0.0.1 here: the
      // per-source limits would count them as one guesser (the logins benchmark keeps the defaults).
      MYDNS_LOGIN_FAILURE_LIMIT: '1000000/10m',
      MYDNS_LOGIN_HOST_FAILURE_LIMIT: '1000000/10m',
      MYDNS_BCRYPT_QUEUE: '100000',
      ...settings,
    },
    onOutput: (text) => process.stderr.write(text),
  });
  try {
    await waitFor(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok), {
      // A start writes the zone's relay names: in a large signed zone, a rectify of it all.
      timeoutMs: 300_000,
      message: 'the API to start',
      giveUp: () => (api.hasExited() ? 'it exited' : undefined),
    });
  } catch (error) {
    await api.stop({ signal: 'SIGKILL' });
    throw error;
  }
  return {
    port,
    pid: api.pid,
    stop: async () => {
      await api.stop();
    },
  };
}

export async function createHosts(
  db: Database,
  zone: string,
  prefix: string,
  count: number,
  hash: string,
  ipv4: string | null,
) {
  await db.raw(
    `insert into hosts (zone, name, password_hash, ipv4, last_seen_at)
     select ?, ? || g, ?, ?, now() from generate_series(1, ?) g`,
    [zone, prefix, hash, ipv4, count],
  );
}

/** A benchmark's hosts go when it is done: the next one serves another zone, and MyDNS refuses to strand hosts. */
export async function removeHosts(db: Database, zone: string) {
  await db('hosts').where({ zone }).delete();
}

/** The zone as MyDNS creates it with `dnssec` (MYDNS_DNSSEC): signed; unsigned without. */
export async function ensureZone(dns: PowerDnsClient, zone: string, options: { dnssec?: boolean } = {}) {
  await dns.createZone({
    name: zone,
    kind: 'Native',
    nameservers: [`ns1.${zone}`],
    soa: { ttl: 300, content: `ns1.${zone}. hostmaster.${zone}. 1 10800 3600 604800 60` },
    dnssec: options.dnssec ?? false,
  });
}

/** Direct one-rrset PATCHes, one after another (PowerDNS cannot take them in parallel); PATCHes/s. */
export async function directPatches(dns: PowerDnsClient, zone: string, count: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    await dns.patchZone(zone, [
      { name: `direct${i}.${zone}`, type: 'A', ttl: 60, records: [`10.254.${i >> 8}.${i & 255}`] },
    ]);
  }
  return count / ((performance.now() - started) / 1000);
}
