/**
 * IP address parsing, canonical spelling and classification. Pure: no sockets,
 * no DNS. Clients spell addresses in many ways (docs/protocol.md, "Addresses");
 * everything is canonicalised before it is compared or stored.
 */

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. */
  readonly text: string;
  /** 4 or 16 network-order bytes. */
  readonly bytes: Uint8Array;
}

function parseIPv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    // No leading zeros: "010" is octal to some parsers and decimal to others,
    // and PowerDNS rejects it (docs/architecture.md), so it is not guessed at.
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

function parseIPv6Bytes(text: string): Uint8Array | undefined {
  if (text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string | undefined): string[] | undefined =>
    half === undefined || half === '' ? [] : half.split(':');
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  if (!head || !tail) return undefined;
  const words: number[] = [];
  const pushGroups = (groups: string[], allowV4Tail: boolean): boolean => {
    for (const [i, group] of groups.entries()) {
      if (allowV4Tail && i === groups.length - 1 && group.includes('.')) {
        const v4 = parseIPv4Bytes(group);
        if (!v4) return false;
        words.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
      words.push(Number.parseInt(group, 16));
    }
    return true;
  };
  const compressed = halves.length === 2;
  if (!pushGroups(head, !compressed)) return undefined;
  const headCount = words.length;
  if (!pushGroups(tail, true)) return undefined;
  const tailWords = words.splice(headCount);
  if (compressed) {
    const missing = 8 - headCount - tailWords.length;
    if (missing < 1) return undefined;
    words.push(...new Array<number>(missing).fill(0));
  }
  words.push(...tailWords);
  if (words.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  for (const [i, word] of words.entries()) {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  }
  return bytes;
}

/** RFC 5952: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`, first one on a tie. */
export function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    words
      .slice(from, to)
      .map((w) => w.toString(16))
      .join(':');
  if (bestLength < 2) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

function fromBytes(bytes: Uint8Array): IpAddress {
  if (bytes.length === 4) return { family: 4, text: Array.from(bytes).join('.'), bytes };
  // `::ffff:1.2.3.4` is an IPv4 address in IPv6 clothing (dual-stack sockets, some clients).
  if (isV4Mapped(bytes)) return fromBytes(bytes.slice(12));
  return { family: 6, text: formatIPv6(bytes), bytes };
}

/**
 * Parses any spelling a client may send: dotted quad; IPv6 compressed, fully
 * zero-padded (OpenWrt), upper case, bracketed, with a `/len` suffix (Fritz!Box
 * `<ip6lanprefix>`), or IPv4-mapped (`::ffff:1.2.3.4` becomes IPv4).
 * Percent-decoding (inadyn's `2001%3adb8%3a%3a1`) is the query parser's job.
 * Returns undefined for anything else, including zone ids (`fe80::1%eth0`).
 */
export function parseIpAddress(input: string): IpAddress | undefined {
  let text = input.trim();
  // `[2001:db8::1]` and `[2001:db8::1]/64`: the brackets of a URL's host, with or without a length.
  const bracketed = /^\[([^\]]*)\](\/[^/]*)?$/.exec(text);
  if (bracketed) text = `${bracketed[1] ?? ''}${bracketed[2] ?? ''}`;
  const slash = text.indexOf('/');
  if (slash !== -1) {
    const length = text.slice(slash + 1);
    text = text.slice(0, slash);
    const max = text.includes(':') ? 128 : 32;
    if (!/^[0-9]{1,3}$/.test(length) || Number(length) > max) return undefined;
  }
  const bytes = text.includes(':') ? parseIPv6Bytes(text) : parseIPv4Bytes(text);
  return bytes ? fromBytes(bytes) : undefined;
}

interface Range {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

function range(cidr: string): Range {
  const [address, prefix] = cidr.split('/');
  const parsed = address === undefined ? undefined : (parseIPv4Bytes(address) ?? parseIPv6Bytes(address));
  if (!parsed || prefix === undefined) throw new Error(`bad built-in range ${cidr}`);
  return { bytes: parsed, prefix: Number(prefix) };
}

function inRange(bytes: Uint8Array, r: Range): boolean {
  if (bytes.length !== r.bytes.length) return false;
  const full = Math.floor(r.prefix / 8);
  for (let i = 0; i < full; i++) if (bytes[i] !== r.bytes[i]) return false;
  const rest = r.prefix % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[full] ?? 0) & mask) === ((r.bytes[full] ?? 0) & mask);
}

/**
 * Ranges that are never somebody's public address (RFC 6890 and its updates):
 * "this network", private, CGNAT, loopback, link-local, IETF protocol
 * assignments, documentation, benchmarking, 6to4 relay, multicast, reserved.
 */
const NON_PUBLIC_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map(range);

/** Global unicast is 2000::/3; inside it, these are not a host's public address. */
const GLOBAL_UNICAST_V6 = range('2000::/3');
const NON_PUBLIC_V6 = [
  '2001::/23', // IETF protocol assignments (Teredo, benchmarking 2001:2::/48, ORCHID …)
  '2001:db8::/32', // documentation
  '2002::/16', // 6to4: embeds an IPv4 address that may itself be private (RFC 7526 deprecates it)
  '3fff::/20', // documentation (RFC 9637)
].map(range);

/**
 * True when the address can be a caller's public address. Everything outside
 * 2000::/3 (::, ::1, fc00::/7, fe80::/10, ff00::/8, 64:ff9b::/96 …) is not.
 */
export function isPublicAddress(address: IpAddress): boolean {
  if (address.family === 4) return !NON_PUBLIC_V4.some((r) => inRange(address.bytes, r));
  if (!inRange(address.bytes, GLOBAL_UNICAST_V6)) return false;
  return !NON_PUBLIC_V6.some((r) => inRange(address.bytes, r));
}

export interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly text: string;
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a single address (a /32 or /128). */
export function parseCidr(input: string): Cidr | undefined {
  const [address, prefixText, extra] = input.trim().split('/');
  if (address === undefined || extra !== undefined) return undefined;
  const parsed = parseIpAddress(address);
  if (!parsed) return undefined;
  const max = parsed.family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { bytes: parsed.bytes, prefix, text: `${parsed.text}/${prefix}` };
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  return inRange(address.bytes, cidr);
}

/**
 * The key per-address limits count under: an IPv4 address itself, or the
 * IPv6 network of `v6PrefixLength` bits around it (`2001:db8:1:2::/64`). One
 * household or one server holds a whole /64 and can pick any address in it,
 * so counting IPv6 addresses one by one would make every limit meaningless.
 */
export function limitKey(address: IpAddress, v6PrefixLength: number): string {
  if (address.family === 4 || v6PrefixLength >= 128) return address.text;
  const bytes = new Uint8Array(16);
  const full = Math.floor(v6PrefixLength / 8);
  for (let i = 0; i < full; i++) bytes[i] = address.bytes[i] ?? 0;
  const rest = v6PrefixLength % 8;
  if (rest > 0) bytes[full] = (address.bytes[full] ?? 0) & ((0xff << (8 - rest)) & 0xff);
  return `${formatIPv6(bytes)}/${v6PrefixLength}`;
}
