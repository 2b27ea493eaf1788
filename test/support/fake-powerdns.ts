import {
  canonicalName,
  type PowerDnsClient,
  PowerDnsError,
  patchEntry,
  type Rrset,
  type ZoneSpec,
} from '@mydns/powerdns';

/**
 * An in-memory PowerDNS behind the PowerDnsClient interface, for fast tests
 * of the zone writer and the reconciler. It keeps what the real one does and
 * those services rely on (docs/architecture.md): a PATCH is all-or-nothing and applied
 * in order, REPLACE with no records deletes, a CNAME beside other data is
 * refused with 422. The test can take it down, refuse names, or hold PATCHes
 * in flight, and sees every PATCH that was tried and when.
 */

type Entry = ReturnType<typeof patchEntry>;

export interface PatchAttempt {
  readonly at: number;
  readonly zone: string;
  readonly entries: readonly Entry[];
  readonly outcome: 'applied' | 'down' | 'refused';
}

export interface FakePowerDns {
  readonly client: PowerDnsClient;
  /** Every PATCH tried, in order, with the clock's time it came at. */
  readonly patches: PatchAttempt[];
  /** How many NOTIFYs were asked for. */
  notifies(): number;
  /** Every call answers "no answer (ECONNREFUSED)" until up(). */
  down(): void;
  up(): void;
  /** A PATCH that touches a name `refuses` picks is answered 422 and changes nothing. */
  refuse(refuses: (name: string) => boolean): void;
  /** PATCHes wait (in flight) until the returned function is called. */
  hold(): () => void;
  /** The zone's rrsets as `name type ttl record…`, sorted; SOA left out unless asked. */
  zone(zone: string, options?: { withSoa?: boolean }): string[];
  /** Puts rrsets into a zone directly (an operator's record, a stray left by a bug). */
  seed(zone: string, rrsets: readonly Rrset[]): void;
}

const key = (name: string, type: string) => `${name}\u0000${type}`;
const unreachable = () => new PowerDnsError('PowerDNS API: no answer (ECONNREFUSED)', undefined);

