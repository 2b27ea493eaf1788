import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PowerDnsClient } from '@mydns/powerdns';
import { harness } from './harness.ts';
import { freePort } from './ports.ts';
import { requireProgram, runProgram, type StartedProgram, startProgram } from './programs.ts';
import { waitFor } from './wait.ts';

/**
 * DNSSEC as a validating resolver sees it: `delv` (bind9-dnsutils) with the
 * zone's own key-signing key as its only trust anchor, and BIND 9 as an AXFR
 * secondary of the test's PowerDNS.
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

export interface BindSecondary {
  readonly dnsPort: number;
  readonly pid: number;
  /** Stops named by its PID and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Debian's BIND 9 `named` as a secondary for `zone`, on a loopback port of
 * its own, transferring from 127.0.0.1:`primaryPort` and taking NOTIFY from it.
 */
export async function startBindSecondary(zone: string, primaryPort: number): Promise<BindSecondary> {
  const named = requireProgram('named', 'bind9');
  const dir = mkdtempSync(join(harness().workDir, 'bind-'));
  const dnsPort = await freePort();
  const conf = join(dir, 'named.conf');
  writeFileSync(
    conf,
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${dnsPort} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-notify { 127.0.0.1; };
};
controls { };
zone "${zone}" {
  type secondary;
  primaries port ${primaryPort} { 127.0.0.1; };
  file "${dir}/${zone}.db";
};
`,
  );
  const program: StartedProgram = startProgram(named, ['-g', '-n', '1', '-c', conf]);
  try {
    await waitFor(
      async () => {
        const probe = await runProgram(
          requireProgram('dig', 'bind9-dnsutils'),
          ['@127.0.0.1', '-p', String(dnsPort), '+short', '+time=1', '+tries=1', zone, 'SOA'],
          { timeoutMs: 5000 },
        );
        return probe.stdout.trim() !== '';
      },
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        message: () => `named to serve ${zone}\n${program.output()}`,
        giveUp: () => (program.hasExited() ? `named exited:\n${program.output()}` : undefined),
      },
    );
  } catch (error) {
    await program.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dnsPort,
    pid: program.pid,
    async stop() {
      await program.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
