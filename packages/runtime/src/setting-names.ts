/**
 * Mistyped setting names. A zod schema drops keys it does not know, so
 * `MYDNS_HTTP_PROT=9000` would start on the default port without a word: these
 * find such names, and the known name that was most likely meant. Pure: the
 * apps pass the names they know and print what comes back.
 */

/** The prefix of every MyDNS setting: any other name under it is a mistake. */
export const SETTING_PREFIX = 'MYDNS_';

/**
 * Edits between `a` and `b`, counting an insertion, a deletion, a substitution
 * or a swap of two neighbours as one (the optimal string alignment distance):
 * `PROT` → `PORT` is one slip of the fingers, not two.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[] = new Array(rows * columns).fill(0);
  const at = (i: number, j: number) => d[i * columns + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * columns] = i;
  for (let j = 0; j < columns; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * columns + j] = best;
    }
  }
  return at(a.length, b.length);
}

/** How far a name may be from a known one and still be taken for a typo of it. */
function tolerance(name: string): number {
  return Math.max(2, Math.floor(name.length / 4));
}

/**
 * The known name closest to `name`, if it is near enough to be what was meant.
 * A name under the prefix is also compared without it, so `MYDNS_LOG_LEVEL`
 * finds `LOG_LEVEL`. Ties go to the alphabetically first, so the answer is stable.
 */
export function closestSettingName(name: string, known: readonly string[]): string | undefined {
  const forms = name.startsWith(SETTING_PREFIX) ? [name, name.slice(SETTING_PREFIX.length)] : [name];
  let best: { name: string; distance: number } | undefined;
  for (const candidate of [...known].sort()) {
    const distance = Math.min(...forms.map((form) => editDistance(form, candidate)));
    if (distance <= tolerance(name) && (best === undefined || distance < best.distance)) {
      best = { name: candidate, distance };
    }
  }
  return best?.name;
}

export interface UnknownSetting {
  readonly name: string;
  /** The known name it is probably a typo of. */
  readonly suggestion: string | undefined;
}

export interface UnknownSettingOptions {
  /** Every name the apps read, with or without the prefix. */
  readonly known: readonly string[];
  /** Names under the prefix that belong to someone else (the test harness's `MYDNS_TEST_`). */
  readonly ignorePrefixes?: readonly string[];
}

/**
 * The names in `env` that look like settings but are none: every unknown
 * name under the prefix, and other names only when they are one or two edits
 * from a known name without the prefix (`DATABSE_URL`). The rest of the
 * environment (PATH, HOME, …) is nobody's typo and stays out of it. Sorted by name.
 */
export function findUnknownSettings(
  env: Record<string, string | undefined>,
  options: UnknownSettingOptions,
): UnknownSetting[] {
  const known = new Set(options.known);
  const unprefixed = options.known.filter((name) => !name.startsWith(SETTING_PREFIX));
  const ignored = options.ignorePrefixes ?? [];
  const found: UnknownSetting[] = [];
  for (const name of Object.keys(env).sort()) {
    if (known.has(name) || env[name] === undefined) continue;
    if (name.startsWith(SETTING_PREFIX)) {
      if (ignored.some((prefix) => name.startsWith(prefix))) continue;
      found.push({ name, suggestion: closestSettingName(name, options.known) });
      continue;
    }
    const near = unprefixed.find((candidate) => {
      const distance = editDistance(name, candidate);
      return distance <= 2 && distance * 3 < candidate.length;
    });
    if (near !== undefined) found.push({ name, suggestion: closestSettingName(name, unprefixed) ?? near });
  }
  return found;
}

/** One line for the log: `MYDNS_HTTP_PROT is not a MyDNS setting; did you mean MYDNS_HTTP_PORT?` */
export function describeUnknownSetting(setting: UnknownSetting): string {
  return setting.suggestion === undefined
    ? `${setting.name} is not a MyDNS setting and is ignored (README.md, "Settings", lists them all)`
    : `${setting.name} is not a MyDNS setting; did you mean ${setting.suggestion}?`;
}
