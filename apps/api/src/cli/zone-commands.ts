import { createDnsOutboxStore, createHostsRepository } from '@mydns/db';
import { errorMessage, type Logger } from '@mydns/runtime';
import type { Config } from '../config.ts';
import { createZonesService, pushPendingChanges } from '../hosts/zones-service.ts';
import { setUpZone } from '../services.ts';
import { UsageError } from './args.ts';
import { runDnssecCommand } from './dnssec-commands.ts';
import { printRows } from './host-commands.ts';
import { withDatabase, withPowerDns } from './resources.ts';

/**
 * `zone …` commands (README "Several zones"): `list` shows every zone, served
 * or only in the database; `move` takes every host of a zone into another
 * served zone and pushes both sides to PowerDNS itself: nothing else may (the
 * start refuses while hosts sit in a zone it does not serve, and no writer
 * serves a retired zone). When PowerDNS cannot be reached, the changes stay
 * queued and the next start pushes them.
 */

/** `args` is what follows `zone <command>`. */
export async function runZoneCommand(
  command: string | undefined,
  args: string[],
  config: Config,
  logger: Logger,
): Promise<void> {
  if (command === undefined) throw new UsageError('zone needs a command');
  if (command === 'ds' || command === 'secure') return runDnssecCommand(command, args, config, logger);
  if (command === 'list' && args.length > 0) throw new UsageError('zone list takes no arguments');
  if (command === 'move' && args.length !== 2) throw new UsageError('zone move takes two zones: <from> <to>');
  if (command !== 'list' && command !== 'move') throw new UsageError(`unknown zone command "${command}"`);

  await withDatabase(config, logger, { mayCreate: false }, async (db) => {
    const zones = createZonesService({ zones: config.zones, hosts: createHostsRepository(db) });
    if (command === 'list') {
      const rows = (await zones.list()).map((zone) => [
        zone.zone,
        String(zone.hosts),
        zone.isDefault ? 'default' : zone.configured ? 'served' : 'not configured',
      ]);
      printRows([['ZONE', 'HOSTS', 'STATE'], ...rows]);
      return;
    }
    const [from = '', to = ''] = args.map((zone) => zone.toLowerCase().replace(/\.$/, ''));
    const result = await zones.move(from, to);
    if (!result.ok) throw new Error(result.problem);
    console.log(`moved ${result.moved.length} hosts from ${from} to ${to}`);
    if (result.moved.length === 0) return;
    try {
      await withPowerDns(config, logger, async (dns) => {
        const deps = { store: createDnsOutboxStore(db), dns, ttl: config.recordTtl, logger };
        await setUpZone(config, dns, to, logger);
        const left = await pushPendingChanges(from, deps);
        await pushPendingChanges(to, deps);
        console.log(
          left === 'pushed'
            ? `their records left ${from} and are in ${to}`
            : `their records are in ${to} (PowerDNS has no zone ${from})`,
        );
      });
    } catch (error) {
      console.log(
        `PowerDNS did not take the changes (${errorMessage(error)}); MyDNS pushes them at its next start`,
      );
    }
  });
}
