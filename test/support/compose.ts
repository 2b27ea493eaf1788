import { copyFileSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { runProgram } from './programs.ts';

/**
 * docker-compose.yml as Docker would run it, for the test that runs its
 * services natively: docker-compose 1.29 resolves the file (interpolation,
 * env_file, paths) and prints it as YAML, which python3-yaml (a dependency of
 * Debian's docker-compose) turns into JSON. Docker engines do not run here.
 */

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export interface ComposeService {
  readonly image?: string;
  readonly command?: string | string[];
  readonly environment?: Record<string, string | null>;
  readonly healthcheck?: { readonly test: string | string[] };
  readonly volumes?: (string | { readonly source?: string; readonly target: string })[];
  readonly profiles?: string[];
}

export interface ComposeConfig {
  readonly services: Record<string, ComposeService>;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; a missing program or a timeout is a non-zero code, never a throw. */
export async function runCommand(
  file: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string },
): Promise<CommandResult> {
  try {
    const result = await runProgram(file, args, {
      env: options.env,
      cwd: options.cwd ?? REPO_ROOT,
      timeoutMs: options.timeoutMs ?? 60_000,
      ...(options.input === undefined ? {} : { input: options.input }),
    });
    const code = result.code ?? 1;
    const stderr = result.stderr || (code === 0 ? '' : `${file} exited with ${result.code ?? result.signal}`);
    return { code, stdout: result.stdout, stderr };
  } catch (error) {
    return { code: 1, stdout: '', stderr: (error as Error).message };
  }
}

/**
 * `.env.example` with some values replaced, as an operator's `.env` would be.
 * Every key must already be in the file: the example documents them all.
 */
export function dotEnvFromExample(values: Record<string, string>): string {
  let text = readFileSync(join(REPO_ROOT, '.env.example'), 'utf8');
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`^${key}=.*$`, 'm');
    if (!line.test(text)) throw new Error(`.env.example has no ${key}= line`);
    text = text.replace(line, `${key}=${value}`);
  }
  return text;
}

/**
 * The resolved compose configuration, every profile included, with `dotEnv`
 * as the project's `.env`. It runs on a copy in a folder of its own whose
 * mounted folders link back to the checkout, so a developer's own `.env`
 * never takes part, and neither does this process's environment.
 */
export async function loadComposeConfig(dotEnv: string, workDir: string): Promise<ComposeConfig> {
  const project = mkdtempSync(join(workDir, 'compose-project-'));
  copyFileSync(join(REPO_ROOT, 'docker-compose.yml'), join(project, 'docker-compose.yml'));
  writeFileSync(join(project, '.env'), dotEnv);
  for (const entry of ['pdns', 'deploy']) symlinkSync(join(REPO_ROOT, entry), join(project, entry));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const args = ['--project-directory', project, '--file', join(project, 'docker-compose.yml')];
  const config = await runCommand('docker-compose', [...args, '--profile', 'https', 'config'], { env });
  if (config.code !== 0) {
    throw new Error(
      `docker-compose config failed (install it: apt-get install --no-install-recommends docker-compose):\n${config.stderr}`,
    );
  }
  const json = await runCommand(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { env, input: config.stdout },
  );
  if (json.code !== 0) throw new Error(`reading the compose YAML needs python3-yaml:\n${json.stderr}`);
  return unescapeDollars(JSON.parse(json.stdout)) as ComposeConfig;
}

/** `config` prints a literal `$` as `$$` (so that its output is a compose file again); containers get `$`. */
function unescapeDollars(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('$$', '$');
  if (Array.isArray(value)) return value.map(unescapeDollars);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, unescapeDollars(inner)]));
  }
  return value;
}

