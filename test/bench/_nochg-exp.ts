import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, migrateLatest, startEmbeddedPostgres } from '@mydns/db';
import { createPowerDnsClient, startManagedPowerDns } from '@mydns/powerdns';
import { createLogger } from '@mydns/runtime';
import bcrypt from 'bcryptjs';
import { freePort } from '../support/ports.ts';
import { runLoad } from './load.ts';
import { authHeader, createHosts, ensureZone, PASSWORD, startApi } from './stack.ts';

const logger = createLogger({ level: 'warn', format: 'pretty' });
const work = mkdtempSync(join(tmpdir(), 'gc-nochg-'));
chmodSync(work, 0o755);
const postgres = await startEmbeddedPostgres({ dataDir: join(work, 'pg'), logger, database: 'b', port: await freePort() });
const pdns = await startManagedPowerDns({ dir: join(work, 'pdns'), dnsPort: await freePort(), apiPort: await freePort(), logger });
const stops: (() => Promise<void>)[] = [];
try {
  const dns = createPowerDnsClient({ apiUrl: pdns.apiUrl, apiKey: pdns.apiKey });
  const hash = bcrypt.hashSync(PASSWORD, 4);
  const sides = [];
  for (const [label, checkout, dbname] of [['mine', undefined, 'b'], ['base', '/tmp/gc-base', 'b2']] as const) {
    const admin = createDatabase({ url: postgres.url });
    if (dbname !== 'b') await admin.raw(`create database ${dbname}`);
    await admin.destroy();
    const url = new URL(postgres.url); url.pathname = `/${dbname}`;
    const db = createDatabase({ url: url.toString() });
    await migrateLatest(db);
    await createHosts(db, 'w', 1000, hash, '10.0.0.1');
    await db.destroy();
    const zone = `${label}.bench`;
    await ensureZone(dns, zone);
    const api = await startApi({ databaseUrl: url.toString(), pdnsUrl: pdns.apiUrl, pdnsKey: pdns.apiKey }, zone, {}, checkout);
    stops.push(api.stop);
    sides.push({ label, api, rates: [] as number[] });
  }
  const load = (port: number, total: number, c: number) => runLoad({ port, concurrency: c, total, maxMs: 60_000, next: (i) => ({ path: `/nic/update?hostname=w${(i % 1000) + 1}&myip=10.0.0.1`, headers: authHeader(`w${(i % 1000) + 1}`) }) });
  for (const side of sides) await load(side.api.port, 1000, 8);
  for (let rep = 0; rep < 8; rep++) {
    for (const side of rep % 2 ? [...sides].reverse() : sides) {
      const r = await load(side.api.port, 3000, 250);
      side.rates.push(Math.round(r.perSecond));
    }
  }
  for (const side of sides) console.log(side.label, side.rates.join(' '), 'median', [...side.rates].sort((a, b) => a - b)[4]);
} finally {
  for (const stop of stops) await stop();
  await pdns.stop();
  await postgres.stop();
  rmSync(work, { recursive: true, force: true });
}
