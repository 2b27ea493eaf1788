import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The path of a program the tests run for real (ddclient, inadyn, swaks,
 * certbot …), looked up on PATH and in the sbin folders. A missing one is a
 * failure naming the Debian package to install, never a skip.
 */
export function requireProgram(name: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} is not installed: these tests run the real program. Install it: apt-get install --no-install-recommends ${debianPackage}`,
  );
}
