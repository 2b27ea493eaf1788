import { randomBytes } from 'node:crypto';
import { fqdn } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import { createBcryptPool } from '../auth/bcrypt-pool.ts';
import type { Config } from '../config.ts';
import type { HostView } from '../hosts/hosts-service.ts';
import { createHostServices } from '../services.ts';
import { flag, option, UsageError } from './args.ts';
import { withDatabase } from './resources.ts';

/**
 * `host …` commands. They change Postgres only: every DNS change is queued in
 * the outbox, and the running service's zone writer pushes it within seconds
 * (or at its next start), so the CLI needs no PowerDNS.
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
  const rows = [
    ['HOSTNAME', 'IPV4', 'IPV6', 'STATUS', 'LAST SEEN'],
    ...hosts.map((h) => [h.hostname, h.ipv4 ?? '-', h.ipv6 ?? '-', h.status, h.lastSeenAt ?? 'never']),
  ];
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
      const { hosts, maintenance } = createHostServices(config, {
        db,
        logger,
        bcrypt,
        zoneWriter: QUEUE_ONLY,
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
          console.log(`new password set for ${fqdn(host.name, config.zone)}; its web sessions are ended`);
          if (generated) console.log(`password: ${generated}  (shown once; store it now)`);
          return;
        }
        case 'list':
          printTable(await hosts.list());
          return;
        case 'show':
          console.log(JSON.stringify(hosts.view(await hosts.get(target)), null, 2));
          return;
        case 'disable':
        case 'enable': {
          const host = await hosts.get(target);
          await hosts.setStatus(host.name, command === 'disable' ? 'disabled' : 'active');
          console.log(
            `${command}d ${fqdn(host.name, config.zone)}; DNS follows within seconds while MyDNS runs`,
          );
          return;
        }
        case 'delete': {
          const host = await hosts.get(target);
          await hosts.remove(host, { byOperator: true });
          console.log(
            `deleted ${fqdn(host.name, config.zone)}; its records leave DNS within seconds while MyDNS runs`,
          );
          console.log(
            host.status === 'disabled'
              ? 'the name stays unavailable (it was disabled); `host release` frees it'
              : `the name can be registered again in ${config.nameQuarantineDays} days (\`host release\` frees it now)`,
          );
          return;
        }
        case 'release': {
          const released = target.toLowerCase();
          const label = released.endsWith(`.${config.zone}`)
            ? released.slice(0, -config.zone.length - 1)
            : released;
          console.log(
            (await hosts.releaseName(label))
              ? `${fqdn(label, config.zone)} can be registered again`
              : `${fqdn(label, config.zone)} was not held back`,
          );
          return;
        }
        case 'expire': {
          const names = await maintenance.expireInactive({ dryRun });
          const verb = dryRun ? 'would go dormant' : 'went dormant';
          console.log(
            `${names.length} hosts ${verb} (no update for ${config.lifecycle.inactivityDays} days)`,
          );
          for (const expired of names) console.log(fqdn(expired, config.zone));
          return;
        }
      }
    } finally {
      await bcrypt.close();
    }
  });
}
