import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type ManagedPowerDns, startManagedPowerDns } from '@mydns/powerdns';
import { createLogger } from '@mydns/runtime';
import { harness } from './harness.ts';
import type { PowerDnsTarget } from './mydns.ts';
import { freePort } from './ports.ts';

/**
 * A PowerDNS of a test file's own, for tests that stop and restart it. It
 * keeps its folder, key and ports across restarts, as a real server would.
 */
export interface PrivatePowerDns extends PowerDnsTarget {
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops it, throws its whole database away and starts it empty. */
  wipe(): Promise<void>;
  /** Stops it for good and removes its folder. */
  remove(): Promise<void>;
}

export async function startPrivatePowerDns(
  options: { extraConfig?: readonly string[] } = {},
): Promise<PrivatePowerDns> {
  const dir = mkdtempSync(join(harness().workDir, 'pdns-'));
  const dnsPort = await freePort();
  const apiPort = await freePort();
  const logger = createLogger({ level: 'error', format: 'pretty', silent: !process.env.TEST_LOG });
  const extraConfig = options.extraConfig ?? [];
  let server: ManagedPowerDns | undefined = await startManagedPowerDns({
    dir,
    dnsPort,
    apiPort,
    logger,
    extraConfig,
  });
  const first = server;
  return {
    apiUrl: first.apiUrl,
    apiKey: first.apiKey,
    dnsPort,
    async stop() {
      await server?.stop();
      server = undefined;
    },
    async restart() {
      await server?.stop();
      server = await startManagedPowerDns({ dir, dnsPort, apiPort, logger, extraConfig });
    },
    async wipe() {
      await server?.stop();
      rmSync(join(dir, 'pdns.sqlite3'), { force: true });
      server = await startManagedPowerDns({ dir, dnsPort, apiPort, logger, extraConfig });
    },
    async remove() {
      await server?.stop();
      server = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
