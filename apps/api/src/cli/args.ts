/**
 * The operator CLI's command line: its usage text, help, and the few option
 * shapes it takes. No I/O.
 */

export const USAGE = `usage: npm run cli -- <command>
  A <name> is a bare label (the default zone, the first of MYDNS_ZONES) or a full name, alice.<zone>.
  host create <name> [--password-stdin] [--email <address>]
                         register a host; without --password-stdin a password is generated and printed once
  host password <name> [--password-stdin]
                         set a new password (generated and printed once without --password-stdin);
                         ends the host's web sessions
  host list              all hosts with their addresses and status
  host show <name>       one host as JSON
  host disable <name>    answer its updates with abuse and withdraw its records
  host enable <name>     undo disable
  host delete <name>     remove the host and its records; the name is held back for
                         MYDNS_NAME_QUARANTINE_DAYS (for good when the host was disabled)
  host release <name>    let a deleted name be registered again now
  host expire [--dry-run]
                         hosts without a successful update for MYDNS_INACTIVITY_DAYS go dormant
  zone list              every zone: its hosts, and whether it is served (zones no longer in MYDNS_ZONES too)
  zone move <from> <to>  move every host of <from> into <to> (one of MYDNS_ZONES); their records leave
                         <from> and appear in <to>; refused when a label exists in both
  zone ds [<zone>]       the DS (and DNSKEY) records the parent zone publishes for a signed zone
                         (every served zone when none is given)
  zone secure <zone>     sign a zone that PowerDNS holds unsigned (NSEC3), then print its DS
  reconcile [--dry-run]  make PowerDNS equal to Postgres in every zone, printing every difference found
  migrate                apply pending database migrations (the only command that creates the database)
  help                   this text (also --help or -h after any command)`;

/** A command line the CLI cannot run: the message, then the usage, and exit status 2. */
export class UsageError extends Error {}

/** `help`, `host help`, or `--help` / `-h` anywhere: the usage on stdout, exit status 0. */
export function wantsHelp(args: readonly string[]): boolean {
  if (args[0] === 'help' || ((args[0] === 'host' || args[0] === 'zone') && args[1] === 'help')) return true;
  return args.some((arg) => arg === '--help' || arg === '-h');
}

/** Takes `name <value>` out of `args`. */
export function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at === -1) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
  args.splice(at, 2);
  return value;
}

/** Takes `name` out of `args`; whether it was there. */
export function flag(args: string[], name: string): boolean {
  const at = args.indexOf(name);
  if (at !== -1) args.splice(at, 1);
  return at !== -1;
}
