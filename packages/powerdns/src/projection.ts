import type { HostDnsState } from '@mydns/domain';
import type { RrsetChange } from './client.ts';

/**
 * Postgres is the truth and PowerDNS its projection (docs/architecture.md): these
 * are all the rrsets a host owns, computed from its row alone, each one given
 * in full (empty means "remove"), so a PATCH of them is idempotent.
 *
 * - A/AAAA only while the host is active: a missing row (a deleted host), a
 *   dormant or a disabled host has no addresses in DNS.
 * - TXT at `_acme-challenge.<host>` while ACME values are unexpired, even for
 *   a dormant host (certificates are renewed by machines that may not update).
 * - MX towards the relay while mail forwarding is on and the host is active.
 */
export function hostRrsets(
  zone: string,
  name: string,
  state: HostDnsState | undefined,
  ttl: number,
): RrsetChange[] {
  const live = state?.status === 'active';
  const owner = `${name}.${zone}`;
  return [
    { name: owner, type: 'A', ttl, records: live && state.ipv4 ? [state.ipv4] : [] },
    { name: owner, type: 'AAAA', ttl, records: live && state.ipv6 ? [state.ipv6] : [] },
    {
      name: `_acme-challenge.${owner}`,
      type: 'TXT',
      ttl,
      records: state && state.status !== 'disabled' ? [...state.acme].sort() : [],
    },
    { name: owner, type: 'MX', ttl, records: live && state.mailEnabled ? [`10 ${name}.mx.${zone}.`] : [] },
  ];
}

/** The records of the zone itself that follow settings: the relay's names. */
export function zoneRrsets(zone: string, relayAddresses: readonly string[], ttl: number): RrsetChange[] {
  const v4 = relayAddresses.filter((address) => !address.includes(':'));
  const v6 = relayAddresses.filter((address) => address.includes(':'));
  return [`mx.${zone}`, `*.mx.${zone}`].flatMap((name) => [
    { name, type: 'A' as const, ttl, records: v4 },
    { name, type: 'AAAA' as const, ttl, records: v6 },
  ]);
}
