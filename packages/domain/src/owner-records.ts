/**
 * Records a host's owner sets beyond the host's address (docs/interfaces.md,
 * "Records beyond the host's address"). Pure: the rules a record set must
 * keep, each refusal naming the record, so a bad set changes nothing.
 */
import { parseIpAddress } from './ip-address.ts';

export const OWNER_RECORD_TYPES = ['A', 'AAAA', 'CAA', 'CNAME', 'MX', 'SRV', 'TXT'] as const;
export type OwnerRecordType = (typeof OWNER_RECORD_TYPES)[number];

export const MAX_OWNER_RECORDS = 50;
export const MAX_TXT_LENGTH = 2048;
export const MIN_RECORD_TTL = 60;
export const MAX_RECORD_TTL = 86_400;
/** `_acme-challenge.<host>` belongs to the ACME endpoint (its values expire on their own). */
export const ACME_SUBNAME = '_acme-challenge';

export interface OwnerRecord {
  /** Relative to the host: `""` is the host itself, `www`, `_sip._udp`. */
  readonly subname: string;
  readonly type: OwnerRecordType;
  /**
   * Canonical content: TXT as plain text (quoted and split by the projection),
   * names absolute with a trailing dot, A `@` for the host's IPv4, AAAA
   * `::<identifier>` on the host's prefix.
   */
  readonly content: string;
  readonly ttl: number;
}

export type RecordSetCheck =
  | { readonly ok: true; readonly records: readonly OwnerRecord[] }
  | { readonly ok: false; readonly index: number; readonly message: string };

/** A label below the host: letters, digits, hyphens, and underscores (`_sip`, `_dmarc`). */
const SUB_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const TARGET_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const UINT16 = /^(?:0|[1-9][0-9]{0,4})$/;

const inUint16 = (text: string) => UINT16.test(text) && Number(text) <= 65_535;

/** A target name, absolute (`mail.example.org.`); `.` only where `allowRoot` (RFC 7505 null MX, RFC 2782 "no service"). */
function target(text: string, allowRoot: boolean): string | undefined {
  const name = text.trim().toLowerCase();
  if (name === '.') return allowRoot ? '.' : undefined;
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare.length === 0 || bare.length > 253) return undefined;
  return bare.split('.').every((label) => TARGET_LABEL.test(label)) ? `${bare}.` : undefined;
}

type Content = { ok: true; content: string } | { ok: false; message: string };
const bad = (message: string) => ({ ok: false, message }) as const;

function checkContent(type: OwnerRecordType, raw: string): Content {
  const text = raw.trim();
  switch (type) {
    case 'A': {
      if (text === '@') return { ok: true, content: '@' };
      const address = parseIpAddress(text);
      if (address?.family !== 4 || text.includes('/'))
        return bad('an IPv4 address, or @ for the host’s own IPv4 address');
      return { ok: true, content: address.text };
    }
    case 'AAAA': {
      const address = parseIpAddress(text);
      if (address?.family !== 6 || text.includes('/'))
        return bad('an IPv6 address, or an interface identifier such as ::211:22ff:fe33:4455');
      // `::<low 64 bits>` (isInterfaceIdentifier) follows the host's prefix; anything else stands as it is.
      return { ok: true, content: address.text };
    }
    case 'TXT': {
      if (raw.length === 0 || raw.length > MAX_TXT_LENGTH)
        return bad(`text of 1 to ${MAX_TXT_LENGTH} characters`);
      // Printable ASCII: what every resolver and client shows as it was written.
      if (!/^[\x20-\x7e]+$/.test(raw)) return bad('printable ASCII characters only');
      return { ok: true, content: raw };
    }
    case 'MX': {
      const [preference, exchange, ...rest] = text.split(/\s+/);
      const name = exchange === undefined ? undefined : target(exchange, true);
      if (rest.length > 0 || preference === undefined || !inUint16(preference) || !name)
        return bad('a preference and a mail server: 10 mail.example.org.');
      return { ok: true, content: `${Number(preference)} ${name}` };
    }
    case 'SRV': {
      const [priority, weight, port, host, ...rest] = text.split(/\s+/);
      const name = host === undefined ? undefined : target(host, true);
      const numbers = [priority, weight, port];
      if (rest.length > 0 || !name || !numbers.every((n) => n !== undefined && inUint16(n)))
        return bad('priority, weight, port and target: 10 5 5060 sip.example.org.');
      return { ok: true, content: `${numbers.map(Number).join(' ')} ${name}` };
    }
    case 'CAA': {
      const match = /^([0-9]{1,3})\s+([a-zA-Z0-9]{1,15})\s+(?:"([^"\\]*)"|([^\s"\\]+))$/.exec(text);
      const flags = Number(match?.[1]);
      const value = match?.[3] ?? match?.[4];
      if (!match || flags > 255 || value === undefined || !/^[\x20-\x7e]*$/.test(value))
        return bad('flags, tag and value: 0 issue "letsencrypt.org"');
      return { ok: true, content: `${flags} ${(match[2] ?? '').toLowerCase()} "${value}"` };
    }
    case 'CNAME': {
      const name = target(text, false);
      if (!name) return bad('a hostname: target.example.org.');
      return { ok: true, content: name };
    }
  }
}

