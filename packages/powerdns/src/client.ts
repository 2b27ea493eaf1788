import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, errorMessage } from '@mydns/runtime';
import axios, { type AxiosInstance, isAxiosError } from 'axios';

/**
 * A small client for the PowerDNS Authoritative HTTP API. It uses only the 4.7
 * subset (docs/architecture.md, "What PowerDNS requires of us") so the same code drives Debian's 4.7 test binary and the
 * 4.9/5.x images operators run, and it canonicalises names and contents here,
 * not in callers.
 */

export type RecordType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'NS' | 'SOA' | 'CNAME' | 'SRV' | 'CAA';

export interface RrsetChange {
  readonly name: string;
  readonly type: RecordType;
  readonly ttl: number;
  /** The full content of the rrset; empty removes it. */
  readonly records: readonly string[];
}

export interface Rrset {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly records: readonly string[];
}

/** One record of a zone export: the owner (absolute), its type, TTL and content as the JSON API gives it. */
export interface ExportedRecord {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly content: string;
}

/**
 * A line of GET /zones/{zone}/export: `name<TAB>ttl<TAB>IN<TAB>type<TAB>content`
 * (the content is the same string as in the JSON API; a tab inside it would be escaped).
 */
export function parseExportLine(line: string): ExportedRecord | undefined {
  const fields = line.split('\t');
  if (fields.length < 5 || fields[2] !== 'IN') return undefined;
  const [name, ttl, , type] = fields as [string, string, string, string];
  return { name, type, ttl: Number(ttl), content: fields.slice(4).join('\t') };
}

export interface ZoneSpec {
  readonly name: string;
  readonly kind: 'Native' | 'Master' | 'Slave';
  readonly masters?: readonly string[];
  readonly nameservers: readonly string[];
  /** Our SOA; none for a Slave zone (it comes from the primary). */
  readonly soa?: { readonly content: string; readonly ttl: number };
  readonly rrsets?: readonly RrsetChange[];
  /**
   * Signed at creation: NSEC3 `1 0 0 -` (RFC 9276: no extra iterations, no
   * salt) and API-RECTIFY on, see `secureZone`.
   */
  readonly dnssec?: boolean;
}

/** NSEC3 with no extra iterations and no salt, as RFC 9276 asks (and deSEC does). */
export const NSEC3_PARAMETERS = '1 0 0 -';

/** A zone's signing key as the API shows it (GET …/cryptokeys). */
export interface CryptoKey {
  readonly id: number;
  /** `csk` (PowerDNS's default: one key), `ksk` or `zsk`. */
  readonly keytype: string;
  readonly active: boolean;
  /** `257 3 13 <base64>` for a key-signing key. */
  readonly dnskey: string;
  /** `<tag> <algorithm> <digest type> <digest>`, for the parent; only on KSKs and CSKs. */
  readonly ds: readonly string[];
}

/** Attempts of a call that PowerDNS answers with 500 (see `call`). */
const RETRIES_ON_500 = 4;
const EMPTY = Buffer.alloc(0);

export class PowerDnsError extends AppError {
  /** The HTTP status PowerDNS answered with; undefined when it did not answer. */
  readonly httpStatus: number | undefined;
  constructor(message: string, httpStatus: number | undefined, cause?: unknown) {
    super('powerdns_unavailable', message, { status: 503, cause });
    this.name = 'PowerDnsError';
    this.httpStatus = httpStatus;
  }
}

export interface PowerDnsOptions {
  apiUrl: string;
  apiKey: string;
  serverId?: string;
  timeoutMs?: number;
  /**
   * For the calls that write a zone (create, PATCH, secure, delete): in a signed zone
   * one that adds a name (or every one, on a PowerDNS database without MyDNS's
   * order-name triggers) rectifies the whole zone, seconds at 100,000 names
   * (docs/dnssec.md). A write cut short by the timeout is retried, which
   * cannot help one that needs longer: hence its own, longer bound.
   */
  writeTimeoutMs?: number;
  /** For the zone export, which PowerDNS builds whole before it answers (default 10 minutes). */
  exportTimeoutMs?: number;
}

