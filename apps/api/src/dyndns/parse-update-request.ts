import {
  type IpAddress,
  type IpFamily,
  type Ipv6Prefix,
  isPublicAddress,
  MAX_HOSTNAMES_PER_REQUEST,
  type NameResolution,
  normaliseName,
  parseIpAddress,
  parseIpv6Prefix,
  resolveHostName,
} from '@mydns/domain';
import { type DecodedQuery, decodeQuery, pick } from './query.ts';

/**
 * Turns what an update client sent into a typed request, following
 * docs/protocol.md rule by rule. Pure: no I/O, no framework.
 */

export type UpdateEndpoint = 'dyndns2' | 'simple';

export interface UpdateRequestInput {
  readonly endpoint: UpdateEndpoint;
  /** Raw query string (without `?`), and for POST the raw form body. */
  readonly query: string;
  readonly body?: string;
  readonly authorization: string | undefined;
  /** The caller's address: the TCP peer, or what a trusted proxy reported. */
  readonly client: IpAddress;
}

export interface ParseOptions {
  /** The zones served, the default zone first (bare labels mean it). */
  readonly zones: readonly string[];
  readonly allowPrivateAddresses: boolean;
}

export interface Credentials {
  /** Undefined when only a token was sent (the token names its host). */
  readonly username: string | undefined;
  readonly secret: string;
}

export interface RequestedHost {
  readonly name: string;
  readonly resolution: NameResolution;
}

export type FamilyPlan =
  | { readonly action: 'keep' }
  | { readonly action: 'set'; readonly address: string }
  | { readonly action: 'delete' }
  /** IPv6 only: `myipv6=<prefix>/<len>` moves the host's prefix (docs/protocol.md, "IPv6 prefixes"). */
  | { readonly action: 'prefix'; readonly prefix: Ipv6Prefix };

export type AddressPlan =
  | {
      readonly ok: true;
      readonly v4: FamilyPlan;
      readonly v6: FamilyPlan;
      /** `ip6lanprefix=` (Fritz!Box): the /64 the interface-identifier records take. */
      readonly lanPrefix?: Ipv6Prefix;
    }
  | { readonly ok: false; readonly reason: string };

export type ParsedUpdate =
  | { readonly kind: 'numhost' }
  | {
      readonly kind: 'update';
      readonly credentials: Credentials | undefined;
      readonly hosts: readonly RequestedHost[];
      readonly addresses: AddressPlan;
    };

const KEYS = {
  hostname: { dyndns2: ['hostname'], simple: ['hostname', 'host', 'domain', 'h'] },
  username: ['username', 'user'],
  secret: { dyndns2: ['password', 'pass', 'pwd'], simple: ['password', 'pass', 'pwd', 'p', 'token'] },
} as const;

