import { existsSync, readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { type IpAddress, isValidHostname, normaliseName, parseIpAddress } from '@mydns/domain';
import { z } from 'zod';
import { StartupError } from './errors.ts';

/**
 * Reads a `.env` file (KEY=value lines, `#` comments, optional quotes) into an
 * object. Values already in the environment win, as with every dotenv tool.
 */
export function readDotEnv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const values: Record<string, string> = {};
  for (const rawLine of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match?.[1]) continue;
    let value = match[2] ?? '';
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    values[match[1]] = value;
  }
  return values;
}

/** The environment a process sees: `.env` in `cwd` under the real environment. */
export function loadEnvironment(cwd = process.cwd()): Record<string, string | undefined> {
  return { ...readDotEnv(`${cwd}/.env`), ...process.env };
}

/**
 * Parses settings with a zod schema and reports every problem at once, one
 * line per variable (docs/interfaces.md, "Settings": a bad value stops the process at start
 * with one line per problem, naming the variable).
 */
export function parseSettings<T extends z.ZodType>(
  schema: T,
  env: Record<string, string | undefined>,
  /**
   * Checks across several variables, run on the raw values whatever the schema
   * found (zod skips refinements once a field fails): `[variable, message]`.
   */
  crossChecks: (env: Record<string, string | undefined>) => [string, string][] = () => [],
): z.output<T> {
  const result = schema.safeParse(env);
  const fieldProblems = result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.') || '(settings)'}: ${issue.message}`);
  const lines = [...fieldProblems, ...crossChecks(env).map(([name, message]) => `${name}: ${message}`)];
  if (result.success && lines.length === 0) return result.data;
  throw new StartupError(`invalid settings:\n${lines.join('\n')}`);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `10m`, `1h`, `2d` → milliseconds. A bare number is seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*([0-9]+)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match?.[1]) return undefined;
  return Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1000);
}

export interface RateLimit {
  readonly count: number;
  readonly windowMs: number;
}

/** `30/10m` → 30 events per 10 minutes. */
export function parseRateLimit(text: string): RateLimit | undefined {
  const [countText, windowText, extra] = text.split('/');
  if (countText === undefined || windowText === undefined || extra !== undefined) return undefined;
  if (!/^\s*[0-9]+\s*$/.test(countText) || windowText.trim() === '') return undefined;
  const count = Number(countText);
  const windowMs = parseDuration(/^\s*[0-9]/.test(windowText) ? windowText : `1${windowText}`);
  if (windowMs === undefined || windowMs === 0 || count === 0) return undefined;
  return { count, windowMs };
}

export const zRateLimit = z.string().transform((text, ctx) => {
  const limit = parseRateLimit(text);
  if (!limit) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a rate like 30/10m (count/window)` });
    return z.NEVER;
  }
  return limit;
});

export const zDuration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration like 500ms, 30s, 10m, 1h` });
    return z.NEVER;
  }
  return ms;
});

export const zBoolean = z.string().transform((text, ctx) => {
  const value = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false;
  ctx.addIssue({ code: 'custom', message: `"${text}" is not true or false` });
  return z.NEVER;
});

export const zPort = z.coerce
  .number({ message: 'must be a port number' })
  .int('must be a port number')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');

/** Comma-separated list; empty items dropped. */
export const zList = z.string().transform((text) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== ''),
);

/** A zone name: at least two labels, lower-cased, without the trailing dot. */
export const zZone = z
  .string()
  .transform((value) => normaliseName(value))
  .refine(
    (zone) => isValidHostname(zone) && zone.includes('.'),
    'must be a DNS name with at least two labels',
  );

export const zHostname = z
  .string()
  .transform((value) => normaliseName(value))
  .refine((name) => isValidHostname(name), 'must be a host name');

/** Comma-separated IP addresses (no prefix lengths), parsed and canonical. */
export const zAddressList = zList.transform((items, ctx) => {
  const addresses: IpAddress[] = [];
  for (const item of items) {
    const address = parseIpAddress(item);
    if (address && !item.includes('/')) addresses.push(address);
    else ctx.addIssue({ code: 'custom', message: `"${item}" is not an IP address` });
  }
  return addresses;
});

/**
 * The environment child processes inherit (Postgres, pdns_server). Settings are
 * read only through `loadEnvironment` and a schema; this is the one other place
 * that touches process.env, so the lint rule against it holds everywhere else.
 */
export function inheritedEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}

/** The directories of `PATH`, where programs such as pdns_server are looked for. */
export function executableSearchPath(): string[] {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean);
}

/**
 * Comma-separated zones (MYDNS_ZONES), each as `zZone` takes it; at least one,
 * none twice. Empty (`MYDNS_ZONES=` in a .env) is the same as unset.
 */
export const zZoneList = z.string().transform((text, ctx): string[] | undefined => {
  if (text.trim() === '') return undefined;
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const zones: string[] = [];
  for (const item of items) {
    const zone = normaliseName(item);
    if (!isValidHostname(zone) || !zone.includes('.'))
      ctx.addIssue({ code: 'custom', message: `"${item}" is not a DNS name with at least two labels` });
    else if (zones.includes(zone)) ctx.addIssue({ code: 'custom', message: `${zone} is listed twice` });
    else zones.push(zone);
  }
  if (items.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one zone' });
  return zones;
});

/**
 * MYDNS_ZONE and MYDNS_ZONES together (README "Several zones"): both may
 * be set only when MYDNS_ZONE is the first of MYDNS_ZONES (the default zone);
 * anything else would leave it unclear which zone bare labels mean.
 */
export function zoneSettingsProblems(env: Record<string, string | undefined>): [string, string][] {
  const single = env.MYDNS_ZONE?.trim();
  const list = env.MYDNS_ZONES?.trim();
  if (!single || !list) return [];
  const first = normaliseName(list.split(',')[0] ?? '');
  if (normaliseName(single) === first) return [];
  return [
    [
      'MYDNS_ZONES',
      `its first zone (${first}) is the default zone, but MYDNS_ZONE says ${normaliseName(single)}: set only MYDNS_ZONES, or make MYDNS_ZONE its first zone`,
    ],
  ];
}