export function service(config: ComposeConfig, name: string): ComposeService {
  const found = config.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

type Argv = [string, ...string[]];

function argv(list: string[], what: string): Argv {
  const [file, ...args] = list;
  if (!file) throw new Error(`${what} is empty`);
  return [file, ...args];
}

/** The service's command as an argv list (the compose file writes each as a list). */
export function commandOf(svc: ComposeService): Argv {
  if (!Array.isArray(svc.command))
    throw new Error(`expected a list command, got ${JSON.stringify(svc.command)}`);
  return argv(svc.command, 'the command');
}

/** The service's health check as an argv list: CMD runs directly, CMD-SHELL through sh -c. */
export function healthcheckOf(svc: ComposeService): Argv {
  const test = svc.healthcheck?.test;
  if (!Array.isArray(test)) throw new Error(`expected a list health check, got ${JSON.stringify(test)}`);
  const [kind, ...rest] = test;
  if (kind === 'CMD') return argv(rest, 'the health check');
  if (kind === 'CMD-SHELL' && rest.length === 1) return ['sh', '-c', rest[0] ?? ''];
  throw new Error(`unexpected health check ${JSON.stringify(test)}`);
}

/** The environment compose gives the service, without unset entries. */
export function environmentOf(svc: ComposeService): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(svc.environment ?? {})) if (value !== null) env[key] = value;
  return env;
}

/** The real path of the file or folder the service mounts at `target`. */
export function mountSource(svc: ComposeService, target: string): string {
  for (const volume of svc.volumes ?? []) {
    if (typeof volume === 'string') {
      const [source, mountedAt] = volume.split(':');
      if (mountedAt === target && source?.startsWith('/')) return realpathSync(source);
    } else if (volume.target === target && volume.source?.startsWith('/')) {
      return realpathSync(volume.source);
    }
  }
  throw new Error(`the service mounts nothing from the checkout at ${target}`);
}

/**
 * Runs a psql script of plain statements (no meta-commands) through
 * node-postgres, with psql's variable interpolation: `:'name'` becomes a
 * quoted literal and `:"name"` a quoted identifier. One statement at a time,
 * as psql sends them (CREATE DATABASE cannot share a query with others).
 */
export async function runPsqlScript(
  client: pg.Client,
  script: string,
  variables: Record<string, string>,
): Promise<void> {
  const value = (name: string): string => {
    const found = variables[name];
    if (found === undefined) throw new Error(`the script uses :${name}, which is not given`);
    return found;
  };
  const text = script
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .replace(/:'(\w+)'/g, (_, name: string) => client.escapeLiteral(value(name)))
    .replace(/:"(\w+)"/g, (_, name: string) => client.escapeIdentifier(value(name)));
  for (const statement of text.split(/;\s*$/m)) {
    if (statement.trim() !== '') await client.query(statement);
  }
}

/** `key=value` lines of a PowerDNS configuration (pdns.conf or `pdns_control current-config`, where defaults are commented out). */
export function parsePdnsSettings(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(?:# )?([a-z0-9-]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined) settings.set(match[1], (match[2] ?? '').trim());
  }
  return settings;
}

/**
 * Caddy's JSON for the Caddyfile (from `caddy adapt`), changed only where a
 * native run must differ from the container: listen addresses and ports,
 * upstream addresses, the admin endpoint, the storage folder, and no attempt
 * to install Caddy's local CA into this machine's trust store. Each
 * replacement must be used at least once, so the test notices a changed
 * Caddyfile.
 */
export function nativeCaddyConfig(
  adapted: unknown,
  options: {
    replacements: Record<string, string>;
    httpPort: number;
    httpsPort: number;
    adminPort: number;
    storageDir: string;
  },
): Record<string, unknown> {
  const used = new Set<string>();
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, walk(inner)]));
    }
    if (typeof value === 'string' && Object.hasOwn(options.replacements, value)) {
      used.add(value);
      return options.replacements[value];
    }
    return value;
  };
  const config = walk(adapted) as { apps?: { http?: Record<string, unknown> } };
  const unused = Object.keys(options.replacements).filter((key) => !used.has(key));
  if (unused.length > 0) throw new Error(`the adapted Caddyfile has no ${unused.join(', ')}`);
  const http = config.apps?.http;
  if (!http) throw new Error('the adapted Caddyfile has no http app');
  http.http_port = options.httpPort;
  http.https_port = options.httpsPort;
  return {
    ...config,
    admin: { listen: `127.0.0.1:${options.adminPort}` },
    storage: { module: 'file_system', root: options.storageDir },
    apps: {
      ...config.apps,
      pki: { certificate_authorities: { local: { install_trust: false } } },
    },
  };
}
