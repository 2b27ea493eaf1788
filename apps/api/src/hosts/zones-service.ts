import type { createDnsOutboxStore, HostsRepository, ZoneHosts } from '@mydns/db';
import { createZoneWriter, type PowerDnsClient } from '@mydns/powerdns';
import { type Logger, StartupError } from '@mydns/runtime';

/**
 * The zones (README "Several zones"): those the settings serve and those the
 * database still holds hosts in. A zone dropped from MYDNS_ZONES is never
 * deleted behind the operator's back: the start refuses while hosts are in
 * it (`refuseStrandedHosts`), and the CLI moves them (`move`) or deletes them.
 */

export interface ZoneView {
  readonly zone: string;
  readonly hosts: number;
  /** In MYDNS_ZONES; the default zone is the first of them. */
  readonly configured: boolean;
  readonly isDefault: boolean;
}

export type MoveResult =
  | { readonly ok: true; readonly moved: readonly string[] }
  | { readonly ok: false; readonly problem: string };

export interface ZonesService {
  /** The configured zones in their order, then the zones only the database knows. */
  list(): Promise<ZoneView[]>;
  /** Zones with hosts that the settings no longer serve. */
  stranded(): Promise<ZoneHosts[]>;
  /** Every host of `from` into `to` (a configured zone), their DNS changes queued for both. */
  move(from: string, to: string): Promise<MoveResult>;
}

export function createZonesService(deps: {
  zones: readonly string[];
  hosts: Pick<HostsRepository, 'zones' | 'moveZone'>;
}): ZonesService {
  const configured = new Set(deps.zones);
  return {
    async list() {
      const counts = new Map((await deps.hosts.zones()).map((zone) => [zone.zone, zone.hosts]));
      const known = [...deps.zones, ...[...counts.keys()].filter((zone) => !configured.has(zone))];
      return known.map((zone) => ({
        zone,
        hosts: counts.get(zone) ?? 0,
        configured: configured.has(zone),
        isDefault: zone === deps.zones[0],
      }));
    },
    async stranded() {
      return (await deps.hosts.zones()).filter((zone) => !configured.has(zone.zone));
    },
    async move(from, to) {
      if (from === to) return { ok: false, problem: 'the two zones are the same' };
      if (!configured.has(to)) {
        return {
          ok: false,
          problem: `${to} is not one of MYDNS_ZONES (${deps.zones.join(', ')}): hosts can only move into a zone that is served`,
        };
      }
      const result = await deps.hosts.moveZone(from, to);
      if (result.clashes.length > 0) {
        const shown = result.clashes.slice(0, 10).join(', ');
        const more = result.clashes.length > 10 ? `, and ${result.clashes.length - 10} more` : '';
        return {
          ok: false,
          problem: `nothing moved: these labels exist in both zones: ${shown}${more}; delete or rename one of each first`,
        };
      }
      return { ok: true, moved: result.moved };
    },
  };
}

const countOf = (count: number) => `${count} host${count === 1 ? '' : 's'}`;

/**
 * Refuses the start while hosts sit in zones the settings no longer serve
 * (they would stay in DNS, stale, with nothing to update them): one line per
 * zone, with the commands that move or delete them.
 */
export async function refuseStrandedHosts(zones: ZonesService, defaultZone: string): Promise<void> {
  const stranded = await zones.stranded();
  if (stranded.length === 0) return;
  const lines = stranded.map((zone) => {
    const names = zone.sample.join(', ') + (zone.hosts > zone.sample.length ? ', …' : '');
    return `${zone.zone}: ${countOf(zone.hosts)} (${names}); move them with \`npm run cli -- zone move ${zone.zone} ${defaultZone}\`, or delete each with \`npm run cli -- host delete <name>.${zone.zone}\``;
  });
  throw new StartupError(
    ['hosts are still in zones that are no longer configured (MYDNS_ZONES):', ...lines].join('\n'),
  );
}

/**
 * Pushes what is pending for `zone` now, with a zone writer of its own (its
 * advisory lock keeps it from colliding with a running service's writer). For
 * a zone PowerDNS does not have, there is nothing to change: the pending rows
 * are dropped. Used for zones no writer serves (a retired zone's removals) and
 * by the CLI after a move.
 */
export async function pushPendingChanges(
  zone: string,
  deps: {
    store: ReturnType<typeof createDnsOutboxStore>;
    dns: PowerDnsClient;
    ttl: number;
    logger: Logger;
  },
): Promise<'pushed' | 'no such zone'> {
  if (!(await deps.dns.zoneExists(zone))) {
    await deps.store.discardPending(zone);
    return 'no such zone';
  }
  const writer = createZoneWriter({
    zone,
    ttl: deps.ttl,
    store: deps.store,
    dns: deps.dns,
    logger: deps.logger,
  });
  try {
    await writer.flush();
  } finally {
    await writer.stop();
  }
  return 'pushed';
}
