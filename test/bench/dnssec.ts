import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PowerDnsClient, RrsetChange } from '@mydns/powerdns';
import { delv, writeTrustAnchor } from '../support/dnssec.ts';
import { requireProgram, runProgram } from '../support/programs.ts';

/**
 * Benchmark 9 (docs/dnssec.md): the ways to keep a signed zone's NXDOMAIN
 * and NODATA answers valid after every batch, each timed on a zone of 1,000
 * and one of 100,000 names, straight against PowerDNS (no MyDNS in between):
 * the same batches of 100 address changes, the time per batch, and whether a
 * NODATA at a changed name and at a new name validates after a last batch
 * that has both (delv, with the zone's key as trust anchor) and whether the
 * zone can be transferred (AXFR).
 */

export type DnssecOption =
  | 'unsigned'
  | 'nsec3-norectify'
  | 'nsec3-rectify-put'
  | 'nsec3-api-rectify'
  | 'nsec-api-rectify'
  | 'nsec3-narrow'
  | 'nsec3-dns-update'
  | 'nsec3-kept';

export const DNSSEC_OPTIONS: readonly { option: DnssecOption; what: string }[] = [
  { option: 'unsigned', what: 'unsigned zone, PATCH (the baseline)' },
  { option: 'nsec3-norectify', what: 'NSEC3, PATCH, no rectify' },
  { option: 'nsec3-rectify-put', what: 'NSEC3, PATCH then PUT …/rectify per batch' },
  { option: 'nsec3-api-rectify', what: 'NSEC3, API-RECTIFY (rectify inside each PATCH)' },
  { option: 'nsec-api-rectify', what: 'NSEC, API-RECTIFY' },
  { option: 'nsec3-narrow', what: 'NSEC3 narrow, PATCH, no rectify' },
  { option: 'nsec3-dns-update', what: 'NSEC3, RFC 2136 UPDATE (PowerDNS sets order names per name)' },
  { option: 'nsec3-kept', what: 'NSEC3, kept order names, rectify only for new names (chosen)' },
];

/**
 * The options measured on a PowerDNS whose database has MyDNS's order-name triggers
 * (pdns/keep-ordernames.sqlite3.sql); the others on one with PowerDNS's schema alone.
 */
export const needsTriggers = (option: DnssecOption) => option === 'nsec3-kept';

export interface OptionResult {
  readonly option: DnssecOption;
  readonly names: number;
  /** Median milliseconds per batch. */
  readonly batchMs: number;
  readonly batchSize: number;
  /**
   * After the timed batches, one that changes addresses and adds a name: a NODATA at
   * a changed name and at the new one validate (undefined: unsigned).
   */
  readonly nodataValid: boolean | undefined;
  /** PowerDNS transfers the zone (checked on the small zone only). */
  readonly axfr: boolean | undefined;
}

interface Target {
  readonly dns: PowerDnsClient;
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly dnsPort: number;
}

