import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PowerDnsClient } from '@mydns/powerdns';
import { requireProgram, runProgram } from './programs.ts';

/**
 * DNSSEC as a validating resolver sees it: `delv` (bind9-dnsutils) with the
 * zone's own key-signing key as its only trust anchor (BIND 9 as an AXFR
 * secondary: ./bind.ts).
 */

/** A delv trust-anchor file for `zone`, from the DNSKEY of its active key-signing key. */
export async function writeTrustAnchor(dns: PowerDnsClient, zone: string, dir: string): Promise<string> {
  const keys = (await dns.cryptoKeys(zone)).filter(
    (key) => key.active && (key.keytype === 'ksk' || key.keytype === 'csk'),
  );
  if (keys.length === 0) throw new Error(`${zone} has no key-signing key: it is not signed`);
  const lines = keys.map((key) => {
    const [flags, protocol, algorithm, ...material] = key.dnskey.split(' ');
    return `  ${zone}. static-key ${flags} ${protocol} ${algorithm} "${material.join('')}";`;
  });
  const file = join(dir, `anchor-${zone}-${Date.now()}.conf`);
  writeFileSync(file, `trust-anchors {\n${lines.join('\n')}\n};\n`);
  return file;
}

export interface Validation {
  /** delv said `; fully validated` (for an answer or a negative one). */
  readonly validated: boolean;
  /** `nxdomain` or `nxrrset` (NODATA) for a negative answer. */
  readonly negative: 'nxdomain' | 'nxrrset' | undefined;
  /** The answer's records, without RRSIGs, as `<type> <data>`. */
  readonly records: readonly string[];
  readonly output: string;
}

/** Asks `port` for `name`/`type` through delv, validating from `anchor` alone. */
export async function delv(
  port: number,
  anchorFile: string,
  zone: string,
  name: string,
  type: string,
): Promise<Validation> {
  const program = requireProgram('delv', 'bind9-dnsutils');
  const result = await runProgram(
    program,
    ['@127.0.0.1', '-p', String(port), '-a', anchorFile, `+root=${zone}`, '+nottl', name, type],
    { timeoutMs: 20_000 },
  );
  const text = `${result.stdout}${result.stderr}`;
  const negative = /ncache nxdomain/.test(text)
    ? 'nxdomain'
    : /ncache nxrrset/.test(text)
      ? 'nxrrset'
      : undefined;
  const records = result.stdout
    .split('\n')
    .filter((line) => line && !line.startsWith(';'))
    .map((line) => line.split(/\s+/).slice(2))
    .filter((parts) => parts[0] !== 'RRSIG')
    .map((parts) => parts.join(' '));
  return {
    validated: /; (negative response, )?fully validated/.test(text),
    negative,
    records,
    output: result.output,
  };
}
