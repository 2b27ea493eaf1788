/**
 * What the ACME client tests need besides a running MyDNS (which run the real
 * programs through programs.ts): a PATH that records every argv the hooks
 * pass to the programs they call, a throw-away TLS certificate, and a Pebble
 * (the ACME test server) that validates DNS-01 against the test PowerDNS.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { requireProgram, runProgram, startProgram } from './programs.ts';
import { waitFor } from './wait.ts';

/** The environment without proxies (everything here is 127.0.0.1), plus `extra`. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /proxy/i.test(key) || key.startsWith('MYDNS_') || key.startsWith('CERTBOT_'))
      continue;
    env[key] = value;
  }
  return { ...env, LC_ALL: 'C', LANG: 'C', ...extra };
}

/**
 * A folder of wrappers, to put first on PATH: each of `names` writes its argv
 * (NUL-separated) to a file of its own under `dir/argv` and then runs the real
 * program. `calls()` reads them back, so a test can show that a secret was
 * never on any command line.
 */
export function argvRecorder(
  dir: string,
  names: { name: string; debianPackage: string }[],
): { dir: string; calls(): string[][] } {
  const logDir = join(dir, 'argv');
  mkdirSync(logDir, { recursive: true });
  for (const { name, debianPackage } of names) {
    const real = requireProgram(name, debianPackage);
    const wrapper = join(dir, name);
    writeFileSync(
      wrapper,
      // $$ is unique among running processes: calls in one pipeline do not mix.
      ['#!/bin/sh', `printf '%s\\0' "$0" "$@" > '${logDir}/'$$`, `exec '${real}' "$@"`, ''].join('\n'),
    );
    chmodSync(wrapper, 0o755);
  }
  return {
    dir,
    calls: () =>
      readdirSync(logDir).map((file) => {
        const argv = readFileSync(join(logDir, file), 'utf8').split('\0');
        argv.pop();
        return argv;
      }),
  };
}

/**
 * A throw-away CA and a certificate for 127.0.0.1 and localhost signed by it
 * (Pebble serves its ACME API over HTTPS only; the Debian package ships no
 * test certificate). Made with openssl; node:crypto cannot issue certificates.
 */
export async function makeTlsCertificate(
  dir: string,
  timeoutMs: number,
): Promise<{ ca: string; cert: string; key: string }> {
  const openssl = requireProgram('openssl', 'openssl');
  const env = cleanEnv({ HOME: dir });
  const files = {
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
    csr: join(dir, 'cert.csr'),
    ext: join(dir, 'cert.ext'),
  };
  writeFileSync(
    files.ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const steps: string[][] = [
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      files.caKey,
      '-out',
      files.ca,
      '-days',
      '2',
      '-subj',
      '/CN=MyDNS test CA for Pebble',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    ['req', ...ec, '-keyout', files.key, '-out', files.csr, '-subj', '/CN=127.0.0.1'],
    [
      'x509',
      '-req',
      '-in',
      files.csr,
      '-CA',
      files.ca,
      '-CAkey',
      files.caKey,
      '-CAcreateserial',
      '-out',
      files.cert,
      '-days',
      '2',
      '-extfile',
      files.ext,
    ],
  ];
  for (const args of steps) {
    const result = await runProgram(openssl, args, { cwd: dir, env, timeoutMs });
    assert.equal(result.code, 0, result.output);
  }
  return { ca: files.ca, cert: files.cert, key: files.key };
}

export interface RunningPebble {
  /** The ACME directory URL. */
  readonly directory: string;
  /** The CA file that verifies Pebble's HTTPS (for REQUESTS_CA_BUNDLE). */
  readonly caFile: string;
  /** What Pebble printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Pebble on free 127.0.0.1 ports, resolving DNS-01 names at `dnsServer`
 * (`127.0.0.1:<port>`), without its artificial sleeps and without rejecting
 * good nonces. Stopped by PID (its process group); killed if it does not
 * stop within a few seconds.
 */
export async function startPebble(options: {
  dir: string;
  dnsServer: string;
  timeoutMs: number;
}): Promise<RunningPebble> {
  const pebble = requireProgram('pebble', 'pebble');
  const tls = await makeTlsCertificate(options.dir, options.timeoutMs);
  const [listen, management, httpPort, tlsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const config = join(options.dir, 'pebble-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: tls.cert,
        privateKey: tls.key,
        // Ports Pebble would use for HTTP-01 and TLS-ALPN-01; it listens on neither.
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child = startProgram(pebble, ['-config', config, '-dnsserver', options.dnsServer], {
    cwd: options.dir,
    env: cleanEnv({
      HOME: options.dir,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      // A fresh authorization for every identifier, so each run really validates.
      PEBBLE_AUTHZREUSE: '0',
    }),
  });
  const stop = async () => {
    await child.stop({ timeoutMs: 5000 });
  };
  const directory = `https://127.0.0.1:${listen}/dir`;
  const ca = readFileSync(tls.ca);
  try {
    await waitFor(() => answers(directory, ca), {
      timeoutMs: options.timeoutMs,
      message: () => `pebble to answer at ${directory}\n${child.output()}`,
      giveUp: () => (child.hasExited() ? 'pebble exited at start' : undefined),
    });
  } catch (error) {
    await stop();
    throw error;
  }
  assert.ok(existsSync(tls.ca));
  return { directory, caFile: tls.ca, output: child.output, stop };
}

/** True when `url` answers 200 over HTTPS verified with `ca`. */
function answers(url: string, ca: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