/** `Authorization: Basic`, split on the first colon: passwords may contain `:` (inadyn; docs/protocol.md, "Credentials"). */
export function parseBasicAuthorization(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const match = /^\s*basic\s+([A-Za-z0-9+/=_-]*)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return { username: decoded, secret: '' };
  return { username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

function requestedNames(query: DecodedQuery, endpoint: UpdateEndpoint): string[] {
  const listed = pick(query, KEYS.hostname[endpoint]);
  // A bare key with a dot and no `=` is the hostname (old inadyn, DD-WRT).
  const text = listed?.trim() ? listed : query.bareKeys.find((key) => key.includes('.'));
  if (!text) return [];
  return text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function credentialsOf(
  input: UpdateRequestInput,
  query: DecodedQuery,
  names: readonly string[],
): Credentials | undefined {
  const basic = parseBasicAuthorization(input.authorization);
  if (basic) return basic;
  const secret = pick(query, KEYS.secret[input.endpoint]);
  if (secret === undefined) return undefined;
  // No username: the (first) hostname names the account, as the simple URL does;
  // with neither, the secret must be an update token, which names its host.
  const username = pick(query, KEYS.username) || names[0];
  return { username, secret };
}

const FAMILY_PARAMS: readonly { key: string; families: readonly IpFamily[]; emptyDeletes: boolean }[] = [
  { key: 'myip', families: [4, 6], emptyDeletes: false },
  { key: 'ip', families: [4, 6], emptyDeletes: false },
  { key: 'myipv4', families: [4], emptyDeletes: true },
  { key: 'myipv6', families: [6], emptyDeletes: true },
  { key: 'myip6', families: [6], emptyDeletes: true },
  { key: 'ipv6', families: [6], emptyDeletes: true },
];

const YES = new Set(['yes', 'true', 'on', '1']);

type Slot =
  | { kind: 'set'; address: IpAddress }
  | { kind: 'prefix'; prefix: Ipv6Prefix; network: IpAddress }
  | { kind: 'delete' }
  | { kind: 'keep' }
  | undefined;

/**
 * A v6 value with a length: a prefix when the length is 48–64 (host bits
 * ignored), an address as before for /128; any other length is refused
 * (docs/protocol.md, "IPv6 prefixes").
 */
function prefixSlot(item: string): { slot: Slot } | { reason: string } | undefined {
  if (!item.includes(':') || !item.includes('/')) return undefined;
  const parsed = parseIpv6Prefix(item);
  if (parsed === undefined) return undefined;
  if (!parsed.ok) return /\/128\s*$/.test(item) ? undefined : { reason: parsed.reason };
  const network = parseIpAddress(parsed.prefix.text);
  return network
    ? { slot: { kind: 'prefix', prefix: parsed.prefix, network } }
    : { reason: `"${item.trim()}" is not an IPv6 prefix` };
}

/** `ip6lanprefix=<prefix>/<len>` (a bare address counts as its /64). */
function parseLanPrefix(raw: string | undefined): { prefix?: Ipv6Prefix } | { reason: string } {
  const value = raw?.trim() ?? '';
  if (value === '') return {};
  const parsed = parseIpv6Prefix(value.includes('/') ? value : `${value}/64`);
  if (parsed?.ok) return { prefix: parsed.prefix };
  return { reason: value.includes('/') && parsed ? parsed.reason : `"${value}" is not an IPv6 prefix` };
}

/**
 * The address rules: explicit addresses in any spelling; a family the request
 * does not mention is kept; explicit-empty `myipv4=`/`myipv6=` or `offline=YES`
 * withdraw; `preserve` keeps; nothing at all means the caller's own address;
 * non-public addresses are LAN mistakes replaced by the caller's address
 * unless the operator allows them.
 */
export function planAddresses(query: DecodedQuery, client: IpAddress, options: ParseOptions): AddressPlan {
  const slots: Record<IpFamily, Slot> = { 4: undefined, 6: undefined };
  const claim = (family: IpFamily, slot: NonNullable<Slot>): string | undefined => {
    const current = slots[family];
    if (current === undefined || (current.kind === 'keep' && slot.kind === 'keep')) {
      slots[family] = slot;
      return undefined;
    }
    if (current.kind === 'set' && slot.kind === 'set' && current.address.text === slot.address.text)
      return undefined;
    if (current.kind === 'prefix' && slot.kind === 'prefix' && current.prefix.text === slot.prefix.text)
      return undefined;
    return `conflicting values for the IPv${family} address`;
  };

  for (const param of FAMILY_PARAMS) {
    const raw = query.values.get(param.key);
    if (raw === undefined) continue;
    const value = raw.trim();
    if (value === '') {
      if (!param.emptyDeletes) continue;
      for (const family of param.families) {
        const problem = claim(family, { kind: 'delete' });
        if (problem) return { ok: false, reason: problem };
      }
      continue;
    }
    if (value.toLowerCase() === 'preserve') {
      for (const family of param.families) {
        const problem = claim(family, { kind: 'keep' });
        if (problem) return { ok: false, reason: problem };
      }
      continue;
    }
    for (const item of value.split(',')) {
      if (item.trim() === '') continue;
      const prefix = param.families.includes(6) ? prefixSlot(item) : undefined;
      if (prefix && 'reason' in prefix) return { ok: false, reason: prefix.reason };
      if (prefix?.slot) {
        const problem = claim(6, prefix.slot);
        if (problem) return { ok: false, reason: problem };
        continue;
      }
      const address = parseIpAddress(item);
      if (!address) return { ok: false, reason: `"${item.trim()}" is not an IP address` };
      if (!param.families.includes(address.family)) {
        return { ok: false, reason: `${param.key} does not take an IPv${address.family} address` };
      }
      const problem = claim(address.family, { kind: 'set', address });
      if (problem) return { ok: false, reason: problem };
    }
  }

  if (YES.has((query.values.get('offline') ?? '').trim().toLowerCase())) {
    return { ok: true, v4: { action: 'delete' }, v6: { action: 'delete' } };
  }

  const acceptable = (address: IpAddress) => options.allowPrivateAddresses || isPublicAddress(address);
  const clientUsable = acceptable(client);
  const lan = parseLanPrefix(query.values.get('ip6lanprefix'));
  if ('reason' in lan) return { ok: false, reason: lan.reason };
  const lanNetwork = lan.prefix && parseIpAddress(lan.prefix.text);
  // A LAN prefix that is not public (a ULA) is a mistake like a LAN address: ignored.
  const lanPrefix = lanNetwork && acceptable(lanNetwork) ? lan.prefix : undefined;
  const slotAddress = (slot: Slot) =>
    slot?.kind === 'set' ? slot.address : slot?.kind === 'prefix' ? slot.network : undefined;

  if (slots[4] === undefined && slots[6] === undefined) {
    // Missing or empty myip: the address the request came from.
    if (!clientUsable)
      return { ok: false, reason: `no public address: the request came from ${client.text}` };
    slots[client.family] = { kind: 'set', address: client };
  } else {
    let dropped = false;
    for (const family of [4, 6] as const) {
      const slot = slots[family];
      const address = slotAddress(slot);
      if (address === undefined || acceptable(address)) continue;
      dropped = true;
      // A LAN address is ignored: that family is kept unless the caller's own address replaces it.
      slots[family] = clientUsable && client.family === family ? { kind: 'set', address: client } : undefined;
    }
    if (dropped && slotAddress(slots[4]) === undefined && slotAddress(slots[6]) === undefined) {
      // Nothing usable was sent: as with a missing myip, the caller's address (of its own family).
      if (!clientUsable || slots[client.family] !== undefined) {
        return {
          ok: false,
          reason: `no public address: the addresses sent are private and the request came from ${client.text}`,
        };
      }
      slots[client.family] = { kind: 'set', address: client };
    }
  }

  const plan = (slot: Slot): FamilyPlan => {
    if (slot?.kind === 'set') return { action: 'set', address: slot.address.text };
    if (slot?.kind === 'prefix') return { action: 'prefix', prefix: slot.prefix };
    if (slot?.kind === 'delete') return { action: 'delete' };
    return { action: 'keep' };
  };
  return {
    ok: true,
    v4: plan(slots[4]),
    v6: plan(slots[6]),
    ...(lanPrefix === undefined ? {} : { lanPrefix }),
  };
}

export function parseUpdateRequest(input: UpdateRequestInput, options: ParseOptions): ParsedUpdate {
  const query = decodeQuery(input.query, input.body ?? '');
  const names = requestedNames(query, input.endpoint);
  if (names.length > MAX_HOSTNAMES_PER_REQUEST) return { kind: 'numhost' };
  const credentials = credentialsOf(input, query, names);
  // No hostname: the host the credential names (a Fritz!Box with a bare update URL sends none).
  const hostNames = names.length > 0 ? names : credentials?.username ? [credentials.username] : [];
  return {
    kind: 'update',
    credentials,
    hosts: hostNames.map((name) => ({
      name: normaliseName(name),
      resolution: resolveHostName(name, options.zones),
    })),
    addresses: planAddresses(query, input.client, options),
  };
}
