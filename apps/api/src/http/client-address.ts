import { type Cidr, cidrContains, type IpAddress, parseIpAddress } from '@mydns/domain';

/**
 * The caller's address: the TCP peer, unless the peer is a configured trusted
 * proxy; then the right-most X-Forwarded-For entry that is not itself a
 * trusted proxy (entries to its left are whatever the client claimed).
 */
export function resolveClientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trustedProxies: readonly Cidr[],
): IpAddress | undefined {
  const direct = peer === undefined ? undefined : parseIpAddress(peer);
  if (!direct) return undefined;
  const trusted = (address: IpAddress) => trustedProxies.some((cidr) => cidrContains(cidr, address));
  if (trustedProxies.length === 0 || !trusted(direct) || forwardedFor === undefined) return direct;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseIpAddress(hops[i] ?? '');
    if (!hop) return direct; // garbage in the chain: believe nothing beyond the proxy
    if (!trusted(hop)) return hop;
  }
  return direct;
}

/** Whether the TCP peer is one of the configured proxies (whose X-Forwarded-* headers count). */
export function isTrustedPeer(peer: string | undefined, trustedProxies: readonly Cidr[]): boolean {
  const direct = peer === undefined ? undefined : parseIpAddress(peer);
  return direct !== undefined && trustedProxies.some((cidr) => cidrContains(cidr, direct));
}
