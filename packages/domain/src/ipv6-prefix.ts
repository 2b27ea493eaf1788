/**
 * IPv6 prefixes for LAN devices (docs/protocol.md, "IPv6 prefix updates"). Pure.
 *
 * A host keeps the /64 its interface-identifier records live in (`ipv6Prefix`,
 * `2001:db8:1:2::/64`), or, when none was sent, the /64 of its own AAAA. A
 * prefix update (`myipv6=<prefix>/<len>`, 48 ≤ len ≤ 64, host bits ignored)
 * moves the first `len` bits of both the host's AAAA and that /64; the bits
 * after `len` stay what they were (deSEC's `myipv6=…/56` keeps the host bits).
 */
import { formatIPv6, parseIpAddress } from './ip-address.ts';

export const MIN_PREFIX_LENGTH = 48;
export const MAX_PREFIX_LENGTH = 64;

export interface Ipv6Prefix {
  /** The network, host bits zeroed, and its length: `2001:db8:1200::/56`. */
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly length: number;
}

/** Keeps the first `length` bits of `bytes`, zeroes the rest. */
function masked(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(16);
  const full = Math.floor(length / 8);
  for (let i = 0; i < full; i++) out[i] = bytes[i] ?? 0;
  const rest = length % 8;
  if (rest > 0) out[full] = (bytes[full] ?? 0) & ((0xff << (8 - rest)) & 0xff);
  return out;
}

/** The first `length` bits of `high`, the rest of `low`. */
export function combineBits(high: Uint8Array, length: number, low: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let bit = 0; bit < 128; bit += 8) {
    const i = bit / 8;
    const take = Math.max(0, Math.min(8, length - bit));
    const mask = (0xff << (8 - take)) & 0xff;
    out[i] = ((high[i] ?? 0) & mask) | ((low[i] ?? 0) & ~mask & 0xff);
  }
  return out;
}

/** RFC 5952 text of 16 bytes (never turned into IPv4, as `parseIpAddress` does with `::ffff:…`). */
const v6 = (bytes: Uint8Array) => ({ text: formatIPv6(bytes) });

function prefixOf(bytes: Uint8Array, length: number): Ipv6Prefix {
  const network = masked(bytes, length);
  return { text: `${v6(network).text}/${length}`, bytes: network, length };
}

export type PrefixParse =
  | { readonly ok: true; readonly prefix: Ipv6Prefix }
  | { readonly ok: false; readonly reason: string };

/**
 * `2001:db8:1:2::/64`, `[2001:db8::]/56`, `2001:db8:1:2::1/64` (host bits
 * ignored). Undefined when the text has no `/len` (it is an address, not a prefix).
 */
export function parseIpv6Prefix(input: string): PrefixParse | undefined {
  let text = input.trim();
  const bracketed = /^\[([^\]]*)\](\/.*)?$/.exec(text);
  if (bracketed) text = `${bracketed[1] ?? ''}${bracketed[2] ?? ''}`;
  const slash = text.indexOf('/');
  if (slash === -1) return undefined;
  const address = parseIpAddress(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (address?.family !== 6 || !/^[0-9]{1,3}$/.test(lengthText)) {
    return { ok: false, reason: `"${input.trim()}" is not an IPv6 prefix` };
  }
  const length = Number(lengthText);
  if (length < MIN_PREFIX_LENGTH || length > MAX_PREFIX_LENGTH) {
    return {
      ok: false,
      reason: `a prefix must be /${MIN_PREFIX_LENGTH} to /${MAX_PREFIX_LENGTH}; "${input.trim()}" is /${length}`,
    };
  }
  return { ok: true, prefix: prefixOf(address.bytes, length) };
}

/** The /64 the host's interface-identifier records live in: its own, or its AAAA's; undefined for neither. */
export function effectivePrefix64(ipv6: string | null, ipv6Prefix: string | null): string | undefined {
  if (ipv6Prefix) return ipv6Prefix;
  const address = ipv6 ? parseIpAddress(ipv6) : undefined;
  return address?.family === 6 ? prefixOf(address.bytes, 64).text : undefined;
}

