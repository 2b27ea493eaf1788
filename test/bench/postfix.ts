/**
 * A Postfix instance of the benchmark's own (README, "Benchmarks", figure 4):
 * the peer an operator would put on port 25 instead of MyDNS's relay, set up
 * for the same job. Debian's Postfix (`/usr/sbin/postfix`), with its own
 * config_directory, queue_directory and data_directory in the benchmark's
 * work folder, listening on one loopback port; never the system instance
 * (`postfix -c DIR` names this instance in every command).
 *
 * The job: accept mail for the home server's domain only (`relay_domains`,
 * `reject_unauth_destination`, an empty `mynetworks`: no open relay) and
 * send it to the home server's port (`transport_maps`). Everything else is
 * Postfix's default, as an operator would start: a durable queue (each
 * message fsynced before the 250), `in_flow_delay`, the default destination
 * concurrency, connection caching towards the home server on demand.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireProgram, runProgram, type StartedProgram, startProgram } from '../support/programs.ts';
import { waitForPort } from '../support/smtp.ts';

export interface PostfixRelay {
  readonly port: number;
  /** Where Postfix logs (maillog_file): for a failed run's message. */
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface PostfixRelayOptions {
  /** A folder of its own (0755 up to /, so that the `postfix` user reaches the queue). */
  readonly dir: string;
  readonly port: number;
  /** The domain relayed, e.g. `alice.bench-smtp.test`. */
  readonly domain: string;
  /** The home server: `domain` goes to 127.0.0.1 on this port. */
  readonly homePort: number;
  /** Extra main.cf lines (a variant of the benchmark). */
  readonly extra?: Readonly<Record<string, string>>;
}

/** The system's master.cf, with smtpd on our loopback port instead of port 25 and no chroot. */
function masterCf(port: number): string {
  const system = readFileSync('/etc/postfix/master.cf', 'utf8');
  const lines: string[] = [];
  for (const line of system.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    // Only the one SMTP listener; the submission, smtps and postscreen examples stay off.
    if (/^smtp\s+inet\s/.test(line)) {
      lines.push(`127.0.0.1:${port} inet n - n - - smtpd`);
      continue;
    }
    // chroot (the 5th column) needs a copy of /etc inside the queue folder: off.
    lines.push(line.replace(/^(\S+\s+\S+\s+\S+\s+\S+\s+)y(\s)/, '$1n$2'));
  }
  return `${lines.join('\n')}\n`;
}

function postfixId(name: string): number {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const entry = passwd.split('\n').find((line) => line.startsWith(`${name}:`));
  const id = Number(entry?.split(':')[2]);
  if (!Number.isInteger(id))
    throw new Error(`no "${name}" user: apt-get install --no-install-recommends postfix`);
  return id;
}

export async function startPostfixRelay(options: PostfixRelayOptions): Promise<PostfixRelay> {
  const postfix = requireProgram('postfix', 'postfix');
  const { dir, port } = options;
  const config = join(dir, 'conf');
  const queue = join(dir, 'queue');
  const data = join(dir, 'data');
  const logFile = join(dir, 'maillog');
  for (const folder of [config, queue, data]) {
    mkdirSync(folder, { recursive: true });
    chmodSync(folder, 0o755);
  }
  const uid = postfixId('postfix');
  chownSync(data, uid, -1);
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: queue,
    data_directory: data,
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    myhostname: 'postfix.bench.test',
    mydestination: '',
    // No client is trusted to relay: only mail for relay_domains gets in, as through MyDNS.
    mynetworks: '',
    relay_domains: options.domain,
    smtpd_relay_restrictions: 'reject_unauth_destination',
    transport_maps: `inline:{ ${options.domain}=smtp:[127.0.0.1]:${options.homePort} }`,
    // smtp-sink offers no STARTTLS, and MyDNS's relay meets it in plaintext too.
    smtp_tls_security_level: 'none',
    smtpd_tls_security_level: 'none',
    // A log file of its own (no syslog here), under a prefix Postfix accepts.
    maillog_file_prefixes: dir,
    maillog_file: logFile,
    ...options.extra,
  };
  writeFileSync(
    join(config, 'main.cf'),
    `${Object.entries(settings)
      .map(([key, value]) => `${key} = ${value}`)
      .join('\n')}\n`,
  );
  writeFileSync(join(config, 'master.cf'), masterCf(port));
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', MAIL_CONFIG: config };
  const check = await runProgram(postfix, ['-c', config, 'check'], { env, timeoutMs: 30_000 });
  if (check.code !== 0) throw new Error(`postfix check failed:\n${check.output}\n${safeRead(logFile)}`);
  // start-fg keeps the master process a child of ours, stopped by PID whatever happens.
  const master: StartedProgram = startProgram(postfix, ['-c', config, 'start-fg'], { env });
  const stop = async () => {
    if (master.hasExited()) return;
    await runProgram(postfix, ['-c', config, 'stop'], { env, timeoutMs: 30_000 }).catch(() => undefined);
    await master.stop({ timeoutMs: 10_000 });
  };
  try {
    await waitForPort(port, { timeoutMs: 30_000, program: master });
  } catch (error) {
    await stop();
    throw new Error(`Postfix did not start: ${(error as Error).message}\n${safeRead(logFile)}`);
  }
  return { port, logFile, stop };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-4000);
  } catch {
    return '';
  }
}