function checkSubname(
  raw: unknown,
  hostname: string,
): { ok: true; subname: string } | { ok: false; message: string } {
  if (typeof raw !== 'string') return bad('subname must be text ("" for the host itself)');
  const subname = raw.trim().toLowerCase().replace(/\.$/, '');
  if (subname === '') return { ok: true, subname };
  const labels = subname.split('.');
  if (labels.includes('*'))
    return bad('a wildcard is a setting of the host ({"wildcard":true}), not a record');
  if (!labels.every((label) => SUB_LABEL.test(label)))
    return bad('subname: labels of letters, digits, hyphens and underscores');
  if (subname.length + 1 + hostname.length > 253) return bad('the full name is longer than 253 characters');
  if (labels[labels.length - 1] === ACME_SUBNAME)
    return bad(`${ACME_SUBNAME} is the ACME endpoint’s (POST /api/v1/hosts/{name}/acme-challenge)`);
  return { ok: true, subname };
}

/** How a record is named in a refusal: `records[3] (TXT www)`. */
function describe(index: number, item: Record<string, unknown>): string {
  const type = typeof item.type === 'string' ? item.type.toUpperCase() : '?';
  const subname = typeof item.subname === 'string' && item.subname !== '' ? ` ${item.subname}` : ' @';
  return `records[${index}] (${type}${subname})`;
}

/**
 * The whole set a PUT replaces the host's records with, or the first record
 * that breaks a rule. `hostname` is the host's full name; `defaultTtl` is
 * used where a record gives none.
 */
export function checkOwnerRecords(
  input: unknown,
  options: { readonly hostname: string; readonly defaultTtl: number },
): RecordSetCheck {
  if (!Array.isArray(input))
    return { ok: false, index: -1, message: 'records must be a list: {"records":[…]}' };
  if (input.length > MAX_OWNER_RECORDS) {
    return {
      ok: false,
      index: MAX_OWNER_RECORDS,
      message: `at most ${MAX_OWNER_RECORDS} records per host; ${input.length} were sent`,
    };
  }
  const records: OwnerRecord[] = [];
  const refuse = (index: number, item: Record<string, unknown>, message: string): RecordSetCheck => ({
    ok: false,
    index,
    message: `${describe(index, item)}: ${message}`,
  });
  for (const [index, value] of input.entries()) {
    const item: Record<string, unknown> =
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : {};
    if (item !== value) return refuse(index, item, 'each record is {"subname","type","content","ttl"}');
    const unknown = Object.keys(item).filter((key) => !['subname', 'type', 'content', 'ttl'].includes(key));
    if (unknown.length > 0) return refuse(index, item, `unknown fields: ${unknown.join(', ')}`);
    const type = typeof item.type === 'string' ? item.type.toUpperCase() : '';
    if (!(OWNER_RECORD_TYPES as readonly string[]).includes(type))
      return refuse(index, item, `type must be one of ${OWNER_RECORD_TYPES.join(', ')}`);
    const subname = checkSubname(item.subname ?? '', options.hostname);
    if (!subname.ok) return refuse(index, item, subname.message);
    if (typeof item.content !== 'string') return refuse(index, item, 'content must be text');
    const content = checkContent(type as OwnerRecordType, item.content);
    if (!content.ok) return refuse(index, item, content.message);
    const ttl = item.ttl ?? options.defaultTtl;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < MIN_RECORD_TTL || ttl > MAX_RECORD_TTL)
      return refuse(
        index,
        item,
        `ttl must be a whole number of seconds, ${MIN_RECORD_TTL} to ${MAX_RECORD_TTL}`,
      );
    const record: OwnerRecord = {
      subname: subname.subname,
      type: type as OwnerRecordType,
      content: content.content,
      ttl,
    };
    const problem = conflict(record, records);
    if (problem) return refuse(index, item, problem);
    records.push(record);
  }
  return { ok: true, records };
}

/** The rules between records: what DNS (or the host's own records) forbids beside this one. */
function conflict(record: OwnerRecord, earlier: readonly OwnerRecord[]): string | undefined {
  if (record.subname === '' && (record.type === 'A' || record.type === 'AAAA'))
    return 'the host’s own address is set by its updates; A and AAAA records go at a subname';
  if (record.subname === '' && record.type === 'CNAME')
    return 'a CNAME only at a subname (the host’s own name holds its address)';
  const here = earlier.filter((other) => other.subname === record.subname);
  if (record.type === 'CNAME' && here.length > 0)
    return `a CNAME must be alone at its name; ${record.subname} has other records`;
  if (here.some((other) => other.type === 'CNAME'))
    return `${record.subname} has a CNAME, which must be alone at its name`;
  const same = here.filter((other) => other.type === record.type);
  if (same.some((other) => other.content === record.content)) return 'the same record twice';
  if (same.some((other) => other.ttl !== record.ttl))
    return `records of one name and type share one ttl (${same[0]?.ttl})`;
  return undefined;
}

/** Splits TXT text for DNS: quoted strings of at most 255 characters, quotes and backslashes escaped. */
export function txtContent(text: string): string {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += 255) parts.push(text.slice(i, i + 255));
  return parts.map((part) => `"${part.replace(/["\\]/g, '\\$&')}"`).join(' ');
}
