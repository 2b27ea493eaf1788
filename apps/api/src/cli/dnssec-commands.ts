import { type CryptoKey, canonicalName, type PowerDnsClient } from '@mydns/powerdns';
import type { Logger } from '@mydns/runtime';
import type { Config } from '../config.ts';
import { UsageError } from './args.ts';
import { withPowerDns } from './resources.ts';

/**
 * `zone ds [<zone>]` and `zone secure <zone>` (README "DNSSEC"): what the
 * parent zone needs to publish, and the signing of a zone created unsigned
 * (before MYDNS_DNSSEC, or with it off). Both talk to PowerDNS only.
 */

/** DS digest types worth handing to a registrar: SHA-256 and SHA-384, not SHA-1 (RFC 8624 §3.3). */
const DS_DIGEST_TYPES = new Set(['2', '4']);

/** The DS and DNSKEY lines of the zone's key-signing keys, as a parent (or registrar) takes them. */
export function formatDelegationRecords(zone: string, keys: readonly CryptoKey[]): string[] {
  const owner = canonicalName(zone);
  const signing = keys.filter((key) => key.active && (key.keytype === 'ksk' || key.keytype === 'csk'));
  return [
    ...signing.flatMap((key) =>
      key.ds.filter((ds) => DS_DIGEST_TYPES.has(ds.split(' ')[2] ?? '')).map((ds) => `${owner} IN DS ${ds}`),
    ),
    ...signing.map((key) => `${owner} IN DNSKEY ${key.dnskey}`),
  ];
}

const normalise = (zone: string) => zone.toLowerCase().replace(/\.$/, '');

async function printDelegation(dns: PowerDnsClient, zone: string): Promise<boolean> {
  if (!(await dns.zoneExists(zone))) {
    console.log(`${zone}: PowerDNS has no such zone (\`npm start\` creates the zones of MYDNS_ZONES)`);
    return false;
  }
  if (!(await dns.zoneInfo(zone)).dnssec) {
    console.log(`${zone}: not signed; sign it with \`npm run cli -- zone secure ${zone}\``);
    return false;
  }
  for (const line of formatDelegationRecords(zone, await dns.cryptoKeys(zone))) console.log(line);
  return true;
}

export async function runDnssecCommand(
  command: 'ds' | 'secure',
  args: readonly string[],
  config: Config,
  logger: Logger,
): Promise<void> {
  if (command === 'ds' && args.length > 1) throw new UsageError('zone ds takes at most one zone');
  if (command === 'secure' && args.length !== 1) throw new UsageError('zone secure takes one zone');
  const zones = args.length > 0 ? args.map(normalise) : config.zones;
  await withPowerDns(config, logger, async (dns) => {
    if (command === 'ds') {
      let allSigned = true;
      for (const zone of zones) allSigned = (await printDelegation(dns, zone)) && allSigned;
      if (!allSigned) process.exitCode = 1;
      return;
    }
    const [zone = ''] = zones;
    if (!(await dns.zoneExists(zone))) {
      console.log(`${zone}: PowerDNS has no such zone`);
      process.exitCode = 1;
      return;
    }
    if ((await dns.zoneInfo(zone)).dnssec) {
      console.log(`${zone} is already signed; its records for the parent zone:`);
    } else {
      await dns.secureZone(zone);
      console.log(`${zone} is signed now (NSEC3 1 0 0 -); publish these at the parent zone:`);
    }
    await printDelegation(dns, zone);
  });
}
