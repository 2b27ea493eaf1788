import type { HostDnsState } from '@mydns/domain';
import type { RrsetChange } from './client.ts';

/**
 * Postgres is the truth and PowerDNS its projection (ARCHITECTURE.md): these
 * are the rrsets a host owns, computed from its row alone. A missing row (a
 * deleted host), a dormant or a disabled host owns no addresses.
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
  ];
}