/** The bytes of a stored /64 (`2001:db8:1:2::/64`). */
function prefixBytes(prefix: string): Uint8Array | undefined {
  const address = parseIpAddress(prefix.split('/')[0] ?? '');
  return address?.family === 6 ? address.bytes : undefined;
}

/**
 * A prefix update: the host's AAAA keeps its bits after `len` on the new
 * prefix (none when it has no AAAA), and so does the /64 of its identifier
 * records (its subnet bits between `len` and 64; zero when it had none).
 */
export function movePrefix(
  current: { readonly ipv6: string | null; readonly ipv6Prefix: string | null },
  prefix: Ipv6Prefix,
): { ipv6: string | null; ipv6Prefix: string } {
  const own = current.ipv6 ? parseIpAddress(current.ipv6) : undefined;
  const ipv6 = own?.family === 6 ? v6(combineBits(prefix.bytes, prefix.length, own.bytes)).text : null;
  return { ipv6, ipv6Prefix: lanPrefix(current, prefix) };
}

/** The /64 of the identifier records when `prefix` is the LAN's (Fritz!Box `ip6lanprefix`). */
export function lanPrefix(
  current: { readonly ipv6: string | null; readonly ipv6Prefix: string | null },
  prefix: Ipv6Prefix,
): string {
  const before = effectivePrefix64(current.ipv6, current.ipv6Prefix);
  const old = before ? (prefixBytes(before) ?? new Uint8Array(16)) : new Uint8Array(16);
  return prefixOf(combineBits(prefix.bytes, prefix.length, old), 64).text;
}

/**
 * An interface identifier, as an owner's AAAA content: `::<low 64 bits>`
 * (`::211:22ff:fe33:4455`), the upper 64 bits zero and the lower not.
 */
export function isInterfaceIdentifier(content: string): boolean {
  if (!content.startsWith('::')) return false;
  const address = parseIpAddress(content);
  if (address?.family !== 6) return false;
  const upperZero = address.bytes.slice(0, 8).every((byte) => byte === 0);
  const lowerZero = address.bytes.slice(8).every((byte) => byte === 0);
  return upperZero && !lowerZero;
}

/** The host's /64 with an identifier's low 64 bits: the address of a LAN device. */
export function addressOnPrefix(prefix64: string, identifier: string): string | undefined {
  const high = prefixBytes(prefix64);
  const low = parseIpAddress(identifier);
  if (!high || low?.family !== 6) return undefined;
  return v6(combineBits(high, 64, low.bytes)).text;
}

/** What an update does to a host's IPv6: keep it, set it (null: withdraw), or move its prefix. */
export type Ipv6Step =
  | { readonly kind: 'keep' }
  | { readonly kind: 'set'; readonly address: string | null }
  | { readonly kind: 'prefix'; readonly prefix: Ipv6Prefix };

/**
 * The host's AAAA and identifier /64 after an update (docs/protocol.md,
 * "IPv6 prefixes"). A new address (or none) without a LAN prefix drops the
 * stored /64: the identifier records follow the new address's own /64.
 * `lan` (Fritz!Box `ip6lanprefix`) sets the /64 the identifier records take.
 */
export function nextIpv6(
  current: { readonly ipv6: string | null; readonly ipv6Prefix: string | null },
  step: Ipv6Step,
  lan?: Ipv6Prefix,
): { ipv6: string | null; ipv6Prefix: string | null } {
  let next: { ipv6: string | null; ipv6Prefix: string | null };
  if (step.kind === 'prefix') next = movePrefix(current, step.prefix);
  else if (step.kind === 'set') next = { ipv6: step.address, ipv6Prefix: null };
  else next = { ipv6: current.ipv6, ipv6Prefix: current.ipv6Prefix };
  if (lan !== undefined) next = { ...next, ipv6Prefix: lanPrefix(current, lan) };
  // The /64 of the AAAA itself is what "no stored /64" means: stored once, not twice
  // (so `myipv6=<the AAAA>/64` is a nochg, as when the length was only stripped).
  if (next.ipv6Prefix !== null && next.ipv6Prefix === effectivePrefix64(next.ipv6, null))
    next = { ...next, ipv6Prefix: null };
  return next;
}
