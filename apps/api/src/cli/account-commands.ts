import { randomBytes } from 'node:crypto';
import type { Logger } from '@mydns/runtime';
import { createBcryptPool } from '../auth/bcrypt-pool.ts';
import type { Config } from '../config.ts';
import { createHostServices } from '../services.ts';
import { flag, UsageError } from './args.ts';
import { withDatabase } from './resources.ts';

/**
 * `account …` commands (README "Accounts"). Like `host …`, they change
 * Postgres only. `reset-password` prints the link instead of mailing it: the
 * operator hands it over by a channel they trust (no mail is needed, which is
 * the point when none is configured); it is valid for an hour, once.
 */

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

/** `args` is what follows `account <command>`. */
export async function runAccountCommand(
  command: string | undefined,
  args: string[],
  config: Config,
  logger: Logger,
): Promise<void> {
  const known = ['create', 'show', 'reset-password'];
  if (command === undefined) throw new UsageError('account needs a command');
  if (!known.includes(command)) throw new UsageError(`unknown account command "${command}"`);
  const fromStdin = command === 'create' && flag(args, '--password-stdin');
  const [email, ...extra] = args;
  if (!email || extra.length > 0) throw new UsageError(`account ${command} takes one e-mail address`);

  await withDatabase(config, logger, { mayCreate: false }, async (db) => {
    const bcrypt = createBcryptPool(1);
    try {
      const { accounts } = createHostServices(config, {
        db,
        logger,
        bcrypt,
        zoneWriters: { push: async () => false, wake: () => undefined },
      });
      switch (command) {
        case 'create': {
          const generated = fromStdin ? undefined : generatePassword();
          const account = await accounts.register({ email, password: generated ?? (await readStdin()) });
          // Made by the operator: the address is taken as proven.
          await accounts.markVerified(account);
          console.log(`created the account ${account.email}`);
          if (generated) console.log(`password: ${generated}  (shown once; store it now)`);
          return;
        }
        case 'show': {
          const account = await accounts.get(email);
          const view = await accounts.view(account);
          console.log(
            JSON.stringify(
              {
                ...view,
                hosts: view.hosts.map((host) => ({ hostname: host.hostname, status: host.status })),
              },
              null,
              2,
            ),
          );
          return;
        }
        default: {
          const account = await accounts.get(email);
          console.log(await accounts.resetLink(account));
          console.log('valid for one hour, once; it ends every session of the account when used');
        }
      }
    } finally {
      await bcrypt.close();
    }
  });
}