export function createFakePowerDns(options: { clock?: { now(): number } } = {}): FakePowerDns {
  const now = () => options.clock?.now() ?? Date.now();
  const zones = new Map<string, Map<string, Rrset>>();
  const patches: PatchAttempt[] = [];
  let isDown = false;
  let refuses: (name: string) => boolean = () => false;
  let gate: Promise<void> | undefined;
  let notifyCount = 0;

  const zoneOf = (zone: string) => {
    const rrsets = zones.get(canonicalName(zone));
    if (!rrsets) throw new PowerDnsError(`PowerDNS API: HTTP 404: Could not find domain '${zone}'`, 404);
    return rrsets;
  };
  const reachable = () => {
    if (isDown) throw unreachable();
  };
  /** Applies the entries in order to a copy; the zone changes only if every one is taken. */
  const apply = (rrsets: Map<string, Rrset>, entries: readonly Entry[]): Map<string, Rrset> | string => {
    const next = new Map(rrsets);
    for (const entry of entries) {
      if (refuses(entry.name)) return `${entry.name} is refused by this test`;
      if (entry.records.length === 0) {
        next.delete(key(entry.name, entry.type));
        continue;
      }
      const others = [...next.values()].filter((r) => r.name === entry.name && r.type !== entry.type);
      if (others.some((r) => r.type === 'CNAME') || (entry.type === 'CNAME' && others.length > 0))
        return `RRset ${entry.name} IN ${entry.type}: Conflicts with pre-existing RRset`;
      next.set(key(entry.name, entry.type), {
        name: entry.name,
        type: entry.type,
        ttl: entry.ttl,
        records: entry.records.map((record) => record.content),
      });
    }
    return next;
  };

  const patchZoneEntries = async (zone: string, entries: readonly Entry[]) => {
    if (entries.length === 0) return;
    const at = now();
    if (gate) await gate;
    const attempt = (outcome: PatchAttempt['outcome']) => patches.push({ at, zone, entries, outcome });
    if (isDown) {
      attempt('down');
      throw unreachable();
    }
    const name = canonicalName(zone);
    const result = apply(zoneOf(zone), entries);
    if (typeof result === 'string') {
      attempt('refused');
      throw new PowerDnsError(`PowerDNS API: HTTP 422: ${result}`, 422);
    }
    attempt('applied');
    zones.set(name, result);
  };

  const client: PowerDnsClient = {
    apiUrl: 'http://powerdns.invalid',
    async serverInfo() {
      reachable();
      return { version: 'fake' };
    },
    async zoneExists(zone) {
      reachable();
      return zones.has(canonicalName(zone));
    },
    async createZone(spec: ZoneSpec) {
      reachable();
      const name = canonicalName(spec.name);
      if (zones.has(name)) throw new PowerDnsError('PowerDNS API: HTTP 409: Conflict', 409);
      const rrsets = new Map<string, Rrset>();
      if (spec.soa)
        rrsets.set(key(name, 'SOA'), { name, type: 'SOA', ttl: spec.soa.ttl, records: [spec.soa.content] });
      if (spec.nameservers.length > 0)
        rrsets.set(key(name, 'NS'), {
          name,
          type: 'NS',
          ttl: 3600,
          records: spec.nameservers.map(canonicalName),
        });
      zones.set(name, rrsets);
      await patchZoneEntries(name, (spec.rrsets ?? []).map(patchEntry));
    },
    async deleteZone(zone) {
      reachable();
      zoneOf(zone);
      zones.delete(canonicalName(zone));
    },
    patchZone: (zone, changes) => patchZoneEntries(zone, changes.map(patchEntry)),
    patchZoneEntries,
    async listRrsets(zone, filter) {
      reachable();
      return [...zoneOf(zone).values()].filter(
        (r) => !filter || (r.name === canonicalName(filter.name) && (!filter.type || r.type === filter.type)),
      );
    },
    async exportRecords(zone, onRecord) {
      reachable();
      for (const rrset of zoneOf(zone).values())
        for (const content of rrset.records)
          onRecord({ name: rrset.name, type: rrset.type, ttl: rrset.ttl, content });
    },
    async notify(zone) {
      reachable();
      zoneOf(zone);
      notifyCount++;
    },
    async setZoneKind() {
      reachable();
    },
    async setMetadata() {
      reachable();
    },
    async zoneInfo(zone) {
      reachable();
      zoneOf(zone);
      return {
        kind: 'Native',
        serial: patches.filter((p) => p.outcome === 'applied').length + 1,
        dnssec: false,
      };
    },
    async secureZone(zone) {
      reachable();
      zoneOf(zone);
    },
    async cryptoKeys(zone) {
      reachable();
      zoneOf(zone);
      return [];
    },
  };

  return {
    client,
    patches,
    notifies: () => notifyCount,
    down() {
      isDown = true;
    },
    up() {
      isDown = false;
    },
    refuse(next) {
      refuses = next;
    },
    hold() {
      let open: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        open = resolve;
      });
      gate = held;
      return () => {
        if (gate === held) gate = undefined;
        open();
      };
    },
    zone(zone, { withSoa = false } = {}) {
      return [...zoneOf(zone).values()]
        .filter((r) => withSoa || r.type !== 'SOA')
        .map((r) => [r.name, r.type, r.ttl, ...[...r.records].sort()].join(' '))
        .sort();
    },
    seed(zone, rrsets) {
      const name = canonicalName(zone);
      const current = zones.get(name) ?? new Map<string, Rrset>();
      for (const rrset of rrsets) {
        const owner = canonicalName(rrset.name);
        current.set(key(owner, rrset.type), { ...rrset, name: owner });
      }
      zones.set(name, current);
    },
  };
}
