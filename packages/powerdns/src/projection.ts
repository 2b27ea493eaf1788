import {
  addressOnPrefix,
  effectivePrefix64,
  type HostDnsState,
  isInterfaceIdentifier,
  OWNER_RECORD_TYPES,
  type OwnerRecord,
  type OwnerRecordType,
  txtContent,
} from '@mydns/domain';
import type { RrsetChange } from './client.ts';

/**
 * Postgres is the truth and PowerDNS its projection (docs/architecture.md): these
 * are all the rrsets a host owns, computed from its row alone, each one given
 * in full (empty means "remove"), so a PATCH of them is idempotent.
 *
 * - A/AAAA only while the host is active: a missing row (a deleted host), a
 *   dormant or a disabled host has no addresses in DNS. So does `*.<host>`
 *   with the wildcard on.
 * - TXT at `_acme-challenge.<host>` while ACME values are unexpired, even for
 *   a dormant host (certificates are renewed by machines that may not update).
 * - MX towards the relay while mail forwarding is on and the host is active.
 * - The owner's records while the host is active (withdrawn and restored with
 *   its address): A `@` is the host's IPv4, AAAA `::<identifier>` sits on the
 *   host's /64 (its `ipv6Prefix`, or its AAAA's); an owner's MX at the host
 *   itself joins the relay's.
 * - `stale`: the owner's rrsets the host's rows held before (`TYPE:subname`,
 *   e.g. `CNAME:www`, `TXT:` for the host itself; a PUT replaced them, the
 *   host is gone or moved): those not wanted now are removed.
 *
 * Removals come first: PowerDNS applies a PATCH in order, sees its own
 * earlier entries, and refuses any REPLACE (an empty one too) of a CNAME
 * beside other data or of other data beside a CNAME (measured on 4.7). So
 * only rrsets that are there are removed, before anything is written: a name
 * that turns from A into CNAME loses its A first, and one that turns from
 * CNAME into A loses its CNAME first.
 */
export function hostRrsets(
  zone: string,
  name: string,
  state: HostDnsState | undefined,
  ttl: number,
  stale: readonly string[] = [],
): RrsetChange[] {
  const live = state?.status === 'active';
  const owner = `${name}.${zone}`;
  const own: RrsetChange[] = [
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
  const wildcard = live && state.wildcard === true;
  own.push(
    { name: `*.${owner}`, type: 'A', ttl, records: wildcard && state.ipv4 ? [state.ipv4] : [] },
    { name: `*.${owner}`, type: 'AAAA', ttl, records: wildcard && state.ipv6 ? [state.ipv6] : [] },
  );
  const byKey = new Map(own.map((rrset) => [`${rrset.name} ${rrset.type}`, rrset]));
  const records = state?.records ?? [];
  const prefix = state ? effectivePrefix64(state.ipv6, state.ipv6Prefix ?? null) : undefined;
  for (const record of records) {
    const at = record.subname === '' ? owner : `${record.subname}.${owner}`;
    const key = `${at} ${record.type}`;
    const content = live ? ownerContent(record, state, prefix) : undefined;
    const found = byKey.get(key);
    const contents = [...(found?.records ?? []), ...(content === undefined ? [] : [content])];
    byKey.set(key, {
      name: at,
      type: record.type,
      // The host's own rrset (the relay's MX) keeps the host's TTL.
      ttl: found && own.includes(found) ? found.ttl : record.ttl,
      records: [...new Set(contents)],
    });
  }
  for (const entry of stale) {
    const colon = entry.indexOf(':');
    const type = entry.slice(0, colon) as OwnerRecordType;
    const subname = entry.slice(colon + 1);
    if (colon === -1 || !OWNER_RECORD_TYPES.includes(type)) continue;
    const at = subname === '' ? owner : `${subname}.${owner}`;
    const key = `${at} ${type}`;
    if (!byKey.has(key)) byKey.set(key, { name: at, type, ttl, records: [] });
  }
  const all = [...byKey.values()];
  return [
    ...all.filter((rrset) => rrset.records.length === 0),
    ...all.filter((rrset) => rrset.records.length > 0),
  ];
}

/** One owner's record as DNS content; undefined when what it follows is absent (no IPv4, no prefix). */
function ownerContent(
  record: OwnerRecord,
  state: HostDnsState,
  prefix: string | undefined,
): string | undefined {
  if (record.type === 'A' && record.content === '@') return state.ipv4 ?? undefined;
  if (record.type === 'AAAA' && isInterfaceIdentifier(record.content))
    return prefix === undefined ? undefined : addressOnPrefix(prefix, record.content);
  if (record.type === 'TXT') return txtContent(record.content);
  return record.content;
}

/**
 * The records of the zone itself that follow settings: the relay's names, and
 * with the API's public addresses (MYDNS_API_ADDRESS) `update.<zone>` (both
 * families), `update4.<zone>` (A only) and `update6.<zone>` (AAAA only), so a
 * dual-stack client can update each family from its own TCP source.
 */
export function zoneRrsets(
  zone: string,
  relayAddresses: readonly string[],
  ttl: number,
  apiAddresses: readonly string[] = [],
): RrsetChange[] {
  const families = (addresses: readonly string[]) => ({
    v4: addresses.filter((address) => !address.includes(':')),
    v6: addresses.filter((address) => address.includes(':')),
  });
  const relay = families(relayAddresses);
  const api = families(apiAddresses);
  const pair = (name: string, v4: readonly string[], v6: readonly string[]): RrsetChange[] => [
    { name, type: 'A', ttl, records: v4 },
    { name, type: 'AAAA', ttl, records: v6 },
  ];
  return [
    ...[`mx.${zone}`, `*.mx.${zone}`].flatMap((name) => pair(name, relay.v4, relay.v6)),
    ...pair(`update.${zone}`, api.v4, api.v6),
    ...pair(`update4.${zone}`, api.v4, []),
    ...pair(`update6.${zone}`, [], api.v6),
  ];
}
