import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isProcessAlive, readCommandLine } from '@mydns/runtime';

/**
 * The managed PowerDNS another process (`npm start`) runs on this folder,
 * found through the files startManagedPowerDns writes there: `pdns_server.pid`,
 * `api-key` and `pdns.conf`. The operator CLI uses it to work beside the
 * running service instead of starting a second pdns_server on the same ports.
 */
export interface RunningManagedPowerDns {
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly pid: number;
}

function readText(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * Undefined when none runs there: no PID file, its process gone, or the PID
 * reused by something that is not this folder's pdns_server.
 */
export function findRunningManagedPowerDns(options: {
  /** The folder given to startManagedPowerDns (`<MYDNS_DATA_DIR>/pdns`). */
  dir: string;
  /** The API port to use when pdns.conf does not say (it always does once written). */
  apiPort: number;
}): RunningManagedPowerDns | undefined {
  const dir = resolve(options.dir);
  const pid = Number(readText(join(dir, 'pdns_server.pid'))?.trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return undefined;
  const command = readCommandLine(pid);
  if (
    command &&
    !(command.some((part) => part.endsWith('pdns_server')) && command.includes(`--config-dir=${dir}`))
  )
    return undefined;
  const apiKey = readText(join(dir, 'api-key'))?.trim();
  if (!apiKey) return undefined;
  // The port it really listens on, even when this process's settings say another.
  const port = /^webserver-port=(\d+)\s*$/m.exec(readText(join(dir, 'pdns.conf')) ?? '')?.[1];
  return { apiUrl: `http://127.0.0.1:${port ?? options.apiPort}`, apiKey, pid };
}
