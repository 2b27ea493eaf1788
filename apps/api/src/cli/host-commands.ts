import { randomBytes } from 'node:crypto';
import { createDnsOutboxStore, createHostsRepository, type Database } from '@mydns/db';
import { fqdn } from '@mydns/domain';
import { errorMessage, type Logger } from '@mydns/runtime';
import { createBcryptPool } from '../auth/bcrypt-pool.ts';
import type { Config } from '../config.ts';
import type { HostView } from '../hosts/hosts-service.ts';
import { pushPendingChanges } from '../hosts/zones-service.ts';
import { createHostServices } from '../services.ts';
import { flag, option, UsageError } from './args.ts';
import { withDatabase, withPowerDns } from './resources.ts';

/**
 * `host …` commands. They change Postgres only: every DNS change is queued in
 * the outbox, and the running service's zone writers push it within seconds
 * (or at its next start), so the CLI needs no PowerDNS. The exception is a
 * host in a zone no longer served (README "Several zones"): no writer serves
 * it, so `host delete` removes its records from PowerDNS itself.
 */

/** Never waits: the change stays queued for the running service's zone writer. */
const QUEUE_ONLY = { push: async () => false, wake: () => undefined };

/** 18 random bytes: 24 URL-safe characters, well past the password policy's minimum. */
function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function printTable(hosts: HostView[]): void {
  printRows([
    ['HOSTNAME', 'IPV4', 'IPV6', 'STATUS', 'LAST SEEN'],
    ...hosts.map((h) => [h.hostname, h.ipv4 ?? '-', h.ipv6 ?? '-', h.status, h.lastSeenAt ?? 'never']),
  ]);
}

/** Columns padded to their widest cell. */
export function printRows(rows: readonly (readonly string[])[]): void {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  for (const row of rows)
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}

/** Pushes what is pending for a zone no longer served; says what happened, in words. */
async function pushRetired(config: Config, logger: Logger, db: Database, zone: string): Promise<string> {
  try {
    const done = await withPowerDns(config, logger, (dns) =>
      pushPendingChanges(zone, { store: createDnsOutboxStore(db), dns, ttl: config.recordTtl, logger }),
    );
    return done === 'pushed' ? `its records left ${zone}` : `PowerDNS has no zone ${zone}`;
  } catch (error) {
    return `PowerDNS did not take the change (${errorMessage(error)}); MyDNS pushes it at its next start`;
  }
}

/** `args` is what follows `host <command>`. */
export async function runHostCommand(
  command: string | undefined,
  args: string[],
  config: Config,
  logger: Logger,
): Promise<void> {
  const known = ['create', 'password', 'list', 'show', 'disable', 'enable', 'delete', 'release', 'expire'];
  if (command === undefined) throw new UsageError('host needs a command');
  if (!known.includes(command)) throw new UsageError(`unknown host command "${command}"`);
  // Options first, so a mistake in the command line is told before any database work.
  const fromStdin = ['create', 'password'].includes(command) && flag(args, '--password-stdin');
  const email = command === 'create' ? option(args, '--email') : undefined;
  const dryRun = command === 'expire' && flag(args, '--dry-run');
  const [name, ...extra] = args;
  if (command === 'list' && args.length > 0) throw new UsageError('host list takes no arguments');
  if (command === 'expire' && args.length > 0) throw new UsageError('host expire takes only --dry-run');
  if (!['list', 'expire'].includes(command) && (!name || extra.length > 0))
    throw new UsageError(`host ${command} takes one name`);
  const target = name ?? '';

  await withDatabase(config, logger, { mayCreate: false }, async (db) => {
    const bcrypt = createBcryptPool(1);
    try {
      // Hosts of a zone no longer served can still be shown, disabled or deleted here.
      const retiredZones = (await createHostsRepository(db).zones())
        .map((zone) => zone.zone)
        .filter((zone) => !config.zones.includes(zone));
      const { hosts, records, maintenance } = createHostServices(config, {
        db,
        logger,
        bcrypt,
        zoneWriters: QUEUE_ONLY,
        retiredZones,
      });
      switch (command) {
        case 'create': {
          const generated = fromStdin ? undefined : generatePassword();
          const password = generated ?? (await readStdin());
          const host = await hosts.register({ hostname: target, password, email }, { bypassClosed: true });
          console.log(`created ${host.hostname}`);
          if (generated) console.log(`password: ${generated}  (shown once; store it now)`);
          return;
        }
        case 'password': {
          const host = await hosts.get(target);
          const generated = fromStdin ? undefined : generatePassword();
          await hosts.changePassword(host, generated ?? (await readStdin()));
          console.log(`new password set for ${fqdn(host.name, host.zone)}; its web sessions are ended`);
          if (generated) console.log(`password: ${generated}  (shown once; store it now)`);
          return;
        }
        case 'list':
          printTable(await hosts.list());
          return;
        case 'show': {
          const host = await hosts.get(target);
          // The owner's records as GET /api/v1/hosts/{name}/records lists them; the wildcard is in the view.
          const shown = { ...hosts.view(host), records: await records.list(host) };
          console.log(JSON.stringify(shown, null, 2));
          return;
        }
        case 'disable':
        case 'enable': {
          const host = await hosts.get(target);
          await hosts.setStatus(fqdn(host.name, host.zone), command === 'disable' ? 'disabled' : 'active');
          console.log(
            `${command}d ${fqdn(host.name, host.zone)}; DNS follows within seconds while MyDNS runs`,
          );
          return;
        }
        case 'delete': {
          const host = await hosts.get(target);
          await hosts.remove(host, { byOperator: true });
          if (config.zones.includes(host.zone)) {
            console.log(
              `deleted ${fqdn(host.name, host.zone)}; its records leave DNS within seconds while MyDNS runs`,
            );
          } else {
            // No writer serves a retired zone: remove the records from PowerDNS now.
            console.log(
              `deleted ${fqdn(host.name, host.zone)}; ${await pushRetired(config, logger, db, host.zone)}`,
            );
          }
          console.log(
            host.status === 'disabled'
              ? 'the name stays unavailable (it was disabled); `host release` frees it'
              : `the name can be registered again in ${config.nameQuarantineDays} days (\`host release\` frees it now)`,
          );
          return;
        }
        case 'release': {
          const released = target.toLowerCase().replace(/\.$/, '');
          const full = released.includes('.') ? released : fqdn(released, config.zone);
          console.log(
            (await hosts.releaseName(released))
              ? `${full} can be registered again`
              : `${full} was not held back`,
          );
          return;
        }
        case 'expire': {
          const names = await maintenance.expireInactive({ dryRun });
          const verb = dryRun ? 'would go dormant' : 'went dormant';
          console.log(
            `${names.length} hosts ${verb} (no update for ${config.lifecycle.inactivityDays} days)`,
          );
          for (const expired of names) console.log(expired);
          return;
        }
      }
    } finally {
      await bcrypt.close();
    }
  });
}
