import type { Logger } from '@mydns/runtime';
import { type PowerDnsClient, PowerDnsError } from './client.ts';

export interface ZoneSetup {
  zone: string;
  nameservers: readonly string[];
  /** The SOA's RNAME, as a domain name (hostmaster.<zone>). */
  hostmaster?: string;
  /**
   * Secondaries (ip or ip:port) to NOTIFY. With any, the zone is of kind
   * Master with them as ALSO-NOTIFY, and PowerDNS is a hidden primary.
   */
  secondaries?: readonly string[];
  /**
   * Sign the zone when this creates it (MYDNS_DNSSEC): NSEC3 `1 0 0 -`,
   * API-RECTIFY on (docs/dnssec.md). A zone that exists is left as it is,
   * signed or not: `npm run cli -- zone secure` signs one.
   */
  dnssec?: boolean;
}

/**
 * Creates the service zone when it is missing (docs/architecture.md, "What PowerDNS requires of us"): our own SOA with
 * TTL 300 and minimum 60 (PowerDNS's default minimum of 3600 would keep a new
 * name NXDOMAIN in resolvers for an hour), SOA-EDIT-API INCREASE (EPOCH repeats
 * within a second), NS from the settings, signed when `dnssec`. An existing
 * zone is left alone.
 */
export async function ensureZone(dns: PowerDnsClient, setup: ZoneSetup, logger: Logger): Promise<boolean> {
  const created = await createZoneIfMissing(dns, setup, logger);
  const secondaries = setup.secondaries ?? [];
  // The secondaries can change between starts: the kind and list follow the settings.
  const kind = secondaries.length > 0 ? 'Master' : 'Native';
  if ((await dns.zoneInfo(setup.zone)).kind !== kind) await dns.setZoneKind(setup.zone, kind);
  await dns.setMetadata(setup.zone, 'ALSO-NOTIFY', secondaries);
  return created;
}

async function createZoneIfMissing(dns: PowerDnsClient, setup: ZoneSetup, logger: Logger): Promise<boolean> {
  if (await dns.zoneExists(setup.zone)) return false;
  const primary = setup.nameservers[0] ?? `ns1.${setup.zone}`;
  const hostmaster = setup.hostmaster ?? `hostmaster.${setup.zone}`;
  try {
    await dns.createZone({
      name: setup.zone,
      kind: 'Native',
      nameservers: setup.nameservers,
      soa: { ttl: 300, content: `${primary}. ${hostmaster}. 1 10800 3600 604800 60` },
      dnssec: setup.dnssec ?? false,
    });
  } catch (error) {
    // Another replica (or a retried request) created it first: it exists, which is all we wanted.
    if (error instanceof PowerDnsError && error.httpStatus === 409) return false;
    throw error;
  }
  logger.info(`created zone ${setup.zone} in PowerDNS${setup.dnssec ? ' (signed, NSEC3)' : ''}`);
  return true;
}
