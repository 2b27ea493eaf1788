import type { Database } from '@mydns/db';
import type { PowerDnsClient } from '@mydns/powerdns';
import { type LoadResult, runLoad } from './load.ts';
import {
  authHeader,
  createHosts,
  describeLoad,
  ensureZone,
  fmt,
  median,
  pct,
  removeHosts,
  type StackEnv,
  startApi,
} from './stack.ts';

/**
 * Benchmark 13 (docs/dnssec.md, "Kept order names"): whether a signed zone's
 * write path stays flat. Good updates/s end to end, 1,000 hosts changing
 * address, in three zones served by one API: unsigned with 1,000 hosts, signed
 * with 1,000, and signed with 100,000 (BENCH_FLAT_HOSTS). The rounds alternate
 * between the zones, so all three see the same machine; medians reported.
 */

const SMALL = 1000;
const ZONES = {
  unsigned: 'flat1k-unsigned.bench',
  signed: 'flat1k.bench',
  large: 'flat100k.bench',
} as const;

export interface SignedFlatOptions {
  readonly db: Database;
  readonly dns: PowerDnsClient;
  readonly env: StackEnv;
  /** A cheap bcrypt hash: round 1 runs one check per host. */
  readonly hash: string;
  readonly concurrency: number;
}

/** Every one of the first 1,000 hosts of `zone` moves to a new address in round `round`. */
function round(port: number, zone: string, round: number, concurrency: number): Promise<LoadResult> {
  return runLoad({
    port,
    concurrency,
    total: SMALL,
    maxMs: 120_000,
    next: (i) => {
      // Full names: one API serves the three zones.
      const name = `h${i + 1}.${zone}`;
      return {
        path: `/nic/update?hostname=${name}&myip=10.${round}.${(i + 1) >> 8}.${(i + 1) & 255}`,
        headers: authHeader(name),
      };
    },
  });
}

export async function runSignedFlatBenchmark(options: SignedFlatOptions): Promise<void> {
  const { db, dns, env } = options;
  const large = Number(process.env.BENCH_FLAT_HOSTS ?? 100_000);
  await ensureZone(dns, ZONES.unsigned);
  await ensureZone(dns, ZONES.signed, { dnssec: true });
  await createHosts(db, ZONES.unsigned, 'h', SMALL, options.hash, null);
  await createHosts(db, ZONES.signed, 'h', SMALL, options.hash, null);
  // The large zone in bulk: its hosts by one INSERT, their A records by PATCHes of 5,000
  // names while the zone is unsigned, then signed with one rectify.
  const seeded = performance.now();
  await ensureZone(dns, ZONES.large);
  await createHosts(db, ZONES.large, 'h', large, options.hash, '10.255.0.1');
  for (let start = 1; start <= large; start += 5000) {
    const changes = [];
    for (let i = start; i < Math.min(start + 5000, large + 1); i++)
      changes.push({ name: `h${i}.${ZONES.large}`, type: 'A' as const, ttl: 60, records: ['10.255.0.1'] });
    await dns.patchZone(ZONES.large, changes);
  }
  await dns.secureZone(ZONES.large);
  const seedSeconds = (performance.now() - seeded) / 1000;

  const api = await startApi(env, ZONES.signed, {
    MYDNS_ZONES: [ZONES.signed, ZONES.unsigned, ZONES.large].join(','),
  });
  const results: Record<keyof typeof ZONES, LoadResult[]> = { unsigned: [], signed: [], large: [] };
  try {
    // Rounds 1-2 warm up (round 1: one bcrypt per host, and the small zones' names are new);
    // rounds 3-7 are measured, the zones in turn.
    for (let r = 1; r <= 7; r++) {
      for (const key of Object.keys(ZONES) as (keyof typeof ZONES)[]) {
        const result = await round(api.port, ZONES[key], r, options.concurrency);
        if ((result.bodies.good ?? 0) !== SMALL)
          throw new Error(`${ZONES[key]} round ${r}: ${describeLoad(result)}`);
        if (r > 2) results[key].push(result);
      }
    }
  } finally {
    await api.stop();
    for (const zone of Object.values(ZONES)) {
      await removeHosts(db, zone);
      await dns.deleteZone(zone);
    }
  }
  const unsigned = median(results.unsigned);
  const signed = median(results.signed);
  const big = median(results.large);
  console.log(
    `\n13. a signed zone's write path: good updates/s, 1,000 hosts changing address (median of 5 alternated rounds; ` +
      `${fmt(large)} hosts seeded and signed in ${seedSeconds.toFixed(1)} s)`,
  );
  console.log(`   unsigned zone, 1,000 hosts:        ${describeLoad(unsigned)}`);
  console.log(`   signed zone, 1,000 hosts:          ${describeLoad(signed)}`);
  console.log(`   signed zone, ${fmt(large)} hosts:  ${describeLoad(big)}`);
  console.log(
    `   DNSSEC on vs off (1,000 hosts): ${pct(signed.perSecond, unsigned.perSecond)} of the unsigned rate (aim ≥ 80%)`,
  );
  console.log(
    `   ${fmt(large)} vs 1,000 hosts (signed): ${pct(big.perSecond, signed.perSecond)} of the 1,000-host rate (aim ≥ 80%)`,
  );
}