async function api(target: Target, method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${target.apiUrl}/api/v1/servers/localhost/zones/${path}`, {
    method,
    headers: { 'X-API-Key': target.apiKey, Accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(300_000),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

function batch(zone: string, round: number, size: number, names: number): RrsetChange[] {
  // Spread over the whole zone, so no batch is a neighbourhood of the chain.
  const step = Math.max(1, Math.floor(names / size));
  return Array.from({ length: size }, (_, i) => ({
    name: `h${(i * step + round) % names}.${zone}`,
    type: 'A' as const,
    ttl: 60,
    records: [`10.${round}.${i >> 8}.${i & 255}`],
  }));
}

async function dnsUpdate(target: Target, zone: string, changes: readonly RrsetChange[]): Promise<void> {
  const lines = [`server 127.0.0.1 ${target.dnsPort}`, `zone ${zone}`];
  for (const change of changes) {
    lines.push(`update delete ${change.name} ${change.type}`);
    for (const record of change.records)
      lines.push(`update add ${change.name} ${change.ttl} ${change.type} ${record}`);
  }
  lines.push('send', '');
  await runProgram(requireProgram('nsupdate', 'bind9-dnsutils'), ['-v', '-t', '600'], {
    input: lines.join('\n'),
    timeoutMs: 900_000,
    mustSucceed: true,
  });
}

export async function measureOption(
  target: Target,
  option: DnssecOption,
  names: number,
  rounds: number,
  batchSize: number,
): Promise<OptionResult> {
  const zone = `${option}-${names}.bench`;
  await target.dns.createZone({
    name: zone,
    kind: 'Native',
    nameservers: [`ns1.${zone}`],
    soa: { ttl: 300, content: `ns1.${zone}. hostmaster.${zone}. 1 10800 3600 604800 60` },
  });
  // Seeded unsigned (one PATCH per 5,000 names), then signed with one rectify.
  for (let start = 0; start < names; start += 5000) {
    const changes: RrsetChange[] = [];
    for (let i = start; i < Math.min(start + 5000, names); i++)
      changes.push({ name: `h${i}.${zone}`, type: 'A', ttl: 60, records: ['10.255.0.1'] });
    await target.dns.patchZone(zone, changes);
  }
  if (option !== 'unsigned') {
    // nsec3-kept: API-RECTIFY as MyDNS sets it; the triggers turn it off for each PATCH that needs none.
    const settings: Record<string, unknown> = { dnssec: true, nsec3param: '1 0 0 -', api_rectify: true };
    if (option === 'nsec-api-rectify') settings.nsec3param = '';
    if (option === 'nsec3-narrow') settings.nsec3narrow = true;
    await api(target, 'PUT', `${zone}.`, settings);
    await api(target, 'PUT', `${zone}./rectify`);
    if (option !== 'nsec3-api-rectify' && option !== 'nsec-api-rectify' && option !== 'nsec3-kept')
      await api(target, 'PUT', `${zone}.`, { api_rectify: false });
    if (option === 'nsec3-dns-update') {
      await target.dns.setMetadata(zone, 'SOA-EDIT-DNSUPDATE', ['INCREASE']);
    }
  }
  const write = async (changes: RrsetChange[]) => {
    if (option === 'nsec3-dns-update') await dnsUpdate(target, zone, changes);
    else {
      await target.dns.patchZone(zone, changes);
      if (option === 'nsec3-rectify-put') await api(target, 'PUT', `${zone}./rectify`);
    }
  };
  const times: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const changes = batch(zone, round, batchSize, names);
    const started = performance.now();
    await write(changes);
    times.push(performance.now() - started);
  }
  // Untimed: a batch that mixes address changes with a name the zone never had.
  const last = batch(zone, rounds + 1, batchSize, names);
  const added = `new.${zone}`;
  await write([...last, { name: added, type: 'A', ttl: 60, records: ['10.254.0.1'] }]);
  let nodataValid: boolean | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mydns-bench-dnssec-'));
  try {
    if (option !== 'unsigned') {
      const anchor = await writeTrustAnchor(target.dns, zone, dir);
      nodataValid = true;
      for (const name of [last[last.length - 1]?.name ?? `h0.${zone}`, added]) {
        const answer = await delv(target.dnsPort, anchor, zone, name, 'AAAA');
        nodataValid &&= answer.validated && answer.negative === 'nxrrset';
      }
    }
    // Whether PowerDNS transfers the zone at all (it refuses narrow zones) does not depend on
    // its size; a signed 100,000-name transfer takes minutes on a busy machine: the small zone only.
    let isAxfr: boolean | undefined;
    if (names <= 1000) {
      const axfr = await runProgram(
        requireProgram('dig', 'bind9-dnsutils'),
        ['@127.0.0.1', '-p', String(target.dnsPort), zone, 'AXFR', '+time=60'],
        { timeoutMs: 120_000 },
      );
      writeFileSync(join(dir, 'axfr'), axfr.stdout);
      isAxfr = !/Transfer failed/.test(axfr.stdout) && axfr.stdout.includes(`${zone}.`);
    }
    await target.dns.deleteZone(zone);
    return { option, names, batchMs: median(times), batchSize, nodataValid, axfr: isAxfr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
