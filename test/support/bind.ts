import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness } from './harness.ts';
import { freePort } from './ports.ts';
import { requireProgram, startProgram } from './programs.ts';
import { waitFor } from './wait.ts';

/**
 * BIND 9 (Debian's `named`) as an AXFR secondary of one zone, on a loopback
 * port of its own: what an operator runs as a third-party or public
 * secondary. It counts the NOTIFYs it receives (from its log) and is stopped
 * by PID.
 */
export interface BindSecondary {
  readonly dnsPort: number;
  /** named's PID (its CPU time, for a benchmark). */
  readonly pid: number;
  /** NOTIFYs received for the zone so far. */
  notifies(): number;
  /** Zone transfers it has finished so far. */
  transfers(): number;
  /** The bytes of those transfers, as its "Transfer completed" lines report them. */
  transferredBytes(): number;
  output(): string;
  stop(): Promise<void>;
}

export async function startBindSecondary(options: {
  zone: string;
  primaryPort: number;
  /** Its DNS port (default: a free one), when the primary must be told it first. */
  dnsPort?: number;
  /** Where its work folder goes (default: the test run's; a benchmark has its own). */
  workDir?: string;
}): Promise<BindSecondary> {
  const named = requireProgram('named', 'bind9');
  const dir = mkdtempSync(join(options.workDir ?? harness().workDir, 'bind-'));
  const dnsPort = options.dnsPort ?? (await freePort());
  const config = join(dir, 'named.conf');
  writeFileSync(
    config,
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${dnsPort} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
zone "${options.zone}" {
  type secondary;
  primaries { 127.0.0.1 port ${options.primaryPort}; };
  file "${options.zone}.db";
};
`,
  );
  let notifies = 0;
  let transfers = 0;
  let transferredBytes = 0;
  const quoted = `'${options.zone}/IN'`;
  // -g: foreground, every log line on stderr (the logging statement is ignored); -n 1: one worker.
  const program = startProgram(named, ['-g', '-4', '-n', '1', '-c', config], {
    onLine: (line) => {
      if (line.includes(`received notify for zone '${options.zone}'`)) notifies++;
      if (line.includes(`transfer of ${quoted}`) && line.includes('Transfer completed')) {
        transfers++;
        // "Transfer completed: 1 messages, 6 records, 200 bytes, 0.001 secs (…)"
        transferredBytes += Number(/ (\d+) bytes,/.exec(line)?.[1] ?? 0);
      }
    },
  });
  try {
    await waitFor(() => program.output().includes('running'), {
      timeoutMs: 20_000,
      message: () => `named to start:\n${program.output()}`,
      giveUp: () => (program.hasExited() ? `it exited:\n${program.output()}` : undefined),
    });
  } catch (error) {
    await program.stop({ signal: 'SIGKILL' });
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dnsPort,
    pid: program.pid,
    notifies: () => notifies,
    transfers: () => transfers,
    transferredBytes: () => transferredBytes,
    output: () => program.output(),
    async stop() {
      await program.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