/** Names must be absolute and lower-case for PowerDNS ("DNS Name … is not canonical", 422). */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** TXT content is stored quoted; quotes and backslashes inside are escaped. */
function canonicalContent(type: RecordType, content: string): string {
  if (type === 'TXT' && !content.startsWith('"')) return `"${content.replace(/["\\]/g, '\\$&')}"`;
  if (type === 'CNAME' || type === 'NS') return canonicalName(content);
  return content;
}

/**
 * The JSON of one rrset in a PATCH; no records is a DELETE. PowerDNS (4.7)
 * refuses a REPLACE beside a CNAME, or of a CNAME beside other data, even an
 * empty one of an rrset that is not there; a DELETE it takes in any case
 * (test/integration/records.test.ts, "racing PUTs"). The zone writer removes
 * every rrset a host's earlier sets may have left, and cannot know which are
 * there. Removals still come first (desec-stack#220, pdns#7501).
 */
export function patchEntry(change: RrsetChange) {
  return {
    name: canonicalName(change.name),
    type: change.type,
    ttl: change.ttl,
    changetype: change.records.length === 0 ? 'DELETE' : 'REPLACE',
    records: change.records.map((content) => ({
      content: canonicalContent(change.type, content),
      disabled: false,
    })),
  };
}

/** Zone ids in URLs: characters outside [A-Za-z0-9.-] become =XX (pdns ws-api.cc apiZoneNameToId). */
function zoneId(zone: string): string {
  return canonicalName(zone).replace(
    /[^A-Za-z0-9.-]/g,
    (c) => `=${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function describe(error: unknown): PowerDnsError {
  if (isAxiosError(error)) {
    const status = error.response?.status;
    const body = error.response?.data as { error?: unknown } | string | undefined;
    const detail =
      typeof body === 'object' && body && typeof body.error === 'string' ? body.error : undefined;
    // Never the request config: it carries the API key.
    const what = status === undefined ? `no answer (${error.code ?? error.message})` : `HTTP ${status}`;
    return new PowerDnsError(`PowerDNS API: ${what}${detail ? `: ${detail}` : ''}`, status);
  }
  return new PowerDnsError(`PowerDNS API: ${errorMessage(error)}`, undefined);
}

export interface PowerDnsClient {
  readonly apiUrl: string;
  serverInfo(): Promise<{ version: string }>;
  zoneExists(zone: string): Promise<boolean>;
  createZone(spec: ZoneSpec): Promise<void>;
  deleteZone(zone: string): Promise<void>;
  patchZone(zone: string, changes: readonly RrsetChange[]): Promise<void>;
  /** PATCH with prepared entries (the zone writer measures and chunks them first). */
  patchZoneEntries(zone: string, entries: readonly ReturnType<typeof patchEntry>[]): Promise<void>;
  listRrsets(zone: string, filter?: { name: string; type?: RecordType }): Promise<Rrset[]>;
  /**
   * Every record of the zone, one call each, read line by line from the zone
   * export as it arrives: a zone of a million records is never held whole here
   * (its JSON, parsed, would take about a gigabyte).
   */
  /** `between` is awaited between parts of the export (the reconciler paces itself there). */
  exportRecords(
    zone: string,
    onRecord: (record: ExportedRecord) => void,
    options?: { between?: () => Promise<void> },
  ): Promise<void>;
  notify(zone: string): Promise<void>;
  /** Zone kind (Native, Master) and masters (for a Slave zone on a secondary). */
  setZoneKind(zone: string, kind: 'Native' | 'Master' | 'Slave', masters?: readonly string[]): Promise<void>;
  /** Replaces one domain metadata kind (e.g. ALSO-NOTIFY) with these values. */
  setMetadata(zone: string, kind: string, values: readonly string[]): Promise<void>;
  zoneInfo(zone: string): Promise<{ kind: string; serial: number; dnssec: boolean }>;
  /**
   * Signs an existing zone (NSEC3 `1 0 0 -`) and sets API-RECTIFY, so that
   * a PATCH is rectified in its own transaction: PowerDNS gives the rows a
   * PATCH writes no NSEC3 order name, and without one the NXDOMAIN and NODATA
   * answers at those names do not validate. With MyDNS's triggers in
   * PowerDNS's database, only the PATCHes that add a name are (docs/dnssec.md).
   */
  secureZone(zone: string): Promise<void>;
  /** The zone's keys (none for an unsigned zone). */
  cryptoKeys(zone: string): Promise<CryptoKey[]>;
}

export function createPowerDnsClient(options: PowerDnsOptions): PowerDnsClient {
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  const http: AxiosInstance = axios.create({
    baseURL: `${apiUrl}/api/v1/servers/${encodeURIComponent(options.serverId ?? 'localhost')}`,
    timeout: options.timeoutMs ?? 10_000,
    // 404s are JSON only with this header (docs/architecture.md, "What PowerDNS requires of us").
    headers: { 'X-API-Key': options.apiKey, Accept: 'application/json' },
    // PowerDNS closes every connection itself; no keep-alive agent.
    maxBodyLength: Number.POSITIVE_INFINITY,
    maxContentLength: Number.POSITIVE_INFINITY,
    proxy: false,
  });
  const write = { timeout: options.writeTimeoutMs ?? 120_000 };
  const call = async <T>(request: () => Promise<{ data: T }>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await request()).data;
      } catch (error) {
        const described = describe(error);
        // gsqlite3 answers a write that meets another writer (another zone, the
        // reconciler, pdnsutil) with 500 "database is locked" (docs/architecture.md);
        // every call here is idempotent, so a short retry is safe.
        if (described.httpStatus !== 500 || attempt >= RETRIES_ON_500) throw described;
        await sleep(25 * 3 ** attempt + Math.random() * 25);
      }
    }
  };
  const patchZoneEntries = async (zone: string, entries: readonly ReturnType<typeof patchEntry>[]) => {
    if (entries.length === 0) return;
    await call(() => http.patch(`/zones/${zoneId(zone)}`, { rrsets: entries }, write));
  };
  return {
    apiUrl,
    async serverInfo() {
      const info = await call(() => http.get<{ version: string }>(''));
      return { version: info.version };
    },
    async zoneExists(zone) {
      const zones = await call(() =>
        http.get<unknown[]>('/zones', { params: { zone: canonicalName(zone), dnssec: false } }),
      );
      return zones.length > 0;
    },
    async createZone(spec) {
      const name = canonicalName(spec.name);
      await call(() =>
        http.post(
          '/zones',
          {
            name,
            kind: spec.kind,
            nameservers: spec.nameservers.map(canonicalName),
            soa_edit_api: 'INCREASE',
            ...(spec.dnssec ? { dnssec: true, nsec3param: NSEC3_PARAMETERS, api_rectify: true } : {}),
            ...(spec.masters ? { masters: spec.masters } : {}),
            rrsets: [
              ...(spec.soa
                ? [
                    {
                      name,
                      type: 'SOA',
                      ttl: spec.soa.ttl,
                      records: [{ content: spec.soa.content, disabled: false }],
                    },
                  ]
                : []),
              ...(spec.rrsets ?? []).map(patchEntry),
            ],
          },
          { params: { rrsets: false }, ...write },
        ),
      );
      // With default-api-rectify=no the creation itself is not rectified: the
      // apex gets its order name here, once.
      if (spec.dnssec) await call(() => http.put(`/zones/${zoneId(name)}/rectify`, undefined, write));
    },
    async deleteZone(zone) {
      await call(() => http.delete(`/zones/${zoneId(zone)}`, write));
    },
    patchZone: (zone, changes) => patchZoneEntries(zone, changes.map(patchEntry)),
    patchZoneEntries,
    async listRrsets(zone, filter) {
      const params = filter
        ? { rrset_name: canonicalName(filter.name), ...(filter.type ? { rrset_type: filter.type } : {}) }
        : {};
      const body = await call(() =>
        http.get<{ rrsets: { name: string; type: string; ttl: number; records: { content: string }[] }[] }>(
          `/zones/${zoneId(zone)}`,
          { params },
        ),
      );
      return body.rrsets
        .filter((r) => !filter || r.name === canonicalName(filter.name))
        .map((r) => ({ name: r.name, type: r.type, ttl: r.ttl, records: r.records.map((x) => x.content) }));
    },
    async exportRecords(zone, onRecord, { between } = {}) {
      // Headers come once PowerDNS has built the whole export: allow it longer than a call.
      const stream = await call(() =>
        http.get<Readable>(`/zones/${zoneId(zone)}/export`, {
          responseType: 'stream',
          timeout: options.exportTimeoutMs ?? 600_000,
          headers: { Accept: 'text/plain' },
        }),
      );
      // Read it whole as raw bytes first (about 50 bytes a record: 50 MB at a million),
      // parsing only afterwards: with a million lines parsed on the way, on a busy
      // machine, PowerDNS 4.7 cut the connection mid-body ("aborted", test/bench/million.ts);
      // reading the bytes alone keeps the connection short.
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of stream) chunks.push(chunk as Buffer);
      } catch (error) {
        throw describe(error);
      }
      let partial = '';
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i] as Buffer;
        // Each part is let go once parsed: the body is not held twice over, as bytes and as lines.
        chunks[i] = EMPTY;
        const lines = (partial + chunk.toString('latin1')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const record = parseExportLine(line);
          if (record) onRecord(record);
        }
        await between?.();
      }
      const last = parseExportLine(partial);
      if (last) onRecord(last);
    },
    async notify(zone) {
      await call(() => http.put(`/zones/${zoneId(zone)}/notify`));
    },
    async setZoneKind(zone, kind, masters) {
      await call(() => http.put(`/zones/${zoneId(zone)}`, { kind, ...(masters ? { masters } : {}) }));
    },
    async setMetadata(zone, kind, values) {
      await call(() => http.put(`/zones/${zoneId(zone)}/metadata/${kind}`, { kind, metadata: values }));
    },
    async zoneInfo(zone) {
      const info = await call(() =>
        http.get<{ kind: string; serial: number; dnssec?: boolean }>(`/zones/${zoneId(zone)}`, {
          params: { rrsets: false },
        }),
      );
      return { kind: info.kind, serial: info.serial, dnssec: info.dnssec === true };
    },
    async secureZone(zone) {
      // One PUT: PowerDNS makes the key, sets NSEC3PARAM and, API-RECTIFY being
      // part of it, rectifies the zone (pdns ws-auth.cc updateDomainSettings).
      await call(() =>
        http.put(
          `/zones/${zoneId(zone)}`,
          { dnssec: true, nsec3param: NSEC3_PARAMETERS, api_rectify: true },
          write,
        ),
      );
      await call(() => http.put(`/zones/${zoneId(zone)}/rectify`, undefined, write));
    },
    async cryptoKeys(zone) {
      const keys = await call(() =>
        http.get<{ id: number; keytype: string; active: boolean; dnskey: string; ds?: string[] }[]>(
          `/zones/${zoneId(zone)}/cryptokeys`,
        ),
      );
      return keys.map((key) => ({
        id: key.id,
        keytype: key.keytype,
        active: key.active,
        dnskey: key.dnskey,
        ds: key.ds ?? [],
      }));
    },
  };
}
