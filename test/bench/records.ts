import { Resolver } from 'node:dns/promises';
import type { Database } from '@mydns/db';
import { waitFor } from '../support/wait.ts';
import { authHeader, createHosts, removeHosts, type StackEnv, startApi } from './stack.ts';

/**
 * Benchmark 10: a PUT of 50 owner records (README "Records"), timed until DNS
 * answers the last of them, against a one-address update timed until DNS
 * answers it, on the same server in the same run (median of 7 each).
 */
export async function runRecordsBenchmark(options: {
  db: Database;
  env: StackEnv;
  dnsPort: number;
  hash: string;
}): Promise<void> {
  const zone = 'records.bench';
  await createHosts(options.db, zone, 'r', 1, options.hash, '10.0.0.1');
  const api = await startApi(options.env, zone);
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`127.0.0.1:${options.dnsPort}`]);
  const answered = (ask: () => Promise<string[]>, want: string) =>
    waitFor(async () => (await ask()).includes(want), {
      timeoutMs: 30_000,
      message: `DNS to answer ${want}`,
    });
  const rounds = 7;
  const puts: number[] = [];
  const updates: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const records = Array.from({ length: 50 }, (_, i) => ({
        subname: `n${i}`,
        type: 'TXT',
        content: `round ${round} record ${i}`,
      }));
      let started = performance.now();
      const reply = await fetch(`http://127.0.0.1:${api.port}/api/v1/hosts/r1/records`, {
        method: 'PUT',
        headers: { ...authHeader('r1'), 'content-type': 'application/json' },
        body: JSON.stringify({ records }),
      });
      if (reply.status !== 200) throw new Error(`PUT: ${reply.status} ${await reply.text()}`);
      await answered(
        () => resolver.resolveTxt(`n49.r1.${zone}`).then((r) => r.map((parts) => parts.join(''))),
        `round ${round} record 49`,
      );
      puts.push(performance.now() - started);
      started = performance.now();
      const address = `10.0.1.${round + 1}`;
      const update = await fetch(`http://127.0.0.1:${api.port}/nic/update?hostname=r1&myip=${address}`, {
        headers: authHeader('r1'),
      });
      if (!(await update.text()).startsWith('good')) throw new Error('update not good');
      await answered(() => resolver.resolve4(`r1.${zone}`), address);
      updates.push(performance.now() - started);
    }
  } finally {
    await api.stop();
    await removeHosts(options.db, zone);
  }
  const mid = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  console.log(`\n10. a PUT of 50 records, to the DNS answer of the last one (median of ${rounds})`);
  console.log(`   baseline: one address update, to its DNS answer: ${mid(updates).toFixed(0)} ms`);
  console.log(`   PUT of 50 TXT records:                          ${mid(puts).toFixed(0)} ms`);
  console.log(`   ratio: ${(mid(puts) / mid(updates)).toFixed(1)}× (one PATCH either way)`);
}
